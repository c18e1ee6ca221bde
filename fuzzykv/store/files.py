"""Which file is a store, and how SQLite is let at it: header and table checks that write nothing,
atomic creation, the URI for read-only opens, and SQLite's errors as fuzzykv's.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

from ..cache import fsync_file
from ..errors import NotAStoreError, ReadOnlyStoreError, StoreError, StoreFullError
from .schema import FORMAT, SCHEMA, SCHEMA_VERSION, SQLITE_HEADER


def damaged(error: Exception, path: Path) -> StoreError:
    """The error for a store file that cannot be read as a store, and the way out."""
    return StoreError(f"{str(path)!r} is damaged ({error}); restore it from a backup, or export what is readable")

def translate(error: sqlite3.Error, path: Path) -> StoreError:
    """An SQLite error as the fuzzykv error a caller can act on."""
    name = getattr(error, "sqlite_errorname", "")
    where = str(path)
    if name == "SQLITE_FULL":
        return StoreFullError(
            f"the disk holding {where!r} is full ({error}); free space and retry: nothing was written"
        )
    if name.startswith("SQLITE_READONLY") or name == "SQLITE_PERM":
        return ReadOnlyStoreError(
            f"{where!r} cannot be written ({error}); check its permissions, or open it read_only=True"
        )
    if name.startswith("SQLITE_BUSY") or name.startswith("SQLITE_LOCKED"):
        return StoreError(f"{where!r} stayed locked by another writer for 30 s ({error}); retry when it is done")
    if name.startswith("SQLITE_CORRUPT"):
        return damaged(error, path)
    if name.startswith("SQLITE_NOTADB"):
        return NotAStoreError(f"{where!r} is not a fuzzykv store ({error}); pick another path")
    if name.startswith("SQLITE_CANTOPEN"):
        return StoreError(f"cannot open {where!r} ({error}); check the path and its folder's permissions")
    return StoreError(f"{where!r}: {error}")

def create(path: Path) -> None:
    """Create an empty store atomically: built whole beside ``path``, then linked into place.

    A link never replaces a file, so when two processes create the same store at once the first
    link wins and the other opens that store; no one ever sees a half-made store.
    """
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)
    except OSError as error:
        raise _cannot_create(path, error) from error
    os.close(fd)
    staging = Path(name)
    try:
        connection = sqlite3.connect(staging, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode = DELETE")
            connection.execute("BEGIN")
            for statement in filter(str.strip, SCHEMA.split(";")):
                connection.execute(statement)
            connection.execute(
                "INSERT INTO fuzzykv_meta (name, value) "
                "VALUES ('format', ?), ('version', ?), ('epoch', '0'), ('seq', '0')",
                (FORMAT, str(SCHEMA_VERSION)),
            )
            connection.execute("COMMIT")
            connection.execute("PRAGMA journal_mode = WAL")  # recorded in the header: every opener uses WAL
        finally:
            connection.close()
        staging.chmod(0o644)  # mkstemp makes it private; a store is a file like any other
        fsync_file(staging)
        try:
            os.link(staging, path)
        except FileExistsError:
            pass  # another process created it first: open theirs
        fsync_file(path.parent)
    except sqlite3.Error as error:
        raise translate(error, path) from error
    except OSError as error:
        raise _cannot_create(path, error) from error
    finally:
        staging.unlink(missing_ok=True)

def check_header(path: Path) -> None:
    """Refuse, before SQLite opens it, a file that does not start as an SQLite database."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except PermissionError as error:
        raise ReadOnlyStoreError(f"cannot read {str(path)!r} ({error}); check its permissions") from error
    except OSError as error:
        raise StoreError(f"cannot read {str(path)!r} ({error}); check the path") from error
    if head != SQLITE_HEADER:
        what = "an empty file" if not head else f"a file starting {head[:8]!r}"
        raise NotAStoreError(
            f"{str(path)!r} is {what}, not a fuzzykv store (nor an SQLite database); it was left as it was: "
            "pick another path, or delete the file to make a new store there"
        )

def check_is_ours(path: Path) -> None:
    """Look at an SQLite file's tables without locks, writes or side files: is it a fuzzykv store?

    NOTE: ``immutable=1`` reads the main file only; our stores get their tables when they are
    created (before WAL is on), so the schema is always there.
    """
    try:
        try:
            tables = _tables(f"{path.resolve().as_uri()}?mode=ro&immutable=1")
        except sqlite3.DatabaseError:
            if not path.with_name(path.name + "-wal").exists():
                raise
            # NOTE: a checkpoint cut short (a full disk, a kill) leaves the main file readable only
            # together with its WAL: read both, as a reader of the store would.
            tables = _tables(f"{path.resolve().as_uri()}?mode=ro")
    except (sqlite3.Error, UnicodeDecodeError) as error:
        raise NotAStoreError(
            f"{str(path)!r} is not a readable fuzzykv store ({error}); it was left as it was: "
            "restore it from a backup or pick another path"
        ) from error
    if "fuzzykv_meta" not in tables:
        listed = ", ".join(sorted(str(t) for t in tables)) or "none"
        raise NotAStoreError(
            f"{str(path)!r} is an SQLite database of another program (tables: {listed}); it was left as it was: "
            "a fuzzykv store needs its own file"
        )

def _tables(uri: str) -> set[str]:
    connection = sqlite3.connect(uri, uri=True)
    try:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        connection.close()

def writable(path: Path) -> bool:
    """Whether the file at ``path`` may be written: its mode grants a write bit and this process may write it."""
    return bool(path.stat().st_mode & 0o222) and os.access(path, os.W_OK)


def uri_for(path: Path, read_only: bool) -> tuple[str, bool]:
    """The URI to open ``path`` with, and whether it is immutable (a read-only folder or medium).

    A read-only open takes a writable connection (with ``query_only``) where it may, because only
    that one removes its ``-wal``/``-shm`` on close; where the file or folder cannot be written, it
    reads through the writer's side files if there are any, else the file as it is (immutable).
    """
    base = path.resolve().as_uri()
    if not read_only:
        return f"{base}?mode=rw", False
    if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        return f"{base}?mode=rw", False
    if Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists():
        return f"{base}?mode=ro", False
    return f"{base}?mode=ro&immutable=1", True


def _cannot_create(path: Path, error: OSError) -> StoreError:
    """Why a store could not be created at ``path``: an unwritable folder, or another OS error."""
    if isinstance(error, PermissionError):
        return ReadOnlyStoreError(
            f"cannot create a store at {str(path)!r}: its folder cannot be written ({error}); pick a writable folder"
        )
    return StoreError(f"cannot create a store at {str(path)!r} ({error}); check the path and free space")
