from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors

from fuzzykv import EmbeddingsError, EmptyTextError, NotTextError, UnknownWordError, load_embeddings
from fuzzykv.embed.vectors import Embeddings, fingerprint_of


def test_default_is_the_full_glove_6b_50d_in_frequency_order(glove: Embeddings) -> None:
    assert len(glove) == 400_000 and glove.dim == 50
    assert glove.words[:3] == ["the", ",", "."]
    assert glove.vectors.dtype == np.float32
    # A plain array over the mapping (rows of a memmap are slow to make): later starts map the cached vectors.
    assert not glove.vectors.flags.owndata and isinstance(glove.vectors.base, np.memmap)
    assert "rhombus" in glove and "rhombuss" not in glove


def test_default_is_loaded_once_per_process(glove: Embeddings) -> None:
    assert load_embeddings() is glove


def test_default_fingerprint_is_the_digest_of_words_and_vectors(glove: Embeddings) -> None:
    assert glove.fingerprint == fingerprint_of(glove.words, glove.vectors)


def test_words_are_looked_up_as_written_then_lower_cased(glove: Embeddings) -> None:
    embedded = glove.embed(["Cat"], strict=True)
    assert np.array_equal(embedded.vectors[0], glove.keyed_vectors["cat"])


def test_a_phrase_is_the_mean_of_its_words(glove: Embeddings) -> None:
    embedded = glove.embed(["new  york"], strict=True)
    expected = (glove.keyed_vectors["new"] + glove.keyed_vectors["york"]) / 2
    np.testing.assert_allclose(embedded.vectors[0], expected, rtol=1e-6)


def test_a_query_skips_unknown_words_and_reports_them(glove: Embeddings) -> None:
    embedded = glove.embed(["seven rhombuss"], strict=False)
    assert np.array_equal(embedded.vectors[0], glove.keyed_vectors["seven"])
    assert embedded.ignored == (("rhombuss",),)


def test_a_stored_text_needs_every_word(glove: Embeddings) -> None:
    with pytest.raises(UnknownWordError, match="'creamm'") as caught:
        glove.embed(["ice creamm"], strict=True)
    assert caught.value.words == ("creamm",)


def test_text_with_no_known_word_is_an_unknown_word_error(glove: Embeddings) -> None:
    with pytest.raises(UnknownWordError, match="has no word in the embedding vocabulary"):
        glove.embed(["rhombuss qqqzzx"], strict=False)


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_blank_text_is_rejected(glove: Embeddings, text: str) -> None:
    with pytest.raises(EmptyTextError):
        glove.embed([text], strict=False)


@pytest.mark.parametrize("text", [None, 3, b"cat", ["cat"]])
def test_non_strings_are_rejected(glove: Embeddings, text: object) -> None:
    with pytest.raises(NotTextError, match="expected a string"):
        glove.embed([text], strict=False)


def test_glove_text_file_without_header(glove_file: Path, small_vectors: KeyedVectors) -> None:
    loaded = load_embeddings(glove_file)
    assert len(loaded) == len(small_vectors) == 76 and loaded.dim == 50
    np.testing.assert_array_equal(loaded.keyed_vectors["said"], small_vectors["said"])


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_files_text_and_binary(tmp_path: Path, small_vectors: KeyedVectors, binary: bool) -> None:
    path = tmp_path / ("vectors.bin" if binary else "vectors.txt")
    small_vectors.save_word2vec_format(str(path), binary=binary)
    loaded = load_embeddings(str(path))
    assert loaded.words == small_vectors.index_to_key
    np.testing.assert_allclose(loaded.vectors, small_vectors.vectors, rtol=1e-5)


def test_gensim_native_kv_file_is_memory_mapped(tmp_path: Path, small_vectors: KeyedVectors) -> None:
    path = tmp_path / "vectors.kv"
    small_vectors.save(str(path))
    loaded = load_embeddings(path)
    assert loaded.words == small_vectors.index_to_key
    assert loaded.keyed_vectors.vectors.shape == (76, 50)


def test_keyed_vectors_object_is_used_as_is(small_vectors: KeyedVectors) -> None:
    assert load_embeddings(small_vectors).keyed_vectors is small_vectors


def test_missing_file_is_an_embeddings_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingsError, match="no embeddings file at .*nope.txt"):
        load_embeddings(tmp_path / "nope.txt")


def test_malformed_file_is_an_embeddings_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "broken.txt"
    path.write_text("cat 0.1 0.2\ndog 0.3\n")
    with pytest.raises(EmbeddingsError, match="broken.txt"):
        load_embeddings(path)


def test_gensim_data_name_that_cannot_be_fetched_is_a_clear_error() -> None:
    # Offline here, and a name gensim-data does not have anywhere: both end in the same clear error.
    with pytest.raises(EmbeddingsError, match="gensim-data model 'no-such-model-fuzzykv'.*file path"):
        load_embeddings("no-such-model-fuzzykv")


def test_other_types_are_rejected() -> None:
    with pytest.raises(NotTextError, match="embeddings must be"):
        load_embeddings(42)  # type: ignore[arg-type]


def test_empty_vocabulary_is_rejected() -> None:
    with pytest.raises(EmbeddingsError, match="no vectors"):
        Embeddings(KeyedVectors(5), name="empty")
