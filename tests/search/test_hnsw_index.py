"""The HNSW graph over the vocabulary: recall against exact search, its checked cache file, its
first build in the background, and ``fuzzykv warm``."""

from __future__ import annotations

import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import WRITEUP_PAIRS

import fuzzykv.search.decode as decode
import fuzzykv.search.hnsw_index as hnsw_module
from fuzzykv import Database, IndexFallbackWarning
from fuzzykv.cache import CacheLayout, manifest_path, verified
from fuzzykv.cli import main
from fuzzykv.embed.loading import load_embeddings
from fuzzykv.embed.vectors import Embeddings
from fuzzykv.errors import IndexBuildingWarning
from fuzzykv.search.decode import IndexSettings, VocabularyIndex, vocabulary_index
from fuzzykv.search.hnsw_index import HNSWDecoder
from fuzzykv.settings import Settings


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found.tolist(), truth.tolist())]))


BIG_QUERIES = 60


def store_blends(glove: Embeddings, keys: int, stores: int, queries: int, seed: int, words: int | None = None) -> np.ndarray:
    """What db.query decodes on the realistic workload (benchmarks/workload.py): the blends of stores
    whose keys, values and queries are words drawn uniformly from the vocabulary (its first ``words``)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(stores):
        rows = rng.choice(words or len(glove), size=2 * keys + queries, replace=False)
        drawn = [glove.words[i] for i in rows.tolist()]
        db = Database(dict(zip(drawn[:keys], drawn[keys : 2 * keys])))
        out += [db.search(text, exact=True, attention_k=1).vector for text in drawn[2 * keys :]]
    return np.stack(out).astype(np.float32)


def realistic_blends(glove: Embeddings, seed: int) -> np.ndarray:
    """Blends of forty 6-key stores (10 queries each), then of a 100,000-key store (BIG_QUERIES)."""
    return np.concatenate([store_blends(glove, 6, 40, 10, seed), store_blends(glove, 100_000, 1, BIG_QUERIES, seed + 1)])


@pytest.fixture(scope="module")
def index_50k(glove: Embeddings, tmp_path_factory: pytest.TempPathFactory) -> VocabularyIndex:
    """The default HNSW settings over the 50,000 most frequent words, built in its own folder."""
    index = VocabularyIndex(glove, IndexSettings(vocabulary_size=50_000), CacheLayout(tmp_path_factory.mktemp("hnsw50k")))
    index.approximate()
    return index


def test_hnsw_recall_at_10_against_exact_on_realistic_blends_of_a_50k_vocabulary(
    glove: Embeddings, index_50k: VocabularyIndex
) -> None:
    """Stores of the 50,000 most frequent words, decoded to them. (Blends of rare words decoded to
    frequent ones are far from every word: the graph's hardest queries, measured in benchmarks/.)"""
    vectors = np.concatenate([store_blends(glove, 6, 40, 10, seed=21, words=50_000),
                              store_blends(glove, 20_000, 1, BIG_QUERIES, seed=22, words=50_000)])
    decoder = index_50k.approximate()
    assert isinstance(decoder, HNSWDecoder)
    found, _ = decoder.search(vectors, 10)
    truth, _ = index_50k.exact().search(vectors, 10)
    assert found.max() < 50_000
    for name, rows in (("6-key", slice(0, -10)), ("100,000-key", slice(-10, None))):
        recall = recall_at(found[rows], truth[rows])
        assert recall >= 0.99, f"HNSW recall@10 on {name} store blends is {recall:.3f}"


def test_the_default_index_is_hnsw_with_recall_at_10_on_the_full_vocabulary(glove: Embeddings) -> None:
    index = vocabulary_index(glove, IndexSettings())
    decoder, answered_by = index.current()  # warmed by the session: no build, no warning
    assert answered_by == "hnsw" and isinstance(decoder, HNSWDecoder)
    vectors = realistic_blends(glove, seed=5)
    found, sims = decoder.search(vectors, 10)
    truth, _ = index.exact().search(vectors, 10)
    assert recall_at(found, truth) >= 0.99
    units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(sims, np.einsum("qkd,qd->qk", glove.unit_vectors[found], units), rtol=1e-5, atol=1e-6)
    assert np.all(np.diff(sims, axis=1) <= 1e-7)  # best first


def test_a_query_through_the_default_store_decodes_with_hnsw(glove: Embeddings) -> None:
    db = Database(WRITEUP_PAIRS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warmed: the answer comes from the graph, not a fallback
        words = db.query("rhombus", k=10)
    assert words == db.query("rhombus", k=10, exact=True)
    assert db.settings.index == "hnsw"


@pytest.fixture()
def small(glove_file: Path) -> Embeddings:
    return load_embeddings(glove_file)


def small_index(small: Embeddings, root: Path, **settings: Any) -> VocabularyIndex:
    return VocabularyIndex(small, IndexSettings(**{"hnsw_m": 8, **settings}), CacheLayout(root))


def test_the_same_vectors_give_the_same_file_byte_for_byte_and_the_same_answers(
    glove: Embeddings, tmp_path: Path
) -> None:
    settings = IndexSettings(vocabulary_size=4_000)
    first, second = (VocabularyIndex(glove, settings, CacheLayout(tmp_path / name)) for name in "ab")
    vectors = store_blends(glove, 6, 4, 10, seed=3)
    answers = [index.approximate().search(vectors, 10) for index in (first, second)]
    assert first.hnsw_path().read_bytes() == second.hnsw_path().read_bytes()
    np.testing.assert_array_equal(answers[0][0], answers[1][0])
    again = VocabularyIndex(glove, settings, CacheLayout(tmp_path / "a")).approximate().search(vectors, 10)
    np.testing.assert_array_equal(again[0], answers[0][0])


def faiss_reads(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Record the bytes of every file handed to faiss.read_index."""
    seen: list[bytes] = []
    original = hnsw_module.faiss.read_index

    def reading(path: str, *args: Any) -> Any:
        seen.append(Path(path).read_bytes())
        return original(path, *args)

    monkeypatch.setattr(hnsw_module.faiss, "read_index", reading)
    return seen


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "no manifest", "other settings' file"])
def test_a_damaged_index_file_is_never_handed_to_faiss_and_is_rebuilt(
    small: Embeddings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    vectors = np.array(small.vectors[:10])
    built = small_index(small, tmp_path)
    expected = built.approximate().search(vectors, 5)
    path = built.hnsw_path()
    whole = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(whole[: len(whole) // 2])
    elif damage == "flipped byte":
        path.write_bytes(whole[:-100] + bytes([whole[-100] ^ 0xFF]) + whole[-99:])
    elif damage == "no manifest":
        manifest_path(path).unlink()
        path.write_bytes(b"\0" * len(whole))
    else:  # an M=4 graph, whole and with its own manifest, under the M=8 graph's name
        other = small_index(small, tmp_path, hnsw_m=4)
        other.approximate()
        path.write_bytes(other.hnsw_path().read_bytes())
        manifest_path(path).write_bytes(manifest_path(other.hnsw_path()).read_bytes())
    damaged = path.read_bytes()
    seen = faiss_reads(monkeypatch)
    again = small_index(small, tmp_path).approximate().search(vectors, 5)
    assert seen and all(read != damaged for read in seen)
    assert seen[-1] == whole  # rebuilt: the same bytes as the first build
    np.testing.assert_array_equal(again[0], expected[0])
    assert verified(path, **hnsw_module.hnsw_meta(len(small), small.dim, 8, built.settings.hnsw_ef_construction))


@pytest.fixture()
def held_build(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Background builds (of any vocabulary, however small) wait until the returned event is set: a
    query lands during a first build."""
    monkeypatch.setattr(decode, "FOREGROUND_WORDS", 0)
    release = threading.Event()
    original = hnsw_module.build_hnsw

    def held(*args: Any, **kwargs: Any) -> Any:
        assert release.wait(timeout=120)
        return original(*args, **kwargs)

    monkeypatch.setattr(hnsw_module, "build_hnsw", held)
    return release


def test_a_query_during_the_first_build_answers_exactly_and_says_so(
    small: Embeddings, tmp_path: Path, held_build: threading.Event
) -> None:
    index = small_index(small, tmp_path)
    vectors = np.array(small.vectors[5:25])
    with pytest.warns(IndexBuildingWarning, match="being built for the first time") as caught:
        decoder, answered_by = index.current()
    assert answered_by == "exact" and caught[0].message.answered_by == "exact"  # type: ignore[union-attr]
    assert index.building and not index.hnsw_path().exists()
    ids, sims = decoder.search(vectors, 5)
    want_ids, want_sims = index.exact().search(vectors, 5)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(sims, want_sims)
    held_build.set()
    assert index.wait(timeout=120)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decoder, answered_by = index.current()
    assert answered_by == "hnsw" and isinstance(decoder, HNSWDecoder)
    assert verified(index.hnsw_path(), **hnsw_module.hnsw_meta(len(small), small.dim, 8, index.settings.hnsw_ef_construction))


def test_during_the_first_build_an_annoy_index_already_built_answers(
    small: Embeddings, tmp_path: Path, held_build: threading.Event
) -> None:
    small_index(small, tmp_path, index="annoy").approximate()
    index = small_index(small, tmp_path)
    with pytest.warns(IndexBuildingWarning, match="annoy index already built"):
        _, answered_by = index.current()
    assert answered_by == "annoy"
    held_build.set()
    assert index.wait(timeout=120)
    assert index.current()[1] == "hnsw"


def test_a_whole_query_during_the_first_build_answers_as_exact_search_does(
    glove_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held_build: threading.Event
) -> None:
    monkeypatch.setenv("FUZZYKV_CACHE", str(tmp_path))
    db = Database({"one": "two", "the": "and", "for": "with"}, embeddings=str(glove_file), hnsw_m=6)
    with pytest.warns(IndexBuildingWarning, match="exact search"):
        words = db.query("said", k=8)
    assert words == db.query("said", k=8, exact=True)
    held_build.set()


def test_a_failed_background_build_is_reported_once_and_exact_search_answers(
    small: Embeddings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decode, "FOREGROUND_WORDS", 0)
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    index = small_index(small, blocker)
    with pytest.warns(IndexBuildingWarning):
        index.current()
    index.wait(timeout=120)
    with pytest.warns(IndexFallbackWarning, match="could not be built"):
        decoder, answered_by = index.current()
    assert answered_by == "exact"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert index.current()[1] == "exact"  # said once


# More distinct values than a store's listed words serve (fuzzykv.search.listed): the query needs the index.
EXITING = """
import warnings
from fuzzykv import Database
words = "one two three four five six seven eight nine ten cat dog bird fish cow horse sheep goat".split()
db = Database(dict(zip(words, reversed(words))), vocabulary_size=60_000)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    print(db.query("kitten"))
print(type(caught[0].message).__name__)
"""


def test_a_process_that_exits_during_a_background_build_leaves_no_partial_file(
    glove: Embeddings, session_cache: Path
) -> None:
    done = subprocess.run([sys.executable, "-c", EXITING], capture_output=True, text=True, timeout=600, check=True)
    assert done.stdout.splitlines()[-1] == "IndexBuildingWarning"
    folder = session_cache / "v1" / "hnsw"
    assert not list(folder.glob(".*-v60000-*.tmp"))  # stopped between chunks; its staging file removed
    for path in folder.glob("*-v60000-*.faiss"):  # or it finished first: then whole
        settings = Settings()
        assert verified(path, **hnsw_module.hnsw_meta(60_000, glove.dim, settings.hnsw_m, settings.hnsw_ef_construction))


def test_warm_builds_every_cache_with_a_line_per_cache(glove: Embeddings, session_cache: Path) -> None:
    result = CliRunner().invoke(main, ["warm", "--vocabulary-size", "3000", "--all-indexes"])
    assert result.exit_code == 0, result.output
    assert "ready: hnsw index over 3,000 words" in result.output
    assert "ready: annoy index over 3,000 words" in result.output
    settings = IndexSettings(vocabulary_size=3000)
    index = VocabularyIndex(glove, settings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing left to build
        assert index.current()[1] == "hnsw"
    assert index.annoy_path().is_file()
    again = CliRunner().invoke(main, ["warm", "--vocabulary-size", "3000", "--index", "annoy"])
    assert again.exit_code == 0 and "ready: annoy index" in again.output and "ready: hnsw" not in again.output


def test_a_small_vocabulary_is_indexed_at_its_first_query_without_a_warning(glove_file: Path, tmp_path: Path) -> None:
    index = small_index(load_embeddings(glove_file), tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decoder, answered_by = index.current()
    assert answered_by == "hnsw" and isinstance(decoder, HNSWDecoder) and not index.building


def test_warm_on_an_unwritable_cache_is_one_clean_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("FUZZYKV_CACHE", str(blocker))
    result = CliRunner().invoke(main, ["warm"])
    assert result.exit_code == 1
    assert "Error: cannot write the cache" in result.output and "Traceback" not in result.output
