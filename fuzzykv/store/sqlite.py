"""Bytes on disk: a store's pairs, their vectors and its settings in one SQLite file (WAL mode).

Every write is a transaction that bumps a sequence number; each pair row carries the sequence of
its last write and each deletion leaves a tombstone with its own, so an open store catches up on
other processes' writes by reading only what changed. ``clear`` bumps the epoch instead, which
tells readers to reload everything.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import (
    NotAStoreError,
    ReadOnlyStoreError,
    StoreClosedError,
    StoreError,
    StorePathError,
    StoreVersionError,
)
from .files import check_header, check_is_ours, create, damaged, translate, uri_for, writable
from .rows import Changes, Rows, as_bytes, check_text, decode
from .schema import FORMAT, SCHEMA_VERSION
from .snapshot import Mark

# SQLite integers are signed 64-bit; a sequence or epoch beyond this is a damaged file.
_INT64_MAX = (1 << 63) - 1
_savepoint_names = itertools.count()


class Store:
    """One connection to a store file. Not thread-safe by itself: its owner serialises calls."""

    def __init__(self, path: Path, connection: sqlite3.Connection, read_only: bool) -> None:
        self.path = path
        self.read_only = read_only
        self._locked = False  # read-only because the file is (not because it was opened so)
        self._db: sqlite3.Connection | None = connection
        self._data_version = -1

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False) -> Store:
        """Open the store at ``path``, creating an empty one only if nothing is there.

        The file's first bytes are checked before SQLite touches it, and another program's SQLite
        database is inspected without locks or side files, so a file that is not a store is left
        byte for byte as it was. ``read_only`` creates no file (no ``-wal``/``-shm``) and works on a
        read-only folder or medium.

        :raises NotAStoreError: the file is not a fuzzykv store (it is left as it was).
        :raises StoreVersionError: the store was written by a newer fuzzykv.
        :raises ReadOnlyStoreError: the file or its folder cannot be written (and not ``read_only``).
        :raises StoreError: a missing folder, a missing store opened ``read_only``, a damaged file.
        """
        if "\0" in str(path):
            raise StorePathError(f"the path {str(path)!r} holds a NUL byte, which no file name can hold; check the path")
        path = Path(path)
        where = str(path)
        if path.is_dir():
            raise NotAStoreError(f"{where!r} is a folder; a store is a single file, for example 'colors.fkv'")
        if not path.parent.is_dir():
            raise StoreError(f"cannot create a store at {where!r}: the folder {str(path.parent)!r} does not exist")
        if not path.exists():
            if read_only:
                raise StoreError(f"no store at {where!r}; opening read-only does not create one: check the path")
            create(path)
        check_header(path)
        check_is_ours(path)
        locked = not read_only and not writable(path)
        # NOTE: a file no one may write, opened to write, is read as read-only: an SQLite writer on it
        # could not remove its -wal/-shm on close. A write then says why it cannot happen.
        uri, immutable = uri_for(path, read_only or locked)
        try:
            connection = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30)
        except sqlite3.Error as error:
            raise translate(error, path) from error
        store = cls(path, connection, read_only or locked)
        store._locked = locked
        try:
            if (read_only or locked) and not immutable:
                store._sql("PRAGMA query_only = ON")  # a writable connection only so it cleans up its side files
            store._prepare()
        except BaseException:
            connection.close()
            raise
        return store

    def _prepare(self) -> None:
        """Check the store's format and version, then configure the connection."""
        meta = self._meta()
        if meta.get("format") != FORMAT:
            raise NotAStoreError(f"{str(self.path)!r} is not a fuzzykv store (its meta table names no fuzzykv format)")
        version = _int_field(meta, "version", self.path)
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"{str(self.path)!r} is a fuzzykv store of format version {version}, newer than this fuzzykv "
                f"reads (version {SCHEMA_VERSION}); upgrade fuzzykv to open it"
            )
        if not self.read_only:
            self._sql("PRAGMA journal_mode = WAL")
            # FULL: a commit is on disk when the call returns, power loss included.
            self._sql("PRAGMA synchronous = FULL")

    def _meta(self) -> dict[str, str]:
        found = self._sql("SELECT name, value FROM fuzzykv_meta")
        if not all(isinstance(name, str) and isinstance(value, str) for name, value in found):
            raise StoreError(f"{str(self.path)!r} holds a meta table that is not text; the store is damaged")
        return dict(found)

    # -- plumbing ----------------------------------------------------------------------------

    def _db_or_raise(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreClosedError(f"the store {str(self.path)!r} is closed; open it again with Database.open")
        return self._db

    def _sql(self, statement: str, parameters: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db_or_raise().execute(statement, parameters).fetchall()
        except sqlite3.Error as error:
            raise translate(error, self.path) from error
        except UnicodeDecodeError as error:  # text that is not UTF-8: garbled bytes
            raise damaged(error, self.path) from error

    def _sql_many(self, statement: str, rows: Sequence[Sequence[object]]) -> None:
        try:
            self._db_or_raise().executemany(statement, rows)
        except sqlite3.Error as error:
            raise translate(error, self.path) from error

    @property
    def in_transaction(self) -> bool:
        """Whether this connection has a transaction open."""
        return self._db is not None and self._db.in_transaction

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction: taken at once (one writer at a time), committed on exit, else rolled back."""
        if self.read_only:
            if self._locked:
                raise ReadOnlyStoreError(
                    f"the store {str(self.path)!r} is a read-only file (mode {self.path.stat().st_mode & 0o777:o}); "
                    "make it writable (chmod u+w) to write, or open it read_only=True to read"
                )
            raise ReadOnlyStoreError(
                f"the store {str(self.path)!r} was opened read-only; open it without read_only to write"
            )
        self._sql("BEGIN IMMEDIATE")
        try:
            yield
            self._sql("COMMIT")
        except BaseException:
            db = self._db
            if db is not None and db.in_transaction:  # SQLite has already rolled back after some errors
                try:
                    db.rollback()
                except sqlite3.Error:
                    pass  # the error being raised says what went wrong; this one follows from it
            raise

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside ``transaction()``: a block whose writes are undone alone if it raises; the transaction goes on."""
        if not self.in_transaction:
            raise StoreError(f"a savepoint of {str(self.path)!r} needs a transaction in progress; use transaction()")
        name = f"fuzzykv_{next(_savepoint_names)}"
        self._sql(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            db = self._db
            if db is not None and db.in_transaction:  # an error may have rolled back the whole transaction
                self._sql(f"ROLLBACK TO {name}")
                self._sql(f"RELEASE {name}")
            raise
        self._sql(f"RELEASE {name}")

    def close(self) -> None:
        """Close the connection; later calls raise. Safe to call twice."""
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- settings ----------------------------------------------------------------------------

    def settings_dict(self) -> dict[str, Any] | None:
        """The settings a store was made with, as saved (a JSON object), or None for a new store."""
        found = self._sql("SELECT value FROM fuzzykv_meta WHERE name = 'settings'")
        if not found:
            return None
        try:
            saved = json.loads(found[0][0])
        except (TypeError, ValueError, RecursionError) as error:
            raise StoreError(
                f"{str(self.path)!r} holds settings that are not JSON ({error}); the store is damaged: "
                "restore it from a backup"
            ) from error
        if not isinstance(saved, dict):
            raise StoreError(f"{str(self.path)!r} holds settings that are not a JSON object; the store is damaged")
        return saved

    def settings_or_save(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Save ``settings`` if the store has none yet, in one write transaction; return the settings
        that won (another process creating the same store at the same moment may have saved first).
        """
        if self.read_only:
            found = self.settings_dict()
            if found is None:
                raise StoreError(f"{str(self.path)!r} has no settings yet; open it once without read_only")
            return found
        with self.transaction():
            found = self.settings_dict()
            if found is not None:
                return found
            text = _settings_json(settings, self.path)
            self._sql("INSERT INTO fuzzykv_meta (name, value) VALUES ('settings', ?)", (text,))
        saved: dict[str, Any] = json.loads(text)  # what a reader will see, JSON's way
        return saved

    # -- reading -----------------------------------------------------------------------------

    def position(self) -> tuple[int, int]:
        """The store's (epoch, seq): ``seq`` counts write transactions and ``epoch`` changes when the
        store is cleared, so a reader knows what to catch up on, or that it must reload.
        """
        meta = dict(self._sql("SELECT name, value FROM fuzzykv_meta WHERE name IN ('epoch', 'seq')"))
        return _int_field(meta, "epoch", self.path), _int_field(meta, "seq", self.path)

    def changed_elsewhere(self) -> bool:
        """Cheap: has another connection committed since this was last asked?"""
        (version,) = self._sql("PRAGMA data_version")[0]
        changed: bool = version != self._data_version
        self._data_version = version
        return changed

    def read_all(self, dim: int) -> tuple[tuple[int, int], Rows]:
        """Every pair, in insertion order, with the position they are current at."""
        with self._snapshot():
            position = self.position()
            rows = self._rows("SELECT rowid, key, value, key_vector, value_vector FROM fuzzykv_pairs", (), dim)
        return position, rows

    def changes_since(self, position: tuple[int, int], dim: int) -> Changes:
        """What was written after ``position``: the pairs set since, the keys deleted since."""
        with self._snapshot():
            now = self.position()
            if now[0] != position[0]:
                rows = self._rows("SELECT rowid, key, value, key_vector, value_vector FROM fuzzykv_pairs", (), dim)
                return Changes(now, True, rows, [])
            # NOTE: no ORDER BY here: with one, SQLite walks the whole table in rowid order instead of
            # using the seq index, which made every write O(pairs). The few rows are sorted below.
            rows = self._rows(
                "SELECT rowid, key, value, key_vector, value_vector FROM fuzzykv_pairs WHERE seq > ?",
                (position[1],),
                dim,
            )
            deleted = [key for (key,) in self._sql("SELECT key FROM fuzzykv_deleted WHERE seq > ?", (position[1],))]
        return Changes(now, False, rows, deleted)

    def pairs_mark(self) -> Mark | None:
        """The store's record of its pairs file (:mod:`fuzzykv.store.snapshot`), if it has a readable one."""
        found = self._sql("SELECT value FROM fuzzykv_meta WHERE name = 'pairs_file'")
        try:
            saved = json.loads(found[0][0]) if found else None
        except (TypeError, ValueError, RecursionError):
            return None  # only a way to open faster: the pairs are read from the store instead
        if not isinstance(saved, dict):
            return None
        token, epoch, seq = saved.get("token"), saved.get("epoch"), saved.get("seq")
        if not isinstance(token, str) or not all(isinstance(n, int) and 0 <= n <= _INT64_MAX for n in (epoch, seq)):
            return None
        assert isinstance(epoch, int) and isinstance(seq, int)
        return Mark(token, epoch, seq)

    def mark_pairs(self, mark: Mark, publish: Callable[[], None]) -> bool:
        """Record ``mark`` and ``publish`` its file in one write transaction, if the store is still
        at the mark's position (else neither, and ``False``). Bumps no sequence: the pairs are unchanged.
        """
        with self.transaction():
            if self.position() != mark.position:
                return False
            publish()
            value = json.dumps({"token": mark.token, "epoch": mark.epoch, "seq": mark.seq}, sort_keys=True)
            self._sql("INSERT OR REPLACE INTO fuzzykv_meta (name, value) VALUES ('pairs_file', ?)", (value,))
        return True

    def changed_since(self, seq: int) -> int:
        """How many pairs were set or deleted by writes after ``seq`` (index lookups, not a scan)."""
        ((count,),) = self._sql(
            "SELECT (SELECT count(*) FROM fuzzykv_pairs WHERE seq > ?) + (SELECT count(*) FROM fuzzykv_deleted WHERE seq > ?)",
            (seq, seq),
        )
        return int(count)

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Reads inside one transaction see one consistent state (inside a write, that one)."""
        if self.in_transaction:
            yield
            return
        self._sql("BEGIN")
        try:
            yield
        finally:
            if self.in_transaction:
                self._sql("COMMIT")

    def _rows(self, statement: str, parameters: Sequence[object], dim: int) -> Rows:
        """Rows selected as (rowid, key, value, key_vector, value_vector), returned in rowid (insertion) order."""
        return decode(self._sql(statement, parameters), dim, self.path)

    # -- writing (inside ``transaction()``) --------------------------------------------------

    def next_seq(self) -> int:
        """Claim the sequence number of the write transaction in progress."""
        epoch, seq = self.position()
        if seq >= _INT64_MAX:
            raise StoreError(f"{str(self.path)!r} has used up its write sequence numbers; the store is damaged")
        self._sql("UPDATE fuzzykv_meta SET value = ? WHERE name = 'seq'", (str(seq + 1),))
        return seq + 1

    def put(self, seq: int, rows: Rows) -> list[int]:
        """Set pairs (new keys at the end, existing ones in place); returns each key's rowid, in order.

        :raises NotTextError: a key or value SQLite cannot store as UTF-8 text (a lone surrogate).
        """
        for text in itertools.chain(rows.keys, rows.values):
            check_text(text)
        self._sql_many(
            "INSERT INTO fuzzykv_pairs (key, value, key_vector, value_vector, seq) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, key_vector = excluded.key_vector, "
            "value_vector = excluded.value_vector, seq = excluded.seq",
            [
                (k, v, as_bytes(kv), as_bytes(vv), seq)
                for k, v, kv, vv in zip(rows.keys, rows.values, rows.key_vectors, rows.value_vectors)
            ],
        )
        self._sql_many("DELETE FROM fuzzykv_deleted WHERE key = ?", [(k,) for k in rows.keys])
        return [self._sql("SELECT rowid FROM fuzzykv_pairs WHERE key = ?", (k,))[0][0] for k in rows.keys]

    def delete(self, seq: int, keys: Sequence[str]) -> None:
        """Delete ``keys`` and leave a tombstone at ``seq`` for each, so that other processes' readers drop them too."""
        for key in keys:
            check_text(key)
        self._sql_many("DELETE FROM fuzzykv_pairs WHERE key = ?", [(k,) for k in keys])
        self._sql_many("INSERT OR REPLACE INTO fuzzykv_deleted (key, seq) VALUES (?, ?)", [(k, seq) for k in keys])

    def clear(self) -> tuple[int, int]:
        """Delete every pair and start a new epoch, which tells readers to reload. Returns the new position."""
        epoch, seq = self.position()
        if epoch >= _INT64_MAX:
            raise StoreError(f"{str(self.path)!r} has used up its epoch numbers; the store is damaged")
        self._sql("DELETE FROM fuzzykv_pairs")
        self._sql("DELETE FROM fuzzykv_deleted")
        self._sql("UPDATE fuzzykv_meta SET value = ? WHERE name = 'epoch'", (str(epoch + 1),))
        return epoch + 1, seq


def _settings_json(settings: dict[str, Any], path: Path) -> str:
    try:
        return json.dumps(settings, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise StoreError(
            f"settings for {str(path)!r} cannot be saved as JSON ({error}); this is a fuzzykv bug"
        ) from error


def _int_field(meta: dict[str, str], name: str, path: Path) -> int:
    """A meta entry that must be a non-negative 64-bit integer; anything else means a damaged file."""
    text = meta.get(name)
    try:
        number = int(text) if isinstance(text, str) and text.isascii() and text.isdigit() else -1
    except ValueError:
        number = -1
    if not 0 <= number <= _INT64_MAX:
        raise StoreError(
            f"{str(path)!r} holds a meta entry {name!r} of {text!r}, not a whole number; the store is damaged: "
            "restore it from a backup"
        )
    return number


