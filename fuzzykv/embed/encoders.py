"""Encoders beyond word lookup: a character model for words GloVe lacks, and your own encoders.

``CharEncoder`` reads a word's spelling and predicts its GloVe 6B 50d vector. It was trained on
the GloVe vocabulary itself (``scripts/train_char_encoder.py``), and its weights ship in
``fuzzykv/data/char_encoder.pt``.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Union

import numpy as np
import torch
from gensim.models import KeyedVectors
from torch import nn

from ..cache import digest_of
from ..errors import EmbeddingsError, EmptyTextError, EncoderOutputError, InvalidOptionError, NotTextError
from .vectors import Embedded

WEIGHTS = Path(__file__).parent.parent / "data" / "char_encoder.pt"

#: Characters the model knows; anything else reads as one "other" character.
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-'.&"
PAD, START, END, OTHER = 0, 1, 2, 3
MAX_CHARS = 24

#: An encoder: any callable from a list of texts to an (n, dim) array or tensor, or an ``nn.Module``
#: whose ``forward`` takes a list of texts and returns an (n, dim) tensor (called in eval mode,
#: without gradients).
Encoder = Union[Callable[[list[str]], "np.ndarray | torch.Tensor"], nn.Module]


def misspell(word: str, rng: random.Random) -> str:
    """``word`` with one edit: a letter deleted, inserted, replaced, or swapped with the next.

    The misspellings the CharEncoder is trained on and measured against.
    """
    letters = string.ascii_lowercase
    i = rng.randrange(len(word))
    kind = rng.choice(("delete", "insert", "replace", "swap") if len(word) > 3 else ("insert", "replace"))
    if kind == "delete":
        return word[:i] + word[i + 1 :]
    if kind == "insert":
        return word[:i] + rng.choice(letters) + word[i:]
    if kind == "replace":
        return word[:i] + rng.choice(letters.replace(word[i], "")) + word[i + 1 :]
    i = min(i, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def spell(words: Sequence[str]) -> torch.Tensor:
    """Words as (n, MAX_CHARS + 2) character ids: start, the lower-cased letters, end, padding."""
    index = {c: i + 4 for i, c in enumerate(ALPHABET)}
    ids = torch.full((len(words), MAX_CHARS + 2), PAD, dtype=torch.long)
    for row, word in enumerate(words):
        chars = [index.get(c, OTHER) for c in word.lower()[:MAX_CHARS]]
        ids[row, : len(chars) + 2] = torch.tensor([START, *chars, END])
    return ids


class CharEncoder(nn.Module):
    """Spelling -> word vector: character embeddings, two convolutions, max and mean pooling, an MLP."""

    def __init__(self, dim: int = 50, chars: int = 32, width: int = 256) -> None:
        super().__init__()
        self.config = {"dim": dim, "chars": chars, "width": width}
        self.embed = nn.Embedding(len(ALPHABET) + 4, chars, padding_idx=PAD)
        self.convolve = nn.Sequential(
            nn.Conv1d(chars, width, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv1d(width, width, kernel_size=3, padding=1), nn.ReLU(),
        )
        self.project = nn.Sequential(nn.Linear(2 * width, width), nn.ReLU(), nn.Linear(width, dim))

    def forward(self, words: Sequence[str]) -> torch.Tensor:
        """(n, dim) predicted word vectors for ``words``, from their spelling alone."""
        out: torch.Tensor = self.from_ids(spell(words))
        return out

    def from_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """(n, dim) predicted vectors for (n, length) character ids from :func:`spell` (training feeds ids)."""
        mask = (ids != PAD).unsqueeze(1)  # (n, 1, length)
        features = self.convolve(self.embed(ids).transpose(1, 2))  # (n, width, length)
        largest = features.masked_fill(~mask, float("-inf")).amax(dim=2)
        mean = (features * mask).sum(dim=2) / mask.sum(dim=2)
        out: torch.Tensor = self.project(torch.cat([largest, mean], dim=1))
        return out

    def save(self, path: Path = WEIGHTS) -> None:
        """Write the weights as float16 with the model's shape, alphabet and word length limit, and
        the file's digest beside it for :meth:`load`.
        """
        state = {name: tensor.half() for name, tensor in self.state_dict().items()}
        torch.save({"config": self.config, "alphabet": ALPHABET, "max_chars": MAX_CHARS, "state": state}, path)
        path.with_name(path.name + ".xxh3").write_text(digest_of(path) + "\n")

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> CharEncoder:
        """Weights saved by :meth:`save`, checked whole against the digest saved beside them first."""
        digest_file = path.with_name(path.name + ".xxh3")
        try:
            expected = digest_file.read_text().strip()
            saved = torch.load(path, map_location="cpu", weights_only=True) if digest_of(path) == expected else None
        except (OSError, RuntimeError, ValueError) as error:
            raise EmbeddingsError(f"the CharEncoder weights {str(path)!r} cannot be read ({error}); reinstall fuzzykv") from error
        if saved is None:
            raise EmbeddingsError(
                f"the CharEncoder weights {str(path)!r} do not match their digest {str(digest_file)!r}: the file is "
                "damaged; reinstall fuzzykv (or retrain: python scripts/train_char_encoder.py)"
            )
        if saved["alphabet"] != ALPHABET or saved["max_chars"] != MAX_CHARS:
            raise ValueError(f"{path} was trained with another alphabet; retrain it with scripts/train_char_encoder.py")
        model = cls(**saved["config"])
        model.load_state_dict({name: tensor.float() for name, tensor in saved["state"].items()})
        return model.eval()


_default: CharEncoder | None = None


def default_char_encoder() -> CharEncoder:
    """The shipped CharEncoder, loaded once per process."""
    global _default
    if _default is None:
        _default = CharEncoder.load()
    return _default


def encode(encoder: Encoder, texts: list[str]) -> np.ndarray:
    """Run an encoder on texts: (n, dim) float32, whatever the encoder returns."""
    if isinstance(encoder, nn.Module):
        was_training = encoder.training
        encoder.eval()
        try:
            with torch.no_grad():
                out = encoder(texts)
        finally:
            encoder.train(was_training)
    else:
        with torch.no_grad():
            out = encoder(texts)
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu().numpy()
    try:
        array = np.asarray(out, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise EncoderOutputError(
            f"an encoder must return numbers (an (n, dim) array of floats); for {texts[:3]!r} it returned "
            f"{type(out).__name__} {str(out)[:80]!r} ({error}): fix the encoder"
        ) from error
    if array.ndim != 2 or array.shape[0] != len(texts):
        raise InvalidOptionError(
            f"an encoder must return an (n, dim) array for n texts; for {len(texts)} texts it returned shape {array.shape}"
        )
    if not np.isfinite(array).all():
        finite = [bool(np.isfinite(row).all()) for row in array]
        bad = [text for text, ok in zip(texts, finite) if not ok]
        raise EncoderOutputError(
            f"the encoder returned non-finite values (NaN or infinity) for {bad[:5]!r}; nothing was stored: "
            "fix the encoder (or its inputs)"
        )
    # NOTE: cosine similarity squares the values: past ~1.8e19 a float32 square is infinite and the
    # similarities NaN, so such vectors are refused here rather than answered with NaN.
    squares = np.einsum("ij,ij->i", array, array)
    if not np.isfinite(squares).all():
        bad = [text for text, ok in zip(texts, np.isfinite(squares).tolist()) if not ok]
        raise EncoderOutputError(
            f"the encoder returned values too large to compare (up to {float(np.abs(array).max()):.3g}; their squares "
            f"overflow float32) for {bad[:5]!r}; nothing was stored: scale the encoder's output (e.g. normalise it)"
        )
    return array


class EncoderEmbeddings:
    """Your own encoder in the place of word vectors: each whole text is one input to it.

    :param vocabulary: texts the encoder's answers are decoded against (``None``: decode against
        the store's values only, ``candidates="values"``).
    :param sample: texts of the store's own (its first keys), from which the encoder's dimension is
        learnt when there is no vocabulary: an encoder need only accept the texts of its domain.
    """

    def __init__(self, encoder: Encoder, vocabulary: Sequence[str] | None = None, sample: Sequence[str] = ()) -> None:
        from .vectors import Embeddings  # the vocabulary, when given, is searched like word vectors

        self.encoder = encoder
        self.name = f"encoder:{type(encoder).__name__}"
        self.vocabulary: Embeddings | None = None
        if vocabulary is not None:
            words = [str(w) for w in vocabulary]
            if not words:
                raise InvalidOptionError("vocabulary is empty; pass the texts to decode against, or None for the stored values")
            vectors = encode(encoder, words)
            keyed = KeyedVectors(vectors.shape[1])
            keyed.add_vectors(words, vectors)
            self.vocabulary = Embeddings(keyed, name=f"{self.name} vocabulary")
            self.dim = int(vectors.shape[1])
        elif sample:
            self.dim = int(encode(encoder, [str(sample[0])]).shape[1])
        else:
            raise InvalidOptionError(
                "a store with your own encoder needs pairs or a vocabulary to start with: fuzzykv learns the "
                "encoder's dimension from them"
            )

    def __repr__(self) -> str:
        return f"EncoderEmbeddings({self.name!r}, dim {self.dim})"

    def embed(self, texts: Sequence[object], *, strict: bool) -> Embedded:
        """Each whole text through the encoder, one vector per text: no word is ever unknown, so
        nothing is ignored or corrected, and ``strict`` changes nothing (it is there to match :class:`Embeddings`).

        :raises NotTextError: on the first text that is not a string.
        :raises EmptyTextError: on the first text that is empty or only white space.
        :raises InvalidOptionError: the encoder changed its dimension since the store learnt it.
        """
        for text in texts:
            if not isinstance(text, str):
                raise NotTextError(f"expected a string, got {type(text).__name__}: {text!r}")
            if not text.strip():
                raise EmptyTextError(f"expected a word or more, got the empty or blank text {text!r}")
        if not texts:
            return Embedded(np.empty((0, self.dim), dtype=np.float32), (), ())
        vectors = encode(self.encoder, list(texts))  # type: ignore[arg-type]
        if vectors.shape[1] != self.dim:
            raise InvalidOptionError(
                f"the encoder returned {vectors.shape[1]}-dimensional vectors, earlier {self.dim}-dimensional ones"
            )
        return Embedded(vectors, tuple(() for _ in texts), tuple(() for _ in texts), tuple(() for _ in texts))
