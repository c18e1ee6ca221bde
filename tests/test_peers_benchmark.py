"""benchmarks/peers.py measures what it says: the same pairs in every store, queries that are not keys and
never repeat, answers checked against brute force, fresh processes that answer, and a table of its results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("chromadb")
pytest.importorskip("lancedb")
pytest.importorskip("faiss")

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))

import peers  # noqa: E402

PAIRS = 300


@pytest.fixture(scope="module")
def package_glove() -> peers.Glove:
    return peers.Glove.load()


@pytest.fixture(scope="module")
def data(package_glove: peers.Glove) -> peers.Data:
    return peers.Data.make(package_glove, PAIRS)


def test_exact_top_is_brute_force() -> None:
    rng = np.random.default_rng(0)
    keys, queries = rng.normal(size=(500, 8)), rng.normal(size=(40, 8))
    keys /= np.linalg.norm(keys, axis=1, keepdims=True)
    expected = np.argsort(-(queries @ keys.T), axis=1)[:, :5]
    assert (peers.exact_top(keys, queries, 5) == expected).all()


def test_queries_are_new_distinct_words(data: peers.Data, package_glove: peers.Glove) -> None:
    assert len(set(data.keys)) == len(data.keys) == len(data.values) == PAIRS
    assert len(set(data.values)) == PAIRS  # values spread as workload.py spreads them: all distinct
    texts = data.lookups + data.nearests + data.fresh + [key for key, _ in data.writes]
    assert len(set(texts)) == len(texts)
    assert not set(texts) & set(data.keys)
    assert all(text in package_glove.row for text in texts)
    assert np.allclose(np.linalg.norm(data.key_vectors, axis=1), 1, atol=1e-5)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, package_glove: peers.Glove, data: peers.Data) -> list[peers.Contender]:
    folder = tmp_path_factory.mktemp("peers")
    built = []
    for cls in (peers.FuzzyKV, peers.Chroma, peers.LanceDB, peers.Faiss):
        contender = cls(folder / cls.name, package_glove)
        contender.folder.mkdir()
        contender.bulk_import(data, contender.folder)
        built.append(contender)
    return built


def test_every_store_answers_as_brute_force(stores: list[peers.Contender], data: peers.Data) -> None:
    texts = data.lookups[:50]
    for contender in stores:
        contender.open()
        try:
            lookups = [contender.lookup(t) for t in texts]
            nearest = [contender.nearest(t) for t in data.nearests[:50]]
        finally:
            contender.close()
        agreement = np.mean([a == e for a, e in zip(lookups, data.exact_lookup)])
        recall = peers.overlap(nearest, data.exact_nearest[:50])
        if contender.name in ("fuzzykv", "lancedb"):  # exact searches
            assert agreement == recall == 1.0, contender.name
        else:  # HNSW graphs, over 300 keys
            assert agreement >= 0.95 and recall >= 0.95, (contender.name, agreement, recall)


def test_a_fresh_process_prints_the_exact_answer(stores: list[peers.Contender], data: peers.Data) -> None:
    for contender, text, exact in zip(stores, data.fresh, data.exact_fresh):
        _, answer = peers.first_answer(contender.fresh_code(text))
        assert answer == exact, contender.name


def test_a_write_lands(stores: list[peers.Contender], data: peers.Data) -> None:
    key, value = data.writes[0]
    for contender in stores:
        if contender.name == "faiss":
            continue
        contender.open()
        try:
            contender.write((key, value))
            assert contender.lookup(key) == value, contender.name  # its own vector: the nearest key is itself
        finally:
            contender.close()


def test_the_table_shows_every_figure_of_the_results_file() -> None:
    report = json.loads((peers.RESULTS / "peers.json").read_text())
    table = peers.markdown(report)
    lines = table.splitlines()
    assert lines[0] == "| figure | fuzzykv | Chroma | LanceDB | faiss HNSW |"
    ratio = report["lookup"]["fuzzykv_over_peer"]["chroma"]
    assert f"| `lookup`: fuzzykv's time / the peer's | — | {ratio:.2f}x |" in table
    assert sum(line.startswith("| ") for line in lines) == 11  # the header and ten figures
    assert "n/a" in next(line for line in lines if line.startswith("| durable single write: median"))
