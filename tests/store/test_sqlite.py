"""The store file: Database.open round trips, settings, faults, and more than one reader or writer."""

import os
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from fuzzykv import (
    Database,
    InvalidOptionError,
    NotAStoreError,
    NotTextError,
    ReadOnlyStoreError,
    StoreClosedError,
    StoreFullError,
    StoreSettingsError,
    StoreVersionError,
    UnknownWordError,
)
from fuzzykv.embed.vectors import Embeddings
from fuzzykv.store.sqlite import SCHEMA_VERSION, Store

COLORS = {"crimson": "red", "navy": "blue", "olive": "green", "lemon": "yellow"}


@pytest.fixture()
def path(tmp_path: Path) -> Path:
    return tmp_path / "colors.fkv"


def test_the_issue_example(glove: Embeddings, path: Path) -> None:
    with Database.open(path) as db:
        db["crimson"] = "red"
        db.update({"navy": "blue", "olive": "green"})
        assert db.lookup("scarlet") == "red"
        assert db.lookup("banana", min_similarity=0.6) is None
        assert db.query("azure", exact=True)[0] in {"blue", "green", "red"}
    with Database.open(path) as again:
        assert dict(again) == {"crimson": "red", "navy": "blue", "olive": "green"}


def test_round_trip_gives_the_same_pairs_and_answers(glove: Embeddings, path: Path) -> None:
    with Database.open(path, similarity="dot") as db:
        db.update(COLORS)
        del db["lemon"]
        db["navy"] = "dark blue"
        before = [db.search(q, k=5, exact=True) for q in ("scarlet", "sky", "leaf")]
        pairs = list(db.items())
    with Database.open(path) as db:
        assert db.similarity == "dot" and db.temperature == 1.0
        assert list(db.items()) == pairs
        after = [db.search(q, k=5, exact=True) for q in ("scarlet", "sky", "leaf")]
    for old, new in zip(before, after):
        assert new.candidates == old.candidates
        assert new.attention == old.attention
        np.testing.assert_array_equal(new.vector, old.vector)


def test_a_new_store_keeps_its_settings(glove: Embeddings, path: Path) -> None:
    with Database.open(path, temperature=0.1, vocabulary_size=2_000) as db:
        db.update(COLORS)
    frequent = set(glove.words[:2_000])
    with Database.open(path) as db:
        assert (db.similarity, db.temperature) == ("cosine", 0.1)
        answers = db.query("scarlet", k=20, exact=True)
        assert len(answers) == 20 and set(answers) <= frequent


@pytest.mark.parametrize(
    ("option", "value", "stored"),
    [("similarity", "dot", "'cosine'"), ("temperature", 0.5, "0.03"), ("vocabulary_size", 1000, "None")],
)
def test_conflicting_options_name_both(glove: Embeddings, path: Path, option: str, value: object, stored: str) -> None:
    Database.open(path).close()
    with pytest.raises(StoreSettingsError, match=f"made with {option}={stored}, not {option}={value!r}"):
        Database.open(path, **{option: value})


def test_embeddings_of_another_dimension_name_both(glove: Embeddings, path: Path) -> None:
    small = KeyedVectors(10)
    small.add_vectors(["red", "crimson"], np.random.default_rng(0).standard_normal((2, 10)).astype(np.float32))
    with Database.open(path, embeddings=small) as db:
        db["crimson"] = "red"
    with pytest.raises(StoreSettingsError, match="never loads by itself.*pass the same embeddings"):
        Database.open(path)
    with pytest.raises(StoreSettingsError, match="10-dimensional vectors .* are 50-dimensional"):
        Database.open(path, embeddings=glove)
    with Database.open(path, embeddings=small) as db:
        assert dict(db) == {"crimson": "red"}


def test_other_embeddings_of_the_same_dimension_are_refused(glove: Embeddings, glove_file: Path, path: Path) -> None:
    with Database.open(path, embeddings=glove_file) as db:
        db["said"] = "was"
    with pytest.raises(StoreSettingsError, match="never loads by itself"):  # a store names no file to open
        Database.open(path)
    with Database.open(path, embeddings=glove_file) as db:
        assert db["said"] == "was" and db.embeddings.name == str(glove_file.resolve())
    with pytest.raises(StoreSettingsError, match="fingerprint"):
        Database.open(path, embeddings=glove)


def test_a_file_that_is_not_a_store_is_left_as_it_was(glove: Embeddings, path: Path) -> None:
    path.write_bytes(os.urandom(4096))
    before = path.read_bytes()
    with pytest.raises(NotAStoreError, match="not a fuzzykv store"):
        Database.open(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_another_programs_database_is_left_as_it_was(glove: Embeddings, path: Path) -> None:
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE notes (body TEXT)")
    before = path.read_bytes()
    with pytest.raises(NotAStoreError, match="another program .*notes"):
        Database.open(path)
    assert path.read_bytes() == before


def test_a_store_from_a_newer_version_is_refused(glove: Embeddings, path: Path) -> None:
    Database.open(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE fuzzykv_meta SET value = ? WHERE name = 'version'", (str(SCHEMA_VERSION + 1),))
    before = path.read_bytes()
    with pytest.raises(StoreVersionError, match="newer than this fuzzykv reads"):
        Database.open(path)
    assert path.read_bytes() == before


def test_a_folder_or_a_missing_folder_is_a_clear_error(glove: Embeddings, tmp_path: Path) -> None:
    with pytest.raises(NotAStoreError, match="is a folder"):
        Database.open(tmp_path)
    with pytest.raises(OSError, match="does not exist"):
        Database.open(tmp_path / "nope" / "x.fkv")


def test_read_only_store_refuses_writes_and_keeps_reading(glove: Embeddings, path: Path) -> None:
    with Database.open(path) as db:
        db.update(COLORS)
    with Database.open(path, read_only=True) as db:
        with pytest.raises(ReadOnlyStoreError, match="read-only"):
            db["sky"] = "blue"
        assert dict(db) == COLORS and db.lookup("scarlet") == "red"


def test_an_unwritable_file_is_a_read_only_error_and_nothing_changes(glove: Embeddings, path: Path) -> None:
    db = Database.open(path)
    db.update(COLORS)
    db._synced.store._db.execute("PRAGMA query_only = 1")  # what SQLite says of a file it may not write
    with pytest.raises(ReadOnlyStoreError, match="cannot be written"):
        db["sky"] = "blue"
    assert dict(db) == COLORS
    db.close()
    with Database.open(path) as again:
        assert dict(again) == COLORS


def test_a_full_disk_is_a_clear_error_and_nothing_is_stored(glove: Embeddings, path: Path) -> None:
    db = Database.open(path)
    db.update(COLORS)
    (pages,) = db._synced.store._db.execute("PRAGMA page_count").fetchone()
    db._synced.store._db.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: a full disk
    many = {w: "word" for w in glove.words[5_000:7_000]}
    with pytest.raises(StoreFullError, match="full"):
        db.update(many)
    assert dict(db) == COLORS
    db.close()
    with Database.open(path) as again:
        assert dict(again) == COLORS


def test_bad_pairs_are_refused_before_anything_is_written(glove: Embeddings, path: Path) -> None:
    with Database.open(path) as db:
        db.update(COLORS)
        with pytest.raises(UnknownWordError):
            db.update({"sky": "blue", "rhombuss": "shape"})
    with Database.open(path) as db:
        assert dict(db) == COLORS


def test_a_failed_batch_stores_nothing(glove: Embeddings, path: Path) -> None:
    with Database.open(path) as db:
        db.update(COLORS)
        with pytest.raises(RuntimeError), db.batch():
            db["sky"] = "blue"
            del db["crimson"]
            db.clear()
            assert len(db) == 0
            raise RuntimeError("stop")
        assert dict(db) == COLORS
        with db.batch():
            db["sky"] = "blue"
            del db["crimson"]
    with Database.open(path) as db:
        assert dict(db) == {k: v for k, v in {**COLORS, "sky": "blue"}.items() if k != "crimson"}


def test_a_closed_store_says_so(glove: Embeddings, path: Path) -> None:
    db = Database.open(path)
    db.close()
    db.close()
    for call in (lambda: db["x"], lambda: len(db), lambda: db.query("red"), lambda: db.__setitem__("a", "b")):
        with pytest.raises(StoreClosedError, match="closed"):
            call()
    assert "closed" in repr(db)


def test_a_second_connection_sees_writes_at_its_next_read(glove: Embeddings, path: Path) -> None:
    with Database.open(path) as writer, Database.open(path) as reader:
        writer.update(COLORS)
        assert dict(reader) == COLORS
        writer["sky"] = "blue"
        del writer["crimson"]
        assert reader.lookup("crimson") != "red" or "crimson" not in reader
        assert "sky" in reader and "crimson" not in reader
        reader["grass"] = "green"
        assert writer["grass"] == "green"
        writer.clear()
        assert len(reader) == 0
        with writer.batch():
            writer.update(COLORS)
        assert reader.nearest("scarlet", k=1)[0].key == "crimson"
        assert dict(reader) == dict(writer) == COLORS


def test_a_write_first_takes_in_what_others_wrote(glove: Embeddings, path: Path) -> None:
    with Database.open(path) as a, Database.open(path) as b:
        a["crimson"] = "red"
        b["navy"] = "blue"  # no read in between: the write itself must catch up
        a["olive"] = "green"
        with b.batch():
            b["lemon"] = "yellow"
            assert dict(b) == COLORS
        del a["navy"]
        b.update({"sky": "blue"})
        expected = {"crimson": "red", "olive": "green", "lemon": "yellow", "sky": "blue"}
        assert dict(a) == dict(b) == expected
    with Database.open(path) as c:
        assert dict(c) == expected


def test_threads_query_while_one_writes(glove: Embeddings, path: Path) -> None:
    words = glove.words[2_000:2_400]
    errors: list[BaseException] = []
    with Database.open(path) as db:
        db.update(COLORS)
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                try:
                    assert db.lookup("scarlet") is not None
                    db.query("azure", exact=True)
                    len(db), list(db.items())
                except BaseException as error:  # noqa: BLE001 - collected for the assertion below
                    errors.append(error)
                    return

        readers = [threading.Thread(target=read) for _ in range(3)]
        for thread in readers:
            thread.start()
        for word in words:
            db[word] = "word"
        for word in words[::2]:
            del db[word]
        stop.set()
        for thread in readers:
            thread.join()
        assert errors == []
        assert len(db) == len(COLORS) + len(words) // 2


def test_store_layer_reads_only_what_changed(glove: Embeddings, path: Path) -> None:
    with Database.open(path) as db:
        db.update(COLORS)
        store = Store.open(path)
        try:
            position, rows = store.read_all(50)
            assert rows.keys == list(COLORS)
            db["sky"] = "blue"
            del db["navy"]
            changes = store.changes_since(position, 50)
            assert changes.rows.keys == ["sky"] and changes.deleted == ["navy"] and not changes.reload
        finally:
            store.close()


STATE_WORDS = st.sampled_from(["red", "blue", "green", "cat", "dog", "one", "seven", "king", "paris", "water"])


class StoreAgainstDict(RuleBasedStateMachine):
    """Any sequence of writes, reads and reopenings agrees with a plain dict."""

    folder: Path

    @initialize()
    def start(self) -> None:
        self.path = self.folder / f"state-{id(self)}.fkv"
        self.path.unlink(missing_ok=True)
        self.db = Database.open(self.path)
        self.model: dict[str, str] = {}

    @rule(key=STATE_WORDS, value=STATE_WORDS)
    def set(self, key: str, value: str) -> None:
        self.db[key] = value
        self.model[key] = value

    @rule(key=STATE_WORDS)
    def delete(self, key: str) -> None:
        if key in self.model:
            del self.db[key]
            del self.model[key]
        else:
            with pytest.raises(KeyError):
                del self.db[key]

    @rule(pairs=st.dictionaries(STATE_WORDS, STATE_WORDS, max_size=4))
    def update(self, pairs: dict[str, str]) -> None:
        self.db.update(pairs)
        self.model.update(pairs)

    @rule(key=STATE_WORDS)
    def pop(self, key: str) -> None:
        assert self.db.pop(key, None) == self.model.pop(key, None)

    @rule(key=STATE_WORDS, value=STATE_WORDS)
    def setdefault(self, key: str, value: str) -> None:
        assert self.db.setdefault(key, value) == self.model.setdefault(key, value)

    @rule()
    def clear(self) -> None:
        self.db.clear()
        self.model.clear()

    @rule(pairs=st.dictionaries(STATE_WORDS, STATE_WORDS, max_size=3), gone=STATE_WORDS)
    def batch(self, pairs: dict[str, str], gone: str) -> None:
        with self.db.batch():
            self.db.update(pairs)
            self.model.update(pairs)
            if gone in self.model:
                del self.db[gone]
                del self.model[gone]

    @rule()
    def reopen(self) -> None:
        self.db.close()
        self.db = Database.open(self.path)

    @invariant()
    def agrees(self) -> None:
        assert list(self.db.items()) == list(self.model.items())
        assert len(self.db) == len(self.model)
        for key in self.model:
            assert self.db.nearest(key, k=1)[0].key == key

    def teardown(self) -> None:
        self.db.close()


def test_store_behaves_like_a_dict(glove: Embeddings, tmp_path: Path) -> None:
    StoreAgainstDict.folder = tmp_path
    machine = StoreAgainstDict.TestCase
    machine.settings = settings(
        max_examples=30, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
    )
    machine().runTest()


@pytest.mark.parametrize(
    "options",
    [{"attention": "sparse"}, {"device": "gpu0"}, {"candidates": "words"}, {"unknown": "guess"}, {"n_trees": 0}],
)
def test_a_bad_option_leaves_no_store_behind(glove: Embeddings, path: Path, options: dict) -> None:
    with pytest.raises(InvalidOptionError):
        Database.open(path, **options)
    assert not path.exists()


@pytest.mark.parametrize(
    "name", ["it's; DROP TABLE x;--.fkv", '"quoted"..fkv', "..fkv", "new\nline.fkv", "sp ace %20?#.fkv"]
)
def test_hostile_names_keys_and_values_round_trip(glove: Embeddings, tmp_path: Path, name: str) -> None:
    """Issue 11 item 2: quotes, semicolons, '..', NUL and newlines through the public API."""
    pairs = {"it's": "cat's; DROP TABLE fuzzykv_pairs;--", 'say "cat"': "dog\nball", ".. cat": "nul\x00dog"}
    path = tmp_path / name
    with Database.open(path, unknown_stored="chars") as db:  # words without a vector are guessed from spelling
        db.update(pairs)
        db["nul\x00cat"] = "dog"
        del db["nul\x00cat"]
        assert dict(db) == pairs
    with Database.open(path) as again:
        assert dict(again) == pairs and list(again) == list(pairs)
    with pytest.raises(ValueError):  # a NUL in a path is refused by the OS layer before any file is touched
        Database.open(tmp_path / "nul\x00.fkv")
    with Database.open(path) as db, pytest.raises(NotTextError):  # refused before anything is written
        db["lone \ud800 surrogate"] = "cat"


def test_pages_of_a_store_follow_its_order_across_handles(glove: Embeddings, path: Path) -> None:
    with Database.open(path) as db:
        db.update({"one": "number", "cat": "animal", "dog": "animal", "ball": "toy"})
        with Database.open(path) as other:
            del other["cat"]
            other["cat"] = "pet"  # re-added: now last
            other["one"] = "digit"  # changed in place: keeps its place
        pages, after, more = [], None, True
        while more:
            page, more = db.page(after, limit=2)
            pages += page
            after = page[-1][0]
        assert pages == list(db.items()) == [("one", "digit"), ("dog", "animal"), ("ball", "toy"), ("cat", "pet")]
        assert db.page(limit=10) == (pages, False)
        with pytest.raises(KeyError):
            db.page("gone")
