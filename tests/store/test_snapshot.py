"""The pairs file beside a large store: written on close, mapped on open, and refused (left as it is)
unless it is the one the store names."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import store_like
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzzykv import Database, Embeddings
from fuzzykv.pairs import HeldPairs
from fuzzykv.store import snapshot as mapped_pairs
from fuzzykv.store.snapshot import HEADER_BYTES, Mark
from fuzzykv.store.sqlite import Store

WORDS = ("cat dog horse cow sheep goat lion tiger bear wolf fox deer red blue green yellow purple orange black white "
         "one two three four five six seven eight nine ten paris london tokyo berlin rome madrid car bus train plane").split()
PAIRS = {word: WORDS[(i * 7 + 3) % len(WORDS)] for i, word in enumerate(WORDS)}


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mapped_pairs, "MAPPED_PAIRS", 10)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "big.fkv"


def file_of(path: Path) -> Path:
    return mapped_pairs.path_for(path)


def store_only(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the opens that read every pair from SQLite."""
    reads: list[int] = []
    original = Store.read_all

    def counted(self: Store, dim: int):  # type: ignore[no-untyped-def]
        reads.append(1)
        return original(self, dim)

    monkeypatch.setattr(Store, "read_all", counted)
    return reads


def position_of(path: Path) -> tuple[int, int]:
    store = Store.open(path, read_only=True)
    try:
        return store.position()
    finally:
        store.close()


def mark_of(path: Path) -> Mark | None:
    store = Store.open(path, read_only=True)
    try:
        return store.pairs_mark()
    finally:
        store.close()


def from_store(path: Path) -> list[tuple[str, str]]:
    """The store's pairs in its order, read from SQLite alone."""
    store = Store.open(path, read_only=True)
    try:
        _, rows = store.read_all(50)
    finally:
        store.close()
    return list(zip(rows.keys, rows.values))


def test_a_large_store_writes_its_file_on_close_and_opens_from_it(glove: Embeddings, path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with Database.open(path) as db:
        db.update(PAIRS)
        assert not file_of(path).exists()
    assert file_of(path).exists()
    reads = store_only(monkeypatch)
    in_memory = Database(PAIRS)
    with Database.open(path) as db:
        assert reads == []  # nothing read from SQLite but the changes since the file (none)
        assert list(db.items()) == list(PAIRS.items())
        for text in ("kitten", "crimson", "twelve"):
            mapped, fresh = db.search(text), in_memory.search(text)
            assert mapped.words == fresh.words
            np.testing.assert_allclose(mapped.vector, fresh.vector, rtol=1e-5, atol=1e-6)


def test_a_small_store_gets_no_file(glove: Embeddings, path: Path) -> None:
    with Database.open(path) as db:
        db.update(dict(list(PAIRS.items())[:9]))
    assert not file_of(path).exists()


def test_writes_by_others_after_the_file_are_caught_up_in_the_stores_order(glove: Embeddings, path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with Database.open(path) as db:
        db.update(PAIRS)
    token = mark_of(path)
    with Database.open(path) as other:
        del other["cat"]
        other["dog"] = "changed"
        other["cat"] = "back"  # re-inserted: its place is now the end
    assert mark_of(path) == token  # few changes: the file was kept
    reads = store_only(monkeypatch)
    with Database.open(path) as db:
        assert reads == []
        assert list(db.items()) == from_store(path)
        assert list(db)[-1] == "cat" and db["dog"] == "changed"


def test_changes_to_mapped_pairs_stay_in_memory_and_in_the_store(glove: Embeddings, path: Path) -> None:
    with Database.open(path) as db:
        db.update(PAIRS)
    before = file_of(path).read_bytes()
    with Database.open(path) as db:
        db["horse"] = "changed"  # in place, in a mapped row
        del db["cow"]  # the last row moves into the hole
        db["zebra"] = "animal"  # every array moves to a larger copy
        assert file_of(path).read_bytes() == before
        assert db["horse"] == "changed" and "cow" not in db and db["zebra"] == "animal"
        assert list(db.items()) == from_store(path)
        assert db.search("zebra").attention[0][0] == "zebra"


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("offset", [0, 20, HEADER_BYTES + 3, -1])
def test_a_damaged_file_is_refused_left_as_it_is_and_replaced_on_close(glove: Embeddings, path: Path, offset: int,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with Database.open(path) as db:
        db.update(PAIRS)
    flip_byte(file_of(path), offset)
    damaged = file_of(path).read_bytes()
    reads = store_only(monkeypatch)
    with Database.open(path) as db:
        assert reads == [1]
        assert list(db.items()) == list(PAIRS.items())
        assert file_of(path).read_bytes() == damaged  # refused, not touched
    assert file_of(path).read_bytes() != damaged  # a whole one was written on close
    with Database.open(path) as db:
        assert reads == [1] and list(db.items()) == list(PAIRS.items())


def test_a_truncated_or_missing_file_is_read_from_the_store(glove: Embeddings, path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with Database.open(path) as db:
        db.update(PAIRS)
    data = file_of(path).read_bytes()
    reads = store_only(monkeypatch)
    for cut in (0, 11, HEADER_BYTES, len(data) - 1):
        file_of(path).write_bytes(data[:cut])
        with Database.open(path, read_only=True) as db:
            assert list(db.items()) == list(PAIRS.items())
    file_of(path).unlink()
    with Database.open(path, read_only=True) as db:
        assert list(db.items()) == list(PAIRS.items())
    assert len(reads) == 5


def test_another_stores_file_is_never_adopted(glove: Embeddings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "first.fkv", tmp_path / "second.fkv"
    other = {key: "other" for key in PAIRS}
    for where, pairs in ((first, PAIRS), (second, other)):
        with Database.open(where) as db:
            db.update(pairs)  # the same writes in the same order: both stores at the same position
    assert position_of(first) == position_of(second)
    reads = store_only(monkeypatch)
    shutil.copyfile(file_of(first), file_of(second))  # the first's pairs file beside the second store
    with Database.open(second) as db:
        assert list(db.items()) == list(other.items()) and len(reads) == 1
    shutil.copyfile(first, second)  # the store file replaced (a restore, a copy), its old pairs file left beside it
    with Database.open(second, read_only=True) as db:
        assert list(db.items()) == list(PAIRS.items()) and len(reads) == 2
    shutil.copyfile(file_of(first), file_of(second))  # copied together, store and file belong together
    with Database.open(second, read_only=True) as db:
        assert list(db.items()) == list(PAIRS.items()) and len(reads) == 2


def test_a_cleared_store_does_not_use_its_old_file_and_removes_it(glove: Embeddings, path: Path) -> None:
    with Database.open(path) as db:
        db.update(PAIRS)
    with Database.open(path) as db:
        db.clear()
        db["cat"] = "animal"
        other = Database.open(path, read_only=True)
        assert list(other.items()) == [("cat", "animal")]
        other.close()
        assert file_of(path).exists()  # a read-only handle removes nothing
    assert not file_of(path).exists()  # a small store keeps no out-of-date file
    with Database.open(path) as db:
        assert list(db.items()) == [("cat", "animal")]


def test_read_only_opens_use_the_file_and_write_nothing(glove: Embeddings, path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with Database.open(path) as db:
        db.update(PAIRS)
    file_of(path).unlink()
    files = sorted(p.name for p in path.parent.iterdir())
    with Database.open(path, read_only=True) as db:
        assert len(db) == len(PAIRS)
    assert sorted(p.name for p in path.parent.iterdir()) == files  # no pairs file from a read-only handle
    with Database.open(path):
        pass
    reads = store_only(monkeypatch)
    with Database.open(path, read_only=True) as db:
        assert reads == [] and list(db.items()) == list(PAIRS.items())


def test_a_file_that_cannot_be_written_warns_and_the_store_closes_whole(glove: Embeddings, path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mapped_pairs, "write", full_disk)
    db = Database.open(path)
    db.update(PAIRS)
    with pytest.warns(RuntimeWarning, match="No space left"):
        db.close()
    assert not file_of(path).exists() and from_store(path) == list(PAIRS.items())


def test_text_holding_a_nul_or_pairs_without_rowids_get_no_file(tmp_path: Path) -> None:
    vectors = np.ones((2, 3), np.float32)
    for keys, rowids in ((["a", "b\0c"], [1, 2]), (["a", "b"], None)):
        pairs = HeldPairs(3)
        pairs.set_many(keys, ["x", "y"], vectors, vectors, rowids=rowids)
        assert mapped_pairs.write(tmp_path / "s.fkv-pairs", "t", (0, 1), pairs) is None
    assert list(tmp_path.iterdir()) == []


def test_a_file_behind_by_more_than_a_tenth_is_rewritten(glove: Embeddings, path: Path) -> None:
    with Database.open(path) as db:
        db.update(PAIRS)
    first = mark_of(path)
    with Database.open(path) as db:
        db.update({key: "changed" for key in list(PAIRS)[:5]})
    second = mark_of(path)
    assert isinstance(first, Mark) and isinstance(second, Mark)
    assert second.token != first.token and second.seq > first.seq


def test_load_refuses_a_file_named_by_another_mark(glove: Embeddings, path: Path) -> None:
    with Database.open(path) as db:
        db.update(PAIRS)
    mark = mark_of(path)
    assert mark is not None and mapped_pairs.load(file_of(path), mark, 50) is not None
    for other in (Mark("0" * 32, mark.epoch, mark.seq), Mark(mark.token, mark.epoch + 1, mark.seq),
                  Mark(mark.token, mark.epoch, mark.seq + 1)):
        assert mapped_pairs.load(file_of(path), other, 50) is None
    assert mapped_pairs.load(file_of(path), mark, 25) is None


TEXTS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=1, max_size=6)
STORE_OPERATIONS = st.lists(st.tuples(st.booleans(), st.lists(TEXTS, min_size=1, max_size=4, unique=True)), max_size=12)


@settings(max_examples=60, deadline=None)
@given(operations=STORE_OPERATIONS)
def test_write_then_load_gives_the_pairs_in_the_stores_order(tmp_path_factory: pytest.TempPathFactory, operations) -> None:
    """Pairs set and deleted as a store does it, written and loaded again."""
    pairs, rowid_of = store_like(operations, 3)
    folder = tmp_path_factory.mktemp("pairs")
    staging = mapped_pairs.write(folder / "s.fkv-pairs", "token", (0, 5), pairs)
    if not len(pairs):
        assert staging is None
        return
    assert staging is not None
    loaded = mapped_pairs.load(staging, Mark("token", 0, 5), 3)
    assert loaded is not None and loaded.items() == pairs.items()
    assert loaded.items() == sorted(pairs.items(), key=lambda item: rowid_of[item[0]])
    for key in pairs.keys():
        mine, theirs = loaded.row_of(key), pairs.row_of(key)
        np.testing.assert_array_equal(loaded.key_units[mine], pairs.key_units[theirs])
        np.testing.assert_array_equal(loaded.value_vectors_of(np.array([mine])), pairs.value_vectors_of(np.array([theirs])))
        assert loaded.rowids[mine] == rowid_of[key]


def test_a_fifo_in_place_of_the_file_is_refused_without_waiting(glove: Embeddings, path: Path) -> None:
    with Database.open(path) as db:
        db.update(PAIRS)
    file_of(path).unlink()
    os.mkfifo(file_of(path))
    with Database.open(path, read_only=True) as db:
        assert list(db.items()) == list(PAIRS.items())


def test_temporary_files_a_killed_writer_left_are_removed_by_the_next_write(glove: Embeddings, path: Path) -> None:
    with Database.open(path) as db:
        db.update(PAIRS)
    left, fresh = path.parent / f".{file_of(path).name}.abc123.tmp", path.parent / f".{file_of(path).name}.def456.tmp"
    left.write_bytes(b"half a file")
    fresh.write_bytes(b"another writer's, in progress")
    old = time.time() - mapped_pairs.ABANDONED_SECONDS - 60
    os.utime(left, (old, old))
    with Database.open(path) as db:
        db.update({key: "changed" for key in PAIRS})  # far behind: the close writes a new file
    assert not left.exists() and fresh.exists()
