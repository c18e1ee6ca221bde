"""Your own encoders, the CharEncoder for unknown words, and what a store does with them."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from fuzzykv import Database, EmbeddingsError, InvalidOptionError, UnknownWordError
from fuzzykv.embed.encoders import WEIGHTS, CharEncoder, default_char_encoder, encode, spell
from fuzzykv.embed.vectors import Embeddings


def trigram_encoder(texts: list[str]) -> np.ndarray:
    """A deterministic encoder with no vocabulary: hashed character trigrams, 64 dimensions."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for row, text in enumerate(texts):
        padded = f"  {text.lower()}  "
        for i in range(len(padded) - 2):
            out[row, int(hashlib.md5(padded[i : i + 3].encode()).hexdigest(), 16) % 64] += 1.0
    return out


class TrigramModule(torch.nn.Module):
    """The same as an nn.Module: forward takes a list of texts."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(64))

    def forward(self, texts: list[str]) -> torch.Tensor:
        assert not self.training and not torch.is_grad_enabled()
        return torch.from_numpy(trigram_encoder(texts)) * self.scale


SPELLINGS = {"colour": "british", "color": "american", "theatre": "british", "theater": "american"}


@pytest.mark.parametrize("encoder", [trigram_encoder, TrigramModule()])
def test_an_encoder_without_vocabulary_answers_from_the_stored_values(encoder) -> None:
    db = Database(SPELLINGS, encoder=encoder)
    assert db.query("colours", k=2) == ["british", "american"]
    assert db.lookup("theatres") == "british"
    assert db.nearest("colors", k=1)[0].key == "color"
    assert set(db.query("anything at all", k=5)) <= set(SPELLINGS.values())


def test_an_encoder_with_a_vocabulary_decodes_against_it() -> None:
    vocabulary = ["colourful", "theatrical", "zebra"]
    db = Database(SPELLINGS, encoder=trigram_encoder, vocabulary=vocabulary)
    assert set(db.query("colour", k=3)) == set(vocabulary)
    assert db.query("colour", k=1, exact=True) == db.query("colour", k=1)
    closed = Database(SPELLINGS, encoder=trigram_encoder, vocabulary=vocabulary, answers="values")
    assert set(closed.query("colour", k=4)) == set(SPELLINGS.values())


def test_encoder_options_are_checked() -> None:
    with pytest.raises(InvalidOptionError, match="needs a vocabulary"):
        Database(SPELLINGS, encoder=trigram_encoder, candidates="vocabulary")
    with pytest.raises(InvalidOptionError, match="not both"):
        Database(SPELLINGS, encoder=trigram_encoder, embeddings="x.txt")
    with pytest.raises(InvalidOptionError, match="vocabulary goes with encoder"):
        Database(SPELLINGS, vocabulary=["a"])
    with pytest.raises(InvalidOptionError, match=r"\(n, dim\) array"):
        Database(SPELLINGS, encoder=lambda texts: np.zeros(3))


def test_an_encoder_store_needs_something_to_learn_the_dimension_from(tmp_path: Path) -> None:
    with pytest.raises(InvalidOptionError, match="needs pairs or a vocabulary"):
        Database({}, encoder=trigram_encoder)
    assert len(Database({}, encoder=trigram_encoder, vocabulary=["colour"])) == 0


def test_an_encoder_that_only_reads_its_own_domain() -> None:
    def numbers(texts: list[str]) -> np.ndarray:  # fails on anything but numbers, as real encoders do
        return np.array([[float(v) for v in t.split()] for t in texts], dtype=np.float32)

    # keys, values and queries share the encoder's space, so the values are in its domain too
    db = Database({"1 0": "2 0", "0 1": "0 2", "-1 0": "-2 0"}, encoder=numbers)
    assert db.classify("0.9 0.2", k=1).label == "2 0"
    assert db.query("0.1 0.9", k=1) == ["0 2"]


def test_the_char_encoder_ships_and_loads_offline() -> None:
    assert WEIGHTS.is_file() and WEIGHTS.stat().st_size < 5_000_000
    model = CharEncoder.load()
    assert encode(model, ["rhombuss", "zzq"]).shape == (2, 50)
    assert default_char_encoder() is default_char_encoder()
    assert spell(["Ab"]).tolist()[0][:4] == [1, 4, 5, 2]


def test_the_char_encoder_reads_spelling(glove: Embeddings) -> None:
    words = [w for w in glove.words[1_000:3_000] if w.isalpha()][:500]
    predicted = encode(default_char_encoder(), words)
    true = np.array([glove.keyed_vectors[w] for w in words])
    cosine = np.sum(predicted * true, axis=1) / (np.linalg.norm(predicted, axis=1) * np.linalg.norm(true, axis=1))
    shuffled = np.sum(predicted * true[::-1], axis=1) / (np.linalg.norm(predicted, axis=1) * np.linalg.norm(true[::-1], axis=1))
    assert cosine.mean() > shuffled.mean() + 0.2, (cosine.mean(), shuffled.mean())


def test_unknown_chars_answers_misspellings_and_says_they_are_approximate(glove: Embeddings) -> None:
    pairs = {"one": "number", "cat": "animal", "sphere": "shape", "male": "gender"}
    with pytest.raises(UnknownWordError):
        Database(pairs, unknown="error").query("rhombuss")
    db = Database(pairs, unknown="chars")
    result = db.search("rhombuss")
    assert result.spelled == ("rhombuss",) and result.approximate and len(result.candidates) == 5
    assert not db.search("rhombus").approximate
    with pytest.raises(UnknownWordError):  # stored texts follow unknown_stored, "error" by default
        db["kittenz"] = "animal"
    guessing = Database(pairs, unknown_stored="chars")
    guessing["kittenz"] = "animal"  # a stored word without a vector is embedded from its spelling
    assert guessing["kittenz"] == "animal"


def test_unknown_chars_needs_the_default_glove(glove_file: Path) -> None:
    with pytest.raises(InvalidOptionError, match="GloVe 6B 50d"):
        Database({"said": "was"}, embeddings=glove_file, unknown="chars")
    with pytest.raises(InvalidOptionError, match="unknown must be one of"):
        Database({"cat": "animal"}, unknown="guess")  # type: ignore[arg-type]


def test_damaged_char_encoder_weights_are_refused_before_torch_reads_them(tmp_path: Path) -> None:
    copy = tmp_path / "char_encoder.pt"
    copy.write_bytes(WEIGHTS.read_bytes())
    (tmp_path / "char_encoder.pt.xxh3").write_text((WEIGHTS.parent / "char_encoder.pt.xxh3").read_text())
    assert isinstance(CharEncoder.load(copy), CharEncoder)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(EmbeddingsError, match="damaged"):
        CharEncoder.load(copy)


@pytest.mark.parametrize(("output", "says"), [
    (lambda texts: np.full((len(texts), 4), 1e30), "too large"),
    (lambda texts: [["a", "b"] for _ in texts], "numbers"),
    (lambda texts: [object() for _ in texts], "numbers"),
])
def test_an_encoder_returning_unusable_vectors_is_a_typed_error(output, says: str) -> None:
    from fuzzykv import EncoderOutputError

    with pytest.raises(EncoderOutputError, match=says):
        Database({"cat": "animal"}, encoder=output)
    fine = Database({"cat": "animal", "dog": "animal"}, encoder=lambda texts: np.ones((len(texts), 4)) * 1e3)
    assert np.isfinite(fine.search("cat").best_similarity)
