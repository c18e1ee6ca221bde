from pathlib import Path

import numpy as np
import pytest
import torch

from fuzzykv import IndexFallbackWarning, InvalidOptionError
from fuzzykv.attention import Attention, score
from fuzzykv.cache import CacheLayout
from fuzzykv.embeddings import Embeddings
from fuzzykv.loading import load_embeddings
from fuzzykv.annoy_index import AnnoyDecoder
from fuzzykv.decode import IndexSettings, VocabularyIndex, vocabulary_index
from fuzzykv.exact import ExactDecoder, top_k
from fuzzykv.settings import Settings


def decoded_vectors(glove: Embeddings, stores: int, seed: int) -> np.ndarray:
    """Blended value vectors of random stores of frequent words: what the decoder really sees."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(stores):
        n = int(rng.integers(2, 25))
        ids = rng.choice(50_000, size=2 * n + 4, replace=False)
        keys, values, queries = (torch.from_numpy(np.array(glove.vectors[i])) for i in (ids[:n], ids[n : 2 * n], ids[2 * n :]))
        found = score(queries, keys, torch.linalg.vector_norm(keys, dim=-1))
        for similarity in ("cosine", "dot"):
            weights = Attention(similarity).weights(found)  # type: ignore[arg-type]
            out.append(Attention.blend(weights, values).numpy())
    return np.concatenate(out)


@pytest.fixture(scope="module")
def default_index(glove: Embeddings) -> VocabularyIndex:
    return vocabulary_index(glove, IndexSettings())


def test_exact_decode_equals_gensim_similar_by_vector(glove: Embeddings, default_index: VocabularyIndex) -> None:
    vectors = decoded_vectors(glove, stores=25, seed=7)
    ids, sims = default_index.exact().search(vectors, 10)
    for vector, row_ids, row_sims in zip(vectors, ids, sims):
        expected = glove.keyed_vectors.similar_by_vector(vector, topn=10)
        assert [glove.words[i] for i in row_ids] == [word for word, _ in expected]
        np.testing.assert_allclose(row_sims, [s for _, s in expected], atol=1e-5)


@pytest.mark.parametrize("proposal", ["annoy", "random rows"])
def test_bounded_exact_scan_equals_a_full_scan(glove: Embeddings, default_index: VocabularyIndex, proposal: str) -> None:
    vectors = decoded_vectors(glove, stores=6, seed=5)
    full = ExactDecoder(glove.unit_vectors)  # no proposer: scans every row
    bounded = ExactDecoder(glove.unit_vectors)
    if proposal == "annoy":
        bounded.propose_with(default_index.approximate().propose)  # type: ignore[union-attr]
    else:
        rng = np.random.default_rng(0)
        bounded.propose_with(lambda vector, k: rng.choice(len(glove), size=k, replace=False).tolist())
    for vector in vectors:
        for k in (1, 5, 12):
            got_ids, got_sims = bounded.search(vector[None, :], k)
            want_ids, want_sims = full.search(vector[None, :], k)
            assert got_ids.tolist() == want_ids.tolist()
            np.testing.assert_allclose(got_sims, want_sims, atol=1e-6)


def test_exact_decode_after_annoy_opens_still_equals_gensim(glove: Embeddings, default_index: VocabularyIndex) -> None:
    default_index.approximate()
    exact = default_index.exact()
    for vector in decoded_vectors(glove, stores=10, seed=8):
        ids, sims = exact.search(vector[None, :], 10)
        want = glove.keyed_vectors.similar_by_vector(vector, topn=10)
        np.testing.assert_allclose(sims[0], [s for _, s in want], atol=1e-6)
        for i, (word, similarity) in enumerate(want):  # words may differ only where their cosines tie (float rounding)
            assert glove.words[ids[0][i]] == word or abs(float(sims[0][i]) - similarity) < 1e-6


def test_annoy_recall_at_5_against_exact_is_at_least_095(glove: Embeddings, default_index: VocabularyIndex) -> None:
    vectors = decoded_vectors(glove, stores=60, seed=11)
    approximate = default_index.approximate()
    assert isinstance(approximate, AnnoyDecoder)
    found, _ = approximate.search(vectors, 5)
    truth, _ = default_index.exact().search(vectors, 5)
    recall = np.mean([len(set(a) & set(t)) / 5 for a, t in zip(found.tolist(), truth.tolist())])
    assert recall >= 0.95, f"annoy recall@5 is {recall:.3f}"


def test_annoy_scores_are_exact_cosines_sorted_best_first(glove: Embeddings, default_index: VocabularyIndex) -> None:
    vectors = decoded_vectors(glove, stores=5, seed=3)
    ids, sims = default_index.approximate().search(vectors, 8)
    for vector, row_ids, row_sims in zip(vectors, ids, sims):
        expected = glove.unit_vectors[row_ids] @ (vector / np.linalg.norm(vector))
        np.testing.assert_allclose(row_sims, expected, rtol=1e-5, atol=1e-6)
        assert np.all(np.diff(row_sims) <= 1e-7)


def test_the_index_is_built_once_and_shared(glove: Embeddings, default_index: VocabularyIndex) -> None:
    assert vocabulary_index(glove, IndexSettings()) is default_index
    assert default_index.annoy_path().exists()


@pytest.fixture()
def small(glove_file: Path) -> Embeddings:
    return load_embeddings(glove_file)


def small_index(small: Embeddings, root: Path, **settings: int) -> VocabularyIndex:
    return VocabularyIndex(small, IndexSettings(**settings), CacheLayout(root))


def test_same_seed_same_index_same_answers(small: Embeddings, tmp_path: Path) -> None:
    vectors = np.array(small.vectors[:20])
    first = small_index(small, tmp_path / "a", n_trees=5, search_k=40).approximate().search(vectors, 5)
    second = small_index(small, tmp_path / "b", n_trees=5, search_k=40).approximate().search(vectors, 5)
    np.testing.assert_array_equal(first[0], second[0])
    first_path = small_index(small, tmp_path / "a", n_trees=5).annoy_path()
    assert first_path.is_file()
    assert first_path.name == small_index(small, tmp_path / "b", n_trees=5).annoy_path().name


def test_vocabulary_size_limits_the_answers_to_the_most_frequent_words(small: Embeddings, tmp_path: Path) -> None:
    index = small_index(small, tmp_path, vocabulary_size=10)
    for decoder in (index.exact(), index.approximate()):
        ids, _ = decoder.search(np.array(small.vectors[20:30]), 5)
        assert ids.max() < 10


def test_a_truncated_index_is_rebuilt_not_loaded(small: Embeddings, tmp_path: Path) -> None:
    vectors = np.array(small.vectors[:10])
    expected = small_index(small, tmp_path).approximate().search(vectors, 5)
    path = small_index(small, tmp_path).annoy_path()
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # annoy would crash on this file
    again = small_index(small, tmp_path).approximate().search(vectors, 5)
    np.testing.assert_array_equal(again[0], expected[0])
    assert small_index(small, tmp_path).annoy_path().stat().st_size > 0


def test_an_index_without_its_manifest_is_rebuilt(small: Embeddings, tmp_path: Path) -> None:
    index = small_index(small, tmp_path)
    index.approximate()
    path = index.annoy_path()
    path.with_suffix(".json").unlink()
    path.write_bytes(b"\0" * 64)
    assert isinstance(small_index(small, tmp_path).approximate(), AnnoyDecoder)


def test_unwritable_cache_falls_back_to_exact_with_a_warning(small: Embeddings, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    index = small_index(small, blocker)
    with pytest.warns(IndexFallbackWarning, match="exact search"):
        decoder = index.approximate()
    vectors = np.array(small.vectors[:5])
    np.testing.assert_array_equal(decoder.search(vectors, 3)[0], index.exact().search(vectors, 3)[0])


@pytest.mark.parametrize(
    ("field", "value"), [("n_trees", 0), ("search_k", -5), ("vocabulary_size", 0), ("n_trees", 2.5), ("search_k", True)]
)
def test_bad_index_settings_are_rejected(field: str, value: object) -> None:
    with pytest.raises(InvalidOptionError, match=field):
        Settings(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(("rows", "width", "k"), [(3, 50_000, 5), (7, 100_003, 12), (2, 300, 4), (1, 20_480, 1)])
def test_top_k_equals_torch_topk(rows: int, width: int, k: int) -> None:
    generator = torch.Generator().manual_seed(rows * width)
    scores = torch.randn(rows, width, generator=generator)
    scores[0, -1] = 100.0  # the best score in the last, shorter chunk
    values, indices = top_k(scores, k)
    expected = torch.topk(scores, k, dim=1)
    assert torch.equal(values, expected.values)
    assert torch.equal(torch.gather(scores, 1, indices), expected.values)


def test_hinted_exact_search_is_still_exact(glove: Embeddings) -> None:
    full = ExactDecoder(glove.unit_vectors)
    rng = np.random.default_rng(1)
    for vector in decoded_vectors(glove, stores=4, seed=9):
        expected, _ = full.search(vector[None, :], 5)
        useless = rng.choice(len(glove), size=20, replace=False)  # hints far from the vector
        for hints in ([expected[0]], [useless]):
            got, _ = full.search(vector[None, :], 5, hints=hints)
            assert got.tolist() == expected.tolist()


def test_hinted_annoy_answers_are_exact_cosines_and_include_good_hints(glove: Embeddings, default_index: VocabularyIndex) -> None:
    vector = np.array(glove.keyed_vectors["shape"])
    truth, _ = default_index.exact().search(vector[None, :], 5)
    ids, sims = default_index.approximate().search(vector[None, :], 5, hints=[truth[0]])
    assert ids.tolist() == truth.tolist()
    np.testing.assert_allclose(sims[0], glove.unit_vectors[ids[0]] @ (vector / np.linalg.norm(vector)), rtol=1e-5)


def test_value_hints_are_the_values_nearest_words_and_are_kept(glove: Embeddings, default_index: VocabularyIndex) -> None:
    vectors = np.array(glove.vectors[[100, 200]])
    first = default_index.hints(["test-hint-a", "test-hint-b"], vectors)
    expected, _ = default_index.exact().search(vectors, len(first[0]))
    assert [h.tolist() for h in first] == expected.tolist()
    assert default_index.hints(["test-hint-a"], vectors[:1])[0] is first[0]
