"""A store's pairs in memory, kept in step with its file: writes go to the file first, then to
memory; reads first catch up with what other processes committed.

Thread-safe: one lock serialises writes and the reads that must see whole writes.
"""

from __future__ import annotations

import gc
import os
import secrets
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import StoreClosedError, StoreError
from ..pairs import HeldPairs
from . import snapshot
from .rows import Changes, Rows
from .snapshot import Mark
from .sqlite import Store


class SyncedPairs:
    """The pairs of one store (in memory only when ``store`` is ``None``).

    :param on_touch: told the keys of every write and catch-up (the key index tracks them).
    :param on_reset: told when the pairs are replaced wholesale (a clear or a reload).
    """

    def __init__(self, dim: int, store: Store | None, on_touch: Callable[[Sequence[str]], None],
                 on_reset: Callable[[], None]) -> None:
        self.dim = dim
        self.store = store
        self.pairs = HeldPairs(dim)
        self._on_touch = on_touch
        self._on_reset = on_reset
        self._position = (0, 0)
        self.lock = threading.RLock()
        self._batch_depth = 0
        self._batch_seq = 0
        self.closed = False
        self._file_refused = False  # the store named a pairs file that did not pass its check
        if store is not None:
            self.reload()

    @contextmanager
    def reading(self) -> Iterator[HeldPairs]:
        """Hold the lock, having caught up with what other processes committed."""
        with self.lock:
            self._check_open()
            if self.store is not None and not self._batch_depth:
                self._catch_up()
            yield self.pairs

    def write(self, rows: Rows | None, deleted: Sequence[str]) -> None:
        """Store then apply: memory changes only once the file has the write."""
        with self.lock:
            self._check_open()
            store = self.store
            rowids = None
            if store is not None and self._batch_depth:
                rowids = self._store_rows(self._batch_seq, rows, deleted)
            elif store is not None:
                with store.transaction():
                    self._catch_up()
                    seq = store.next_seq()
                    rowids = self._store_rows(seq, rows, deleted)
                self._position = (self._position[0], seq)
            if rows is not None:
                self.pairs.set_many(rows.keys, rows.values, rows.key_vectors, rows.value_vectors, rowids=rowids)
            self.pairs.delete_many(deleted)
            self._on_touch((rows.keys if rows is not None else []) + list(deleted))

    def clear(self) -> None:
        """Delete every pair, in one transaction."""
        with self.lock:
            self._check_open()
            if self.store is not None and self._batch_depth:
                self._position = self.store.clear()
            elif self.store is not None:
                with self.store.transaction():
                    position = self.store.clear()
                self._position = position
            self._replace(HeldPairs(self.dim))

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group writes into one transaction: all of them are stored, or (on an exception) none.

        A batch inside a batch is part of the outer one: an exception that leaves the inner block
        undoes the inner block's writes only, and the outer block may go on.
        """
        with self.lock:
            self._check_open()
            if self._batch_depth:
                yield from self._inner_batch()
                return
            snapshot = self.pairs.copy() if self.store is None else None
            self._batch_depth = 1
            try:
                if self.store is None:
                    yield
                else:
                    with self.store.transaction():
                        self._catch_up()
                        self._batch_seq = self.store.next_seq()
                        yield
                    self._position = (self._position[0], self._batch_seq)
            except BaseException:
                if snapshot is not None:
                    self._replace(snapshot)
                elif self.store is not None and not self.closed:
                    self.reload()  # memory had the rolled-back writes; the file did not keep them
                raise
            finally:
                self._batch_depth = 0

    def _inner_batch(self) -> Iterator[None]:
        snapshot = self.pairs.copy()
        self._batch_depth += 1
        try:
            if self.store is None:
                yield
            else:
                with self.store.savepoint():
                    yield
        except BaseException:
            self._replace(snapshot)
            raise
        finally:
            self._batch_depth -= 1

    def close(self) -> None:
        """Close the store, first writing its pairs file when a large store's is missing or far behind."""
        with self.lock:
            try:
                if self.store is not None and not self.closed:
                    self._publish_pairs_file()
            finally:
                self.closed = True
                if self.store is not None:
                    self.store.close()

    @property
    def path(self) -> Path | None:
        """The store file, or ``None`` for pairs in memory only."""
        return None if self.store is None else self.store.path

    def reload(self) -> None:
        """Every pair, from the store's pairs file and what was written since when it has a good one, else from the store."""
        assert self.store is not None
        with _no_gc():
            mapped = self._mapped_pairs()
            if mapped is not None:
                self._replace(mapped[1])
                self._position = mapped[0].position
                self._apply(self.store.changes_since(self._position, self.dim))
            else:
                position, rows = self.store.read_all(self.dim)
                self._apply(Changes(position, True, rows, []))
        self.store.changed_elsewhere()  # what was just read is current

    def _mapped_pairs(self) -> tuple[Mark, HeldPairs] | None:
        """The pairs as the store's pairs file holds them, when the store names the file and is still in its epoch."""
        assert self.store is not None
        mark = self.store.pairs_mark()
        if mark is None:
            return None
        epoch, seq = self.store.position()
        if epoch != mark.epoch or seq < mark.seq:
            return None
        matrix = snapshot.load(snapshot.path_for(self.store.path), mark, self.dim)
        self._file_refused = matrix is None
        return None if matrix is None else (mark, matrix)

    def _publish_pairs_file(self) -> None:
        """Write the pairs file of a large store whose file is missing, or behind by more than a tenth of
        its pairs; remove the out-of-date file of a store that has become small.

        Only a cache: when it cannot be written (a full disk, a read-only folder) the store is
        closed all the same and opens by reading its pairs, with a warning saying why.
        """
        store = self.store
        assert store is not None
        final = snapshot.path_for(store.path)
        if store.read_only or self._batch_depth or not (len(self.pairs) >= snapshot.MAPPED_PAIRS or final.exists()):
            return
        try:
            self._catch_up()
            mark = store.pairs_mark()
            if (mark is not None and mark.epoch == self._position[0] and not self._file_refused and final.exists()
                    and store.changed_since(mark.seq) <= len(self.pairs) // 10):
                return  # written by this or another handle, and checked by whoever opens from it
            if len(self.pairs) < snapshot.MAPPED_PAIRS:
                if mark is not None:  # the store shrank (a clear): a file it wrote and will not open from again
                    final.unlink(missing_ok=True)
                return
            new = Mark(secrets.token_hex(16), *self._position)
            staging = snapshot.write(final, new.token, new.position, self.pairs)
            if staging is None:
                return
            try:
                store.mark_pairs(new, lambda: os.replace(staging, final))
            finally:
                staging.unlink(missing_ok=True)
        except (OSError, StoreError) as error:
            warnings.warn(f"the pairs file {str(final)!r} was not written ({error}); the store is closed and whole, "
                          "and opens by reading its pairs", RuntimeWarning, stacklevel=4)

    def _store_rows(self, seq: int, rows: Rows | None, deleted: Sequence[str]) -> list[int] | None:
        """Write to the file; the rowids of the pairs set (their places in the file's order)."""
        assert self.store is not None
        if deleted:
            self.store.delete(seq, deleted)
        return self.store.put(seq, rows) if rows is not None else None

    def _catch_up(self) -> None:
        """Apply what other connections committed since we last looked (nothing to read if none did).

        Inside a write transaction this sees the latest commit: the transaction began by taking
        the write lock, so no one can commit before it ends.
        """
        assert self.store is not None
        if self.store.changed_elsewhere():
            with _no_gc():  # after another process's clear, the changes are the whole store
                self._apply(self.store.changes_since(self._position, self.dim))

    def _apply(self, changes: Changes) -> None:
        rows = changes.rows
        if changes.reload:
            self._replace(HeldPairs(self.dim, capacity=max(16, len(rows.keys))))
        self.pairs.delete_many(changes.deleted)
        self.pairs.set_many(rows.keys, rows.values, rows.key_vectors, rows.value_vectors, rowids=rows.rowids)
        self._on_touch(rows.keys + changes.deleted)
        self._position = changes.position

    def _replace(self, pairs: HeldPairs) -> None:
        self.pairs = pairs
        self._on_reset()

    def _check_open(self) -> None:
        if self.closed:
            where = f" {str(self.store.path)!r}" if self.store is not None else ""
            raise StoreClosedError(f"the store{where} is closed; open it again to use it")


@contextmanager
def _no_gc() -> Iterator[None]:
    """Python's cycle collector paused while a load makes millions of objects that hold no cycles:
    otherwise it walks them again and again (half of a million-pair open).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
