"""Bytes on disk: a store's pairs, their vectors and its settings in one SQLite file (WAL mode).

Every write is a transaction that bumps a sequence number; each pair row carries the sequence of
its last write and each deletion leaves a tombstone with its own, so an open store catches up on
other processes' writes by reading only what changed. ``clear`` bumps the epoch instead, which
tells readers to reload everything.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import (
    NotAStoreError,
    ReadOnlyStoreError,
    StoreClosedError,
    StoreError,
    StoreFullError,
    StoreVersionError,
)

FORMAT = "fuzzykv"
#: The schema below. A store of a higher version is refused, never misread.
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE fuzzykv_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE fuzzykv_pairs (
    key TEXT PRIMARY KEY,          -- rowid order is insertion order
    value TEXT NOT NULL,
    key_vector BLOB NOT NULL,      -- float32 x dim, little-endian
    value_vector BLOB NOT NULL,
    seq INTEGER NOT NULL           -- the write that last set this pair
);
CREATE INDEX fuzzykv_pairs_seq ON fuzzykv_pairs(seq);
CREATE TABLE fuzzykv_deleted (key TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX fuzzykv_deleted_seq ON fuzzykv_deleted(seq);
"""

_VECTOR = np.dtype("<f4")


@dataclass(frozen=True)
class StoreSettings:
    """What shapes a store's answers; kept in the file so a reopened store answers as before."""

    embeddings: str
    fingerprint: str
    dim: int
    similarity: str
    temperature: float
    vocabulary_size: int | None


@dataclass(frozen=True)
class Rows:
    """Pairs read from the file, with their vectors as (n, dim) float32 matrices."""

    keys: list[str]
    values: list[str]
    key_vectors: np.ndarray
    value_vectors: np.ndarray


@dataclass(frozen=True)
class Changes:
    """What other writers did since a position: everything (``reload``) or the pairs set and deleted."""

    position: tuple[int, int]  # (epoch, seq) after these changes
    reload: bool
    rows: Rows
    deleted: list[str]


class Store:
    """One connection to a store file. Not thread-safe by itself: its owner serialises calls."""

    def __init__(self, path: Path, connection: sqlite3.Connection, read_only: bool) -> None:
        self.path = path
        self.read_only = read_only
        self._db: sqlite3.Connection | None = connection
        self._data_version = -1

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False) -> Store:
        """Open the store at ``path``, creating an empty one if the file is missing or empty.

        :raises NotAStoreError: the file is not a fuzzykv store (it is left as it was).
        :raises StoreVersionError: the store was written by a newer fuzzykv.
        """
        path = Path(path)
        if path.is_dir():
            raise NotAStoreError(f"{str(path)!r} is a folder; a store is a single file, for example 'colors.fkv'")
        if read_only and not path.exists():
            raise StoreError(f"no store at {str(path)!r}; opening read-only does not create one: check the path")
        if not path.parent.is_dir():
            raise StoreError(f"cannot create a store at {str(path)!r}: the folder {str(path.parent)!r} does not exist")
        uri = f"{path.resolve().as_uri()}?mode={'ro' if read_only else 'rwc'}"
        try:
            connection = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30)
        except sqlite3.Error as error:
            raise _translate(error, path) from error
        store = cls(path, connection, read_only)
        try:
            store._prepare()
        except BaseException:
            connection.close()
            raise
        return store

    def _prepare(self) -> None:
        """Check what the file is before anything is written to it, then create or configure it."""
        tables = {name for (name,) in self._sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "fuzzykv_meta" not in tables:
            raise NotAStoreError(
                f"{str(self.path)!r} is an SQLite database of another program (tables: {', '.join(sorted(tables))}); "
                "a fuzzykv store needs its own file"
            )
        if tables:
            meta = dict(self._sql("SELECT name, value FROM fuzzykv_meta"))
            if meta.get("format") != FORMAT:
                raise NotAStoreError(f"{str(self.path)!r} is not a fuzzykv store")
            version = int(meta.get("version", "0"))
            if version > SCHEMA_VERSION:
                raise StoreVersionError(
                    f"{str(self.path)!r} is a fuzzykv store of format version {version}, newer than this fuzzykv "
                    f"reads (version {SCHEMA_VERSION}); upgrade fuzzykv to open it"
                )
        elif self.read_only:
            raise NotAStoreError(f"{str(self.path)!r} is empty, not a fuzzykv store; open it without read_only to create one")
        if not self.read_only:
            self._sql("PRAGMA journal_mode = WAL")
        # FULL: a commit is on disk when the call returns, power loss included.
        self._sql("PRAGMA synchronous = FULL")
        if not tables:
            with self.transaction():
                if not self._sql("SELECT name FROM sqlite_master WHERE name = 'fuzzykv_meta'"):  # lost a race?
                    for statement in filter(str.strip, SCHEMA.split(";")):
                        self._sql(statement)
                    self._sql(
                        "INSERT INTO fuzzykv_meta (name, value) VALUES ('format', ?), ('version', ?), ('epoch', '0'), ('seq', '0')",
                        (FORMAT, str(SCHEMA_VERSION)),
                    )

    # -- plumbing ----------------------------------------------------------------------------

    def _db_or_raise(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreClosedError(f"the store {str(self.path)!r} is closed; open it again with Database.open")
        return self._db

    def _sql(self, statement: str, parameters: Sequence[object] = ()) -> list[tuple]:
        try:
            return self._db_or_raise().execute(statement, parameters).fetchall()
        except sqlite3.Error as error:
            raise _translate(error, self.path) from error

    def _sql_many(self, statement: str, rows: Sequence[Sequence[object]]) -> None:
        try:
            self._db_or_raise().executemany(statement, rows)
        except sqlite3.Error as error:
            raise _translate(error, self.path) from error

    @property
    def in_transaction(self) -> bool:
        return self._db is not None and self._db.in_transaction

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction: taken at once (one writer at a time), committed on exit, else rolled back."""
        if self.read_only:
            raise ReadOnlyStoreError(f"the store {str(self.path)!r} was opened read-only; open it without read_only to write")
        self._sql("BEGIN IMMEDIATE")
        try:
            yield
            self._sql("COMMIT")
        except BaseException:
            db = self._db
            if db is not None and db.in_transaction:  # SQLite has already rolled back after some errors
                db.rollback()
            raise

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- settings ----------------------------------------------------------------------------

    def settings(self) -> StoreSettings | None:
        found = self._sql("SELECT value FROM fuzzykv_meta WHERE name = 'settings'")
        return StoreSettings(**json.loads(found[0][0])) if found else None

    def settings_dict(self) -> dict[str, Any] | None:
        """The settings a store was made with, as saved (a JSON object), or None for a new store."""
        found = self._sql("SELECT value FROM fuzzykv_meta WHERE name = 'settings'")
        if not found:
            return None
        try:
            saved = json.loads(found[0][0])
        except (TypeError, ValueError) as error:
            raise StoreError(f"{str(self.path)!r} holds settings that are not JSON ({error}); the store is damaged") from error
        if not isinstance(saved, dict):
            raise StoreError(f"{str(self.path)!r} holds settings that are not a JSON object; the store is damaged")
        return saved

    def settings_or_save(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Save ``settings`` if the store has none yet, in one write transaction; return the settings
        that won (another process creating the same store at the same moment may have saved first)."""
        if self.read_only:
            found = self.settings_dict()
            if found is None:
                raise StoreError(f"{str(self.path)!r} has no settings yet; open it once without read_only")
            return found
        with self.transaction():
            found = self.settings_dict()
            if found is not None:
                return found
            self._sql("INSERT INTO fuzzykv_meta (name, value) VALUES ('settings', ?)", (json.dumps(settings),))
        return settings

    def save_settings(self, settings: StoreSettings) -> None:
        with self.transaction():
            self._sql("INSERT OR REPLACE INTO fuzzykv_meta (name, value) VALUES ('settings', ?)", (json.dumps(asdict(settings)),))

    # -- reading -----------------------------------------------------------------------------

    def position(self) -> tuple[int, int]:
        meta = dict(self._sql("SELECT name, value FROM fuzzykv_meta WHERE name IN ('epoch', 'seq')"))
        return int(meta["epoch"]), int(meta["seq"])

    def changed_elsewhere(self) -> bool:
        """Cheap: has another connection committed since this was last asked?"""
        (version,) = self._sql("PRAGMA data_version")[0]
        changed = version != self._data_version
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
                "SELECT rowid, key, value, key_vector, value_vector FROM fuzzykv_pairs WHERE seq > ?", (position[1],), dim
            )
            deleted = [key for (key,) in self._sql("SELECT key FROM fuzzykv_deleted WHERE seq > ?", (position[1],))]
        return Changes(now, False, rows, deleted)

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
            db = self._db
            if db is not None and db.in_transaction:
                db.commit()

    def _rows(self, statement: str, parameters: Sequence[object], dim: int) -> Rows:
        """Rows selected as (rowid, key, value, key_vector, value_vector), returned in rowid (insertion) order."""
        found = self._sql(statement, parameters)
        found.sort(key=lambda row: row[0])
        width = dim * _VECTOR.itemsize
        if any(len(row[3]) != width or len(row[4]) != width for row in found):
            raise StoreError(f"{str(self.path)!r} holds vectors that are not {dim}-dimensional float32; the store is damaged")
        keys = [row[1] for row in found]
        values = [row[2] for row in found]
        key_vectors = np.frombuffer(b"".join(row[3] for row in found), dtype=_VECTOR).reshape(len(found), dim)
        value_vectors = np.frombuffer(b"".join(row[4] for row in found), dtype=_VECTOR).reshape(len(found), dim)
        return Rows(keys, values, key_vectors.astype(np.float32), value_vectors.astype(np.float32))

    # -- writing (inside ``transaction()``) --------------------------------------------------

    def next_seq(self) -> int:
        """Claim the sequence number of the write transaction in progress."""
        epoch, seq = self.position()
        self._sql("UPDATE fuzzykv_meta SET value = ? WHERE name = 'seq'", (str(seq + 1),))
        return seq + 1

    def put(self, seq: int, rows: Rows) -> None:
        self._sql_many(
            "INSERT INTO fuzzykv_pairs (key, value, key_vector, value_vector, seq) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, key_vector = excluded.key_vector, "
            "value_vector = excluded.value_vector, seq = excluded.seq",
            [
                (k, v, _bytes(kv), _bytes(vv), seq)
                for k, v, kv, vv in zip(rows.keys, rows.values, rows.key_vectors, rows.value_vectors)
            ],
        )
        self._sql_many("DELETE FROM fuzzykv_deleted WHERE key = ?", [(k,) for k in rows.keys])

    def delete(self, seq: int, keys: Sequence[str]) -> None:
        self._sql_many("DELETE FROM fuzzykv_pairs WHERE key = ?", [(k,) for k in keys])
        self._sql_many("INSERT OR REPLACE INTO fuzzykv_deleted (key, seq) VALUES (?, ?)", [(k, seq) for k in keys])

    def clear(self) -> tuple[int, int]:
        """Delete every pair and start a new epoch, which tells readers to reload. Returns the new position."""
        epoch, seq = self.position()
        self._sql("DELETE FROM fuzzykv_pairs")
        self._sql("DELETE FROM fuzzykv_deleted")
        self._sql("UPDATE fuzzykv_meta SET value = ? WHERE name = 'epoch'", (str(epoch + 1),))
        return epoch + 1, seq


def _bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=_VECTOR).tobytes()


def _translate(error: sqlite3.Error, path: Path) -> StoreError:
    """An SQLite error as the fuzzykv error a caller can act on."""
    name = getattr(error, "sqlite_errorname", "")
    where = str(path)
    if name == "SQLITE_FULL":
        return StoreFullError(f"the disk holding {where!r} is full ({error}); free space and retry: nothing was written")
    if name.startswith("SQLITE_READONLY") or name == "SQLITE_PERM":
        return ReadOnlyStoreError(f"{where!r} cannot be written ({error}); check its permissions, or open it read_only=True")
    if name.startswith("SQLITE_BUSY") or name.startswith("SQLITE_LOCKED"):
        return StoreError(f"{where!r} stayed locked by another writer for 30 s ({error}); retry when it is done")
    if name.startswith("SQLITE_NOTADB"):
        return NotAStoreError(f"{where!r} is not a fuzzykv store ({error}); pick another path")
    if name.startswith("SQLITE_CANTOPEN"):
        return StoreError(f"cannot open {where!r} ({error}); check the path and its folder's permissions")
    return StoreError(f"{where!r}: {error}")
