"""Fault injection (issue 11): garbled files, killed writers, racing creators, read-only folders.

The store and cache layers are tested directly for their own contracts; Database end to end where
the behaviour is the store's. Each check ends in a typed error or a rebuild: never a crash, never
a silent wrong answer.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from fuzzykv import Database, NotAStoreError, NotTextError, StoreError
from fuzzykv.embed.vectors import Embeddings
from fuzzykv.pairs import HeldPairs
from fuzzykv.store import snapshot as mapped_pairs
from fuzzykv.store.rows import Rows
from fuzzykv.store.sqlite import Store
from fuzzykv.store.synced import SyncedPairs

DIM = 4


def rows(keys: list[str], values: list[str] | None = None) -> Rows:
    vectors = np.arange(len(keys) * DIM, dtype=np.float32).reshape(len(keys), DIM) + 1
    return Rows(keys, values or [k.upper() for k in keys], vectors, vectors * 2)


def write(store: Store, keys: list[str]) -> list[int]:
    with store.transaction():
        return store.put(store.next_seq(), rows(keys))


def delete(store: Store, keys: list[str]) -> None:
    with store.transaction():
        store.delete(store.next_seq(), keys)


def side_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


# -- files that are not stores are left as they were (item 4) --------------------------------------


def _other_wal_database(path: Path) -> None:
    other = sqlite3.connect(path)
    other.execute("PRAGMA journal_mode = WAL")
    other.execute("CREATE TABLE notes (body TEXT)")
    other.commit()
    other.close()


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p.write_bytes(b""),
        lambda p: p.write_bytes(b"S"),
        lambda p: p.write_bytes(b"SQLite format 3\x00"),  # the header only
        lambda p: p.write_bytes(b"SQLite format 3\x00" + os.urandom(4080)),
        lambda p: sqlite3.connect(p).execute("CREATE TABLE notes (body TEXT)").connection.commit(),
        _other_wal_database,
    ],
    ids=["empty", "one-byte", "header-only", "garbage-after-header", "other-program", "other-program-wal"],
)
@pytest.mark.parametrize("read_only", [False, True])
def test_a_file_that_is_not_a_store_is_refused_and_untouched(tmp_path: Path, make: object, read_only: bool) -> None:
    path = tmp_path / "file.fkv"
    make(path)  # type: ignore[operator]
    before = path.read_bytes()
    with pytest.raises(NotAStoreError, match="left as it was"):
        Store.open(path, read_only=read_only)
    assert path.read_bytes() == before
    assert side_files(path) == []


# -- garbled store files (items 4 and 7) -------------------------------------------------------------


def _store_with_pairs(path: Path, n: int = 300) -> None:
    store = Store.open(path)
    store.settings_or_save({"dim": DIM})
    for start in range(0, n, 50):
        write(store, [f"key{i}" for i in range(start, min(start + 50, n))])
    store.close()


def _read_everything(path: Path) -> None:
    store = Store.open(path)
    try:
        store.settings_dict()
        store.read_all(DIM)
        write(store, ["after"])
    finally:
        store.close()


@pytest.mark.parametrize("region", ["header", "schema page", "every page"])
def test_a_garbled_store_is_a_store_error(tmp_path: Path, region: str) -> None:
    path = tmp_path / "s.fkv"
    _store_with_pairs(path)
    size = path.stat().st_size
    page = 4096
    offsets = {"header": range(16, 100, 7), "schema page": range(100, page, 97),
               "every page": range(page, size, page)}[region]
    rng = np.random.default_rng(len(region))
    for offset in offsets:
        copy = tmp_path / f"copy{offset}.fkv"
        data = bytearray(path.read_bytes())
        data[offset: offset + 24] = rng.integers(0, 256, 24, dtype=np.uint8).tobytes()
        copy.write_bytes(bytes(data))
        try:
            _read_everything(copy)
        except StoreError:
            pass  # typed, and its message names the file
        copy.unlink()
        for side in ("-wal", "-shm"):
            Path(f"{copy}{side}").unlink(missing_ok=True)


def test_every_garbled_region_of_a_pairs_file_is_refused_and_left_as_it_is(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mapped_pairs, "MAPPED_PAIRS", 10)
    path = tmp_path / "s.fkv"
    _store_with_pairs(path)
    synced = SyncedPairs(DIM, Store.open(path), lambda keys: None, lambda: None)
    expected, vectors = synced.pairs.items(), synced.pairs.key_vectors
    synced.close()  # writes the pairs file
    pairs_file = mapped_pairs.path_for(path)
    good = pairs_file.read_bytes()
    rng = np.random.default_rng(7)
    reads: list[int] = []
    read_all = Store.read_all
    monkeypatch.setattr(Store, "read_all", lambda self, dim: reads.append(1) or read_all(self, dim))
    for count, offset in enumerate(range(0, len(good), 97), start=1):
        data = bytearray(good)
        data[offset : offset + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
        pairs_file.write_bytes(bytes(data))
        synced = SyncedPairs(DIM, Store.open(path, read_only=True), lambda keys: None, lambda: None)
        assert len(reads) == count and synced.pairs.items() == expected  # refused, and read from SQLite
        np.testing.assert_array_equal(synced.pairs.key_vectors, vectors)
        synced.close()
        assert pairs_file.read_bytes() == bytes(data)  # refused, never repaired in place by a reader


def test_a_garbled_wal_loses_no_checkpointed_pair(tmp_path: Path) -> None:
    path = tmp_path / "s.fkv"
    _store_with_pairs(path, n=100)
    keeper = Store.open(path)  # holds the WAL open so it is not checkpointed away
    try:
        write(keeper, ["late"])
        wal = Path(f"{path}-wal")
        assert wal.stat().st_size > 0
        data = bytearray(wal.read_bytes())
        for offset in range(32, len(data), 1001):
            data[offset] ^= 0xFF
        wal.write_bytes(bytes(data))
        reader = Store.open(path, read_only=True)
        try:
            _, found = reader.read_all(DIM)
        except StoreError:
            return
        finally:
            reader.close()
        assert set(found.keys) >= {f"key{i}" for i in range(100)}  # a damaged WAL frame is dropped, not misread
    finally:
        keeper.close()


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("settings", "{not json", "settings that are not JSON"),
        ("settings", "[1, 2]", "not a JSON object"),
        ("settings", "[" * 100_000, "settings that are not JSON"),
        ("seq", "x", "'seq' of 'x', not a whole number"),
        ("seq", str(1 << 70), "not a whole number"),
        ("epoch", "-1", "not a whole number"),
        ("version", "one", "'version'"),
    ],
)
def test_a_garbled_meta_entry_is_a_store_error(tmp_path: Path, name: str, value: str, match: str) -> None:
    path = tmp_path / "s.fkv"
    _store_with_pairs(path, n=50)
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT OR REPLACE INTO fuzzykv_meta (name, value) VALUES (?, ?)", (name, value))
    raw.close()
    with pytest.raises(StoreError, match=match):
        _read_everything(path)


def test_a_key_of_another_type_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "s.fkv"
    _store_with_pairs(path, n=50)
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE fuzzykv_pairs SET key = x'00ff' WHERE key = 'key3'")
    raw.close()
    with pytest.raises(StoreError, match="not text"):
        _read_everything(path)


def test_a_lone_surrogate_is_refused_before_writing(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.fkv")
    try:
        with pytest.raises(NotTextError, match="lone surrogate"):
            write(store, ["ok", "bad\ud800"])
        assert store.read_all(DIM)[1].keys == []
    finally:
        store.close()


# -- a killed writer (durability) ----------------------------------------------------------------------


def _writer(path: str, acknowledged: str) -> None:
    store = Store.open(path)
    with open(acknowledged, "a") as log:
        for i in range(100_000):
            write(store, [f"k{i}"])
            log.write(f"k{i}\n")
            log.flush()


def _kill_when(target: Callable[..., None], args: tuple[str, ...], ready: Callable[[], bool]) -> None:
    """Run ``target(*args)`` in a fresh process and SIGKILL it as soon as ``ready()`` (within a minute)."""
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    deadline = time.monotonic() + 60
    while not ready():
        assert process.is_alive() and time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(process.pid or 0, signal.SIGKILL)
    process.join()


def test_a_killed_writer_loses_no_acknowledged_pair(tmp_path: Path) -> None:
    path, log = tmp_path / "s.fkv", tmp_path / "ack"
    Store.open(path).close()
    _kill_when(_writer, (str(path), str(log)), lambda: log.exists() and len(log.read_text().split()) >= 30)
    acknowledged = set(log.read_text().split())
    store = Store.open(path)
    try:
        _, found = store.read_all(DIM)
        assert acknowledged <= set(found.keys)
        assert found.keys == sorted(found.keys, key=lambda k: int(k[1:]))  # in the order written
    finally:
        store.close()


def _closer(path: str, started: str) -> None:
    """Write pairs, then close, writing the pairs file slowly, with word when it has begun."""
    mapped_pairs.MAPPED_PAIRS = 10
    pieces = mapped_pairs._pieces

    def slow(*args: object) -> Iterator[memoryview]:
        Path(started).touch()
        for piece in pieces(*args):  # type: ignore[arg-type]
            time.sleep(0.5)
            yield piece

    mapped_pairs._pieces = slow  # type: ignore[assignment]
    synced = SyncedPairs(DIM, Store.open(path), lambda keys: None, lambda: None)
    synced.write(rows([f"k{i}" for i in range(40)]), [])
    synced.close()


def test_a_writer_killed_while_it_writes_the_pairs_file_loses_nothing(tmp_path: Path) -> None:
    path, started = tmp_path / "s.fkv", tmp_path / "started"
    Store.open(path).close()
    _kill_when(_closer, (str(path), str(started)), started.exists)
    assert not mapped_pairs.path_for(path).exists()  # killed while writing its temporary file:
    assert len(list(tmp_path.glob(".s.fkv-pairs.*.tmp"))) == 1  # left for the next writer to remove
    synced = SyncedPairs(DIM, Store.open(path), lambda keys: None, lambda: None)
    try:
        assert synced.pairs.keys() == [f"k{i}" for i in range(40)]  # the acknowledged write, whole
    finally:
        synced.close()


# -- racing creators (item 5) ------------------------------------------------------------------------


def _create(path: str, settings: dict[str, object], start: object, out: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    store = Store.open(path)
    out.put(store.settings_or_save(settings))  # type: ignore[attr-defined]
    store.close()


def test_racing_creators_agree_on_one_set_of_settings(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    for attempt in range(1):  # each process imports fuzzykv (torch): a few seconds apiece
        path = tmp_path / f"race{attempt}.fkv"
        start, out = context.Event(), context.Queue()
        processes = [context.Process(target=_create, args=(str(path), {"similarity": name}, start, out))
                     for name in ("cosine", "dot", "dot")]
        for process in processes:
            process.start()
        start.set()
        won = [out.get(timeout=60) for _ in processes]
        for process in processes:
            process.join()
        assert len({str(settings) for settings in won}) == 1
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(f"race{attempt}")) == [path.name]


# -- read-only folders and media (item 8) --------------------------------------------------------------


@pytest.fixture()
def shared_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="fuzzykv-shared-"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    subprocess.run(["rm", "-rf", str(folder)], check=True)


def run_as_nobody(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a Python that dropped to user 'nobody' (when root) after importing the store."""
    prelude = ("import os, sys, fuzzykv.store.sqlite, numpy\n"
               "if os.getuid() == 0:\n    os.setgroups([]); os.setgid(65534); os.setuid(65534)\n")
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120, cwd="/")


@pytest.mark.parametrize("writer_open", [False, True])
def test_read_only_open_of_a_read_only_folder_creates_nothing(shared_folder: Path, writer_open: bool) -> None:
    folder = shared_folder / "ro"
    folder.mkdir()
    path = folder / "s.fkv"
    _store_with_pairs(path, n=50)
    keeper = Store.open(path) if writer_open else None
    if keeper is not None:
        write(keeper, ["from the writer"])
    for side in folder.iterdir():
        side.chmod(0o644)
    folder.chmod(0o555)
    before = side_files(path)
    try:
        done = run_as_nobody(
            f"store = fuzzykv.store.sqlite.Store.open({str(path)!r}, read_only=True)\n"
            "_, rows = store.read_all(4)\nstore.close()\nprint(len(rows.keys))\n"
        )
        assert done.returncode == 0, done.stderr
        assert int(done.stdout) == (51 if writer_open else 50)
        assert side_files(path) == before
    finally:
        if keeper is not None:
            keeper.close()


def test_read_only_open_in_a_writable_folder_leaves_no_side_files_and_sees_commits(tmp_path: Path) -> None:
    path = tmp_path / "s.fkv"
    _store_with_pairs(path, n=10)
    reader = Store.open(path, read_only=True)
    assert len(reader.read_all(DIM)[1].keys) == 10
    writer = Store.open(path)
    write(writer, ["new"])
    writer.close()
    assert "new" in reader.read_all(DIM)[1].keys
    reader.close()
    assert side_files(path) == []


# -- Database end to end: the lead's wiring ---------------------------------------------------------


def _open_with(path: str, similarity: str, start: object, out: object) -> None:
    from fuzzykv import StoreSettingsError

    start.wait()  # type: ignore[attr-defined]
    try:
        with Database.open(path, similarity=similarity) as db:
            out.put(db.similarity)  # type: ignore[attr-defined]
    except StoreSettingsError:
        out.put("refused")  # type: ignore[attr-defined]


def test_racing_databases_one_wins_the_other_agrees_or_is_refused(glove: Embeddings, tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    path = tmp_path / "race.fkv"
    start, out = context.Event(), context.Queue()
    processes = [context.Process(target=_open_with, args=(str(path), name, start, out)) for name in ("cosine", "dot")]
    for process in processes:
        process.start()
    start.set()
    answers = sorted(out.get(timeout=120) for _ in processes)
    for process in processes:
        process.join()
    assert answers in (["cosine", "refused"], ["dot", "refused"])


def test_a_failed_inner_batch_undoes_only_its_own_writes(glove: Embeddings, tmp_path: Path) -> None:
    with Database.open(tmp_path / "s.fkv") as db:
        with db.batch():
            db["cat"] = "animal"
            with pytest.raises(RuntimeError):
                with db.batch():
                    db["dog"] = "animal"
                    raise RuntimeError("inner")
            db["ball"] = "toy"
        assert dict(db) == {"cat": "animal", "ball": "toy"}
    with Database.open(tmp_path / "s.fkv") as again:
        assert dict(again) == {"cat": "animal", "ball": "toy"}


def test_every_handle_iterates_in_the_files_order(glove: Embeddings, tmp_path: Path) -> None:
    path = tmp_path / "s.fkv"
    with Database.open(path) as first, Database.open(path) as second:
        first.update({"cat": "animal", "dog": "animal", "ball": "toy"})
        assert list(second) == ["cat", "dog", "ball"]
        second["cat"] = "pet"  # second now holds cat from its own write
        del first["cat"]
        first["cat"] = "feline"  # re-added: the end of the order, as in a dict
        assert list(first) == ["dog", "ball", "cat"]
        assert list(second) == ["dog", "ball", "cat"]
    with Database.open(path) as third:
        assert list(third) == ["dog", "ball", "cat"]


def test_the_matrix_moves_a_reinserted_key_to_the_end() -> None:
    pairs = HeldPairs(DIM)
    r = rows(["a", "b", "c"])
    pairs.set_many(r.keys, r.values, r.key_vectors, r.value_vectors, rowids=[1, 2, 3])
    pairs.set_many(["a"], ["again"], r.key_vectors[:1], r.value_vectors[:1], rowids=[1])  # overwritten: stays
    assert pairs.keys() == ["a", "b", "c"]
    pairs.set_many(["b"], ["moved"], r.key_vectors[:1], r.value_vectors[:1], rowids=[4])  # re-inserted elsewhere
    assert pairs.keys() == ["a", "c", "b"] and pairs.value("b") == "moved"
    assert pairs.copy().keys() == ["a", "c", "b"]
    pairs.set_many(["a"], ["x"], r.key_vectors[:1], r.value_vectors[:1])  # no rowids: a dict's order
    assert pairs.keys() == ["a", "c", "b"]


# -- issue 23, item 19: store files and paths ---------------------------------------------------------


def test_key_vectors_garbled_to_nan_are_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "s.fkv"
    _store_with_pairs(path, n=20)
    connection = sqlite3.connect(path)
    connection.execute("UPDATE fuzzykv_pairs SET key_vector = ? WHERE rowid = (SELECT min(rowid) FROM fuzzykv_pairs)",
                       (np.full(DIM, np.nan, dtype=np.float32).tobytes(),))
    connection.commit()
    connection.close()
    store = Store.open(path)
    try:
        with pytest.raises(StoreError, match="not finite"):
            store.read_all(DIM)
    finally:
        store.close()


def test_a_path_with_a_nul_byte_is_a_store_error(tmp_path: Path) -> None:
    from fuzzykv.errors import StorePathError

    with pytest.raises(StorePathError, match="NUL") as refused:
        Store.open(str(tmp_path / "a\0b.fkv"))
    assert isinstance(refused.value, StoreError) and isinstance(refused.value, ValueError)


def test_creating_a_store_in_a_folder_that_cannot_be_written_is_a_read_only_store_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fuzzykv import ReadOnlyStoreError

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")  # as a read-only folder answers a user who is not root

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(ReadOnlyStoreError, match="pick a writable folder"):
        Store.open(tmp_path / "s.fkv")


def test_a_read_only_file_opened_to_write_reads_leaves_no_side_files_and_refuses_writes(tmp_path: Path) -> None:
    from fuzzykv import ReadOnlyStoreError

    path = tmp_path / "s.fkv"
    _store_with_pairs(path, n=20)
    path.chmod(0o444)
    try:
        store = Store.open(path)
        try:
            assert len(store.read_all(DIM)[1].keys) == 20
            with pytest.raises(ReadOnlyStoreError, match="read-only file"):
                write(store, ["more"])
        finally:
            store.close()
        assert side_files(path) == []
    finally:
        path.chmod(0o644)
