"""A store's pairs in memory, kept in step with its file: writes go to the file first, then to
memory; reads first catch up with what other processes committed.

Thread-safe: one lock serialises writes and the reads that must see whole writes.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .errors import StoreClosedError
from .matrix import PairMatrix
from .store import Changes, Rows, Store


class SyncedPairs:
    """The pairs of one store (in memory only when ``store`` is ``None``).

    :param on_touch: told the keys of every write and catch-up (the key index tracks them).
    :param on_reset: told when the pairs are replaced wholesale (a clear or a reload).
    """

    def __init__(self, dim: int, store: Store | None, on_touch: Callable[[Sequence[str]], None],
                 on_reset: Callable[[], None]) -> None:
        self.dim = dim
        self.store = store
        self.pairs = PairMatrix(dim)
        self._on_touch = on_touch
        self._on_reset = on_reset
        self._position = (0, 0)
        self.lock = threading.RLock()
        self._batch_depth = 0
        self._batch_seq = 0
        self.closed = False
        if store is not None:
            self.reload()

    @contextmanager
    def reading(self) -> Iterator[PairMatrix]:
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
            self._replace(PairMatrix(self.dim))

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
        with self.lock:
            self.closed = True
            if self.store is not None:
                self.store.close()

    @property
    def path(self) -> Path | None:
        return None if self.store is None else self.store.path

    def reload(self) -> None:
        assert self.store is not None
        with _no_gc():
            position, rows = self.store.read_all(self.dim)
            self._apply(Changes(position, True, rows, []))
        self.store.changed_elsewhere()  # what was just read is current

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
            self._replace(PairMatrix(self.dim, capacity=max(16, len(rows.keys))))
        self.pairs.delete_many(changes.deleted)
        self.pairs.set_many(rows.keys, rows.values, rows.key_vectors, rows.value_vectors, rowids=rows.rowids)
        self._on_touch(rows.keys + changes.deleted)
        self._position = changes.position

    def _replace(self, pairs: PairMatrix) -> None:
        self.pairs = pairs
        self._on_reset()

    def _check_open(self) -> None:
        if self.closed:
            where = f" {str(self.store.path)!r}" if self.store is not None else ""
            raise StoreClosedError(f"the store{where} is closed; open it again to use it")


@contextmanager
def _no_gc() -> Iterator[None]:
    """Python's cycle collector paused while a load makes millions of objects that hold no cycles:
    otherwise it walks them again and again (half of a million-pair open)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
