"""The exact decode: the certified int8 scan must give a full float32 scan's answers, and gensim's."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from fuzzykv.embed.vectors import Embeddings
from fuzzykv.search.exact import CHUNK, QUERY_BLOCK, ExactDecoder, _Codes

TIE = 1e-6  # words whose cosines agree this closely may come in either order


def assert_same_answers(got: tuple[np.ndarray, np.ndarray], want: tuple[np.ndarray, np.ndarray]) -> None:
    """Equal cosines at every rank, and equal ids except where the cosines tie within TIE (a swap)."""
    np.testing.assert_allclose(got[1], want[1], atol=TIE)
    differ = got[0] != want[0]
    assert np.all(np.abs(got[1] - want[1])[differ] < TIE)
    for row in range(len(got[0])):
        assert len(set(got[0][row].tolist())) == got[0].shape[1]  # k different words


def assert_true_cosines(unit: np.ndarray, vectors: np.ndarray, got: tuple[np.ndarray, np.ndarray]) -> None:
    queries = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-30)
    np.testing.assert_allclose(got[1], np.einsum("bkd,bd->bk", unit[got[0]], queries), atol=TIE)


def whole_vocabulary_blends(glove: Embeddings, stores: int, keys: int, seed: int) -> np.ndarray:
    """Blends of random stores whose keys and values come from the whole vocabulary (rare words too)."""
    rng = np.random.default_rng(seed)
    unit = torch.from_numpy(glove.unit_vectors)
    out = []
    for _ in range(stores):
        rows = rng.choice(len(glove), size=2 * keys + 4, replace=False)
        key_vectors, values, queries = unit[rows[:keys]], unit[rows[keys : 2 * keys]], unit[rows[2 * keys :]]
        weights = torch.softmax(queries @ key_vectors.T / 0.05, dim=-1)
        out.append((weights @ values).numpy())
    return np.concatenate(out)


@pytest.fixture(scope="module", autouse=True)
def int8_everywhere() -> Iterator[None]:
    """The certified int8 scan, whatever this machine's int8 product costs against float32."""
    from fuzzykv.search import two_pass

    saved, two_pass._pays = two_pass._pays, True
    yield
    two_pass._pays = saved


@pytest.fixture(scope="module")
def decoder(glove: Embeddings, int8_everywhere: None) -> ExactDecoder:
    return ExactDecoder(glove.unit_vectors)


def test_exact_decode_equals_gensim_similar_by_vector_on_blends(glove: Embeddings, decoder: ExactDecoder) -> None:
    vectors = np.concatenate([whole_vocabulary_blends(glove, 15, 6, seed=1),
                              whole_vocabulary_blends(glove, 3, 5_000, seed=2)])
    batch = decoder.search(vectors, 10)
    for row, vector in enumerate(vectors):
        expected = glove.keyed_vectors.similar_by_vector(vector, topn=10)
        want = (np.array([[glove.keyed_vectors.key_to_index[w] for w, _ in expected]]),
                np.array([[s for _, s in expected]], dtype=np.float32))
        assert_same_answers((batch[0][row : row + 1], batch[1][row : row + 1]), want)
        if row % 5 == 0:  # one query alone takes another path through torch
            assert_same_answers(decoder.search(vector[None, :], 10), want)


@pytest.mark.parametrize("k", [1, 5, 37, 100])
def test_certified_scan_equals_a_full_scan_on_adversarial_vectors(
    glove: Embeddings, decoder: ExactDecoder, k: int
) -> None:
    rng = np.random.default_rng(k)
    unit = glove.unit_vectors
    pairs = rng.choice(len(glove), size=(20, 2))
    vectors = np.concatenate([
        rng.standard_normal((20, glove.dim)).astype(np.float32),  # far from every word: flat top scores
        unit[pairs[:, 0]] + unit[pairs[:, 1]],  # midway between two words: their cosines tie
        unit[rng.choice(len(glove), 10)],  # a word itself: a cosine of 1
        whole_vocabulary_blends(glove, 2, 100_000, seed=k)[:20],  # blurry blends of a big store
    ])
    got = decoder.search(vectors, k)
    assert_same_answers(got, decoder.full_scan(vectors, k))
    assert_true_cosines(unit, vectors, got)
    for vector in vectors[::7]:  # the single-query product takes another path through torch
        assert_same_answers(decoder.search(vector[None, :], k), decoder.full_scan(vector[None, :], k))


@pytest.mark.parametrize("size", [4_097, 5_000, 33_333])
def test_certified_scan_respects_vocabulary_size_limits_and_short_chunks(glove: Embeddings, size: int) -> None:
    limited = ExactDecoder(glove.unit_vectors[:size])
    vectors = whole_vocabulary_blends(glove, 4, 8, seed=size)
    ids, _ = limited.search(vectors, 5)
    assert ids.max() < size
    assert_same_answers((ids, limited.search(vectors, 5)[1]), limited.full_scan(vectors, 5))


def test_duplicate_rows_tie_exactly_and_every_copy_is_found() -> None:
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((6_000, 50)).astype(np.float32)
    rows[100:140] = rows[7]  # forty copies of one row, across chunk boundaries
    unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    decoder = ExactDecoder(unit)
    ids, sims = decoder.search(unit[7][None, :], 41)
    assert set(ids[0].tolist()) == {7, *range(100, 140)}
    np.testing.assert_allclose(sims[0], 1.0, atol=TIE)


def test_batches_larger_than_a_block_and_zero_vectors(glove: Embeddings, decoder: ExactDecoder) -> None:
    vectors = whole_vocabulary_blends(glove, 60, 6, seed=4)[: QUERY_BLOCK + 40]
    vectors[3] = 0.0  # no direction: answered by the full scan, like any other
    assert_same_answers(decoder.search(vectors, 5), decoder.full_scan(vectors, 5))


def test_the_int8_bound_holds_for_every_row(glove: Embeddings) -> None:
    """|cosine - a s (x.c)| <= slack, the inequality the pruning rests on, on every row for random queries."""
    unit = glove.unit_vectors[:50_000]
    codes = _Codes.of(unit)
    assert codes is not None
    rng = np.random.default_rng(5)
    for query in rng.standard_normal((5, unit.shape[1])):
        query = (query / np.linalg.norm(query)).astype(np.float32)
        scale = np.abs(query).max() / 127
        x = np.round(query / np.float32(scale))
        slack = np.linalg.norm(x * scale) * codes.error + np.linalg.norm(query - x * scale)
        approximate = (codes.codes.numpy().astype(np.int64) @ x.astype(np.int64)) * scale * codes.scale
        assert np.max(np.abs(unit.astype(np.float64) @ query - approximate)) <= slack


def test_without_an_int8_product_the_full_scan_answers(glove: Embeddings, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(*args: object) -> object:
        raise RuntimeError("no int8 matrix product in this torch build")

    monkeypatch.setattr(torch, "_int_mm", missing)
    decoder = ExactDecoder(glove.unit_vectors[:20_000])
    vectors = whole_vocabulary_blends(glove, 2, 6, seed=6)
    assert_same_answers(decoder.search(vectors, 5), decoder.full_scan(vectors, 5))


def test_chunks_cover_the_vocabulary() -> None:
    assert CHUNK * 4 * 100 <= 400_000  # k up to 100 takes the certified scan on the full GloVe vocabulary
