from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import whole_vocabulary_blends

from fuzzykv import IndexFallbackWarning, InvalidOptionError
from fuzzykv.annoy_index import AnnoyDecoder
from fuzzykv.attention import Attention, score
from fuzzykv.cache import CacheLayout
from fuzzykv.decode import HINT_WORDS, IndexSettings, VocabularyIndex, vocabulary_index
from fuzzykv.embeddings import Embeddings
from fuzzykv.exact import ExactDecoder
from fuzzykv.loading import load_embeddings
from fuzzykv.matrix import unit_rows
from fuzzykv.settings import Settings

ANNOY = IndexSettings(index="annoy")


def decoded_vectors(glove: Embeddings, stores: int, seed: int) -> np.ndarray:
    """Blended value vectors of random stores of frequent words: what the decoder really sees."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(stores):
        n = int(rng.integers(2, 25))
        ids = rng.choice(50_000, size=2 * n + 4, replace=False)
        parts = (ids[:n], ids[n : 2 * n], ids[2 * n :])
        keys, values, queries = (torch.from_numpy(np.array(glove.vectors[i])) for i in parts)
        found = score(queries, *(torch.from_numpy(a) for a in unit_rows(keys.numpy())))
        for similarity in ("cosine", "dot"):
            weights = Attention(similarity).weights(found)
            out.append(Attention.blend(weights, values).numpy())
    return np.concatenate(out)


@pytest.fixture(scope="module")
def default_index(glove: Embeddings) -> VocabularyIndex:
    """The annoy index at its default settings (the write-up's index; HNSW is tested in test_hnsw_index.py)."""
    return vocabulary_index(glove, ANNOY)


def test_exact_decode_equals_gensim_similar_by_vector(glove: Embeddings, default_index: VocabularyIndex) -> None:
    vectors = decoded_vectors(glove, stores=25, seed=7)
    ids, sims = default_index.exact().search(vectors, 10)
    for vector, row_ids, row_sims in zip(vectors, ids, sims):
        expected = glove.keyed_vectors.similar_by_vector(vector, topn=10)
        assert [glove.words[i] for i in row_ids] == [word for word, _ in expected]
        np.testing.assert_allclose(row_sims, [s for _, s in expected], atol=1e-5)


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
    assert vocabulary_index(glove, ANNOY) is default_index
    assert default_index.annoy_path().exists()


@pytest.fixture()
def small(glove_file: Path) -> Embeddings:
    return load_embeddings(glove_file)


def small_index(small: Embeddings, root: Path, **settings: Any) -> VocabularyIndex:
    """An index over gensim's GloVe slice in its own cache folder: annoy unless ``index=`` says otherwise."""
    return VocabularyIndex(small, IndexSettings(**{"index": "annoy", **settings}), CacheLayout(root))


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
    path.with_name(path.name + ".manifest.json").unlink()
    path.write_bytes(b"\0" * 64)
    assert isinstance(small_index(small, tmp_path).approximate(), AnnoyDecoder)


@pytest.mark.parametrize("kind", ["annoy", "hnsw"])
def test_unwritable_cache_falls_back_to_exact_with_a_warning(small: Embeddings, tmp_path: Path, kind: str) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    index = small_index(small, blocker, index=kind)
    with pytest.warns(IndexFallbackWarning, match="exact search"):
        decoder = index.approximate()
    vectors = np.array(small.vectors[:5])
    np.testing.assert_array_equal(decoder.search(vectors, 3)[0], index.exact().search(vectors, 3)[0])


@pytest.mark.parametrize(
    ("field", "value"), [("n_trees", 0), ("search_k", -5), ("vocabulary_size", 0), ("n_trees", 2.5), ("search_k", True),
                         ("index", "faiss"), ("hnsw_m", 0), ("hnsw_ef_search", 1.5), ("hnsw_ef_construction", None)]
)
def test_bad_index_settings_are_rejected(field: str, value: object) -> None:
    with pytest.raises(InvalidOptionError, match=field):
        Settings(**{field: value})  # type: ignore[arg-type]


def test_hinted_exact_search_is_still_exact(glove: Embeddings) -> None:
    full = ExactDecoder(glove.unit_vectors)
    rng = np.random.default_rng(1)
    for vector in decoded_vectors(glove, stores=4, seed=9):
        expected, _ = full.search(vector[None, :], 5)
        useless = rng.choice(len(glove), size=20, replace=False)  # hints far from the vector
        for hints in ([expected[0]], [useless]):
            got, _ = full.search(vector[None, :], 5, hints=hints)
            assert got.tolist() == expected.tolist()


def test_hinted_annoy_answers_are_exact_cosines_and_include_good_hints(
    glove: Embeddings, default_index: VocabularyIndex
) -> None:
    vector = np.array(glove.keyed_vectors["shape"])
    truth, _ = default_index.exact().search(vector[None, :], 5)
    ids, sims = default_index.approximate().search(vector[None, :], 5, hints=[truth[0]])
    assert ids.tolist() == truth.tolist()
    np.testing.assert_allclose(sims[0], glove.unit_vectors[ids[0]] @ (vector / np.linalg.norm(vector)), rtol=1e-5)


def test_value_hints_are_annoys_nearest_words_and_are_kept(glove: Embeddings, default_index: VocabularyIndex) -> None:
    default_index.approximate()
    vectors = np.array(glove.vectors[[100, 200]])
    first = default_index.hints(["test-hint-a", "test-hint-b"], vectors)
    truth, _ = default_index.exact().search(vectors, HINT_WORDS)
    for hint, true in zip(first, truth):
        assert len(hint) == HINT_WORDS
        assert len(set(hint.tolist()) & set(true.tolist())) >= HINT_WORDS // 2  # a small search, near the truth
    assert default_index.hints(["test-hint-a"], vectors[:1])[0] is first[0]


def test_hints_never_scan_the_vocabulary_however_many_values(
    glove: Embeddings, default_index: VocabularyIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    default_index.approximate()
    scans: list[str] = []
    for method in ("search", "full_scan"):
        original = getattr(ExactDecoder, method)

        def counted(self: ExactDecoder, *args: object, _original: object = original, _name: str = method) -> object:
            scans.append(_name)
            return _original(self, *args)  # type: ignore[operator]

        monkeypatch.setattr(ExactDecoder, method, counted)
    rng = np.random.default_rng(2)
    for count in (10, 300):
        rows = rng.choice(len(glove), size=count, replace=False)
        hints = default_index.hints([f"distinct-value-{count}-{r}" for r in rows], np.array(glove.vectors[rows]))
        assert len(hints) == count
    assert scans == []


def test_before_annoy_opens_hints_are_empty_and_cost_nothing(small: Embeddings, tmp_path: Path) -> None:
    index = small_index(small, tmp_path)
    hints = index.hints(["a", "b"], np.array(small.vectors[:2]))
    assert [len(h) for h in hints] == [0, 0]
    assert not index.annoy_path().exists()  # asking for hints never builds the index


def test_annoy_recall_with_hints_on_big_store_blends(glove: Embeddings, default_index: VocabularyIndex) -> None:
    """Blends of a 100,000-key store from the whole vocabulary: what db.query decodes (annoy and value hints)."""
    approximate = default_index.approximate()
    blends, heaviest = whole_vocabulary_blends(glove, stores=2, keys=100_000, seed=13)
    hints = [np.unique(np.concatenate(default_index.hints([f"big-{i}-a", f"big-{i}-b"], pair)))
             for i, pair in enumerate(heaviest)]
    found, _ = approximate.search(blends, 5, hints)
    truth, _ = default_index.exact().search(blends, 5)
    recall = np.mean([len(set(a) & set(t)) / 5 for a, t in zip(found.tolist(), truth.tolist())])
    assert recall >= 0.95, f"annoy recall@5 on big-store blends is {recall:.3f}"
