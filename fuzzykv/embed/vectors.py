"""Text -> vectors: the word vectors fuzzykv embeds keys, values and queries with, and the rule that
turns a text into one vector.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ..errors import EmbeddingsError, EmptyTextError, NotTextError, UnknownWordError

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

DEFAULT_NAME = "glove-6b-50d"
_PUNCTUATION = string.punctuation + "“”‘’«»…"


@dataclass(frozen=True)
class Correction:
    """A word without a vector that was read as a known word: ``typed`` -> ``used``, ``distance`` edits apart."""

    typed: str
    used: str
    distance: int


@dataclass(frozen=True)
class Resolved:
    """A vector found for a word the vocabulary lacks: by correcting its spelling, or guessed from it."""

    vector: np.ndarray
    correction: Correction | None = None  # None: guessed by the character model


#: Finds vectors for words the vocabulary lacks (``None`` where it cannot): see fuzzykv.embed.unknown.
Resolver = Callable[[list[str]], list["Resolved | None"]]


@dataclass(frozen=True)
class Embedded:
    """Texts turned into vectors: one row per text; per text, the words it had no vector for, the
    words whose vectors were guessed from their spelling, and the words read as corrected spellings.
    """

    vectors: np.ndarray  # (n, dim) float32
    ignored: tuple[tuple[str, ...], ...]
    spelled: tuple[tuple[str, ...], ...] = ()
    corrections: tuple[tuple[Correction, ...], ...] = ()


class Embeddings:
    """Word vectors and the rule that turns a text into one vector.

    A text is split on white space; each word is looked up as written, then lower-cased (GloVe 6B
    is lower-cased, so "Cat" finds "cat"), then without surrounding punctuation ("rhombus," finds
    "rhombus"); the text's vector is the mean of its words' vectors, so "new york" and "ice cream"
    embed as phrases.
    """

    def __init__(self, keyed_vectors: KeyedVectors, name: str, fingerprint: str | None = None) -> None:
        self._keyed_vectors: KeyedVectors | None = keyed_vectors
        self._setup(keyed_vectors.index_to_key, keyed_vectors.vectors, keyed_vectors.key_to_index, name, fingerprint)

    @classmethod
    def of_arrays(cls, words: list[str], vectors: np.ndarray, name: str, fingerprint: str | None = None) -> Embeddings:
        """Words and their (n, dim) vectors as they are (a memory map stays one), without gensim.

        The default GloVe loads this way: gensim (and scipy, which it imports) cost about a second
        of start-up that a store answering from a mapped ``.npy`` does not need.
        """
        embeddings = cls.__new__(cls)
        embeddings._keyed_vectors = None
        embeddings._setup(words, vectors, {word: row for row, word in enumerate(words)}, name, fingerprint)
        return embeddings

    def _setup(self, words: list[str], vectors: np.ndarray, index: dict[str, int], name: str,
               fingerprint: str | None) -> None:
        if len(words) == 0:
            raise EmbeddingsError(f"the embeddings {name!r} hold no vectors; pass a non-empty vocabulary")
        self._words = words
        self._vectors = vectors
        self._index = index
        self.name = name
        self._fingerprint = fingerprint

    @property
    def keyed_vectors(self) -> KeyedVectors:
        """The vectors as a gensim ``KeyedVectors`` (made on first use, over the same arrays, for
        embeddings that did not come as one).
        """
        if self._keyed_vectors is None:

            self._keyed_vectors = keyed_vectors_of(self._words, self._vectors, self._index)
        return self._keyed_vectors

    def __repr__(self) -> str:
        return f"Embeddings({self.name!r}, {len(self):,} words x {self.dim})"

    def __len__(self) -> int:
        return len(self._words)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.index_of(word) is not None

    @property
    def dim(self) -> int:
        """The length of every word vector (50 for the default GloVe)."""
        return int(self._vectors.shape[1])

    @property
    def words(self) -> list[str]:
        """The vocabulary, in the order of the rows of :attr:`vectors` (frequency order for GloVe)."""
        return self._words

    @property
    def vectors(self) -> np.ndarray:
        """The (words, dim) float32 word vectors, as loaded (often a read-only memory map: do not write to it)."""
        return self._vectors

    @cached_property
    def unit_vectors(self) -> np.ndarray:
        """Every vocabulary vector scaled to length 1 (a zero vector stays zero)."""
        vectors = np.asarray(self.vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: np.ndarray = vectors / np.maximum(norms, np.finfo(np.float32).tiny)
        return unit

    @property
    def fingerprint(self) -> str:
        """A digest of the words and vectors: names the annoy index built over them."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint_of(self.words, self.vectors)
        return self._fingerprint

    def index_of(self, word: str) -> int | None:
        """The row of ``word``: as written, lower-cased, or without surrounding punctuation; else None."""
        index = self._index
        for form in (word, word.lower(), word.strip(_PUNCTUATION).lower()):
            found = index.get(form)
            if found is not None:
                return int(found)
        return None

    def tokens(self, text: object) -> list[str]:
        """The words of ``text``; a non-string or a blank string is rejected with a typed error."""
        if not isinstance(text, str):
            raise NotTextError(f"expected a string, got {type(text).__name__}: {text!r}")
        words = text.split()
        if not words:
            raise EmptyTextError(f"expected a word or more, got the empty or blank text {text!r}")
        return words

    def embed(self, texts: Sequence[object], *, strict: bool, resolver: Resolver | None = None) -> Embedded:
        """Embed each text as the mean of its words' vectors.

        :param strict: every word must have a vector (stored keys and values); otherwise words
            without one are skipped as long as one word of the text has a vector (queries).
        :param resolver: finds vectors for words without one (spelling correction, character model).
        :raises NotTextError: on the first text that is not a string.
        :raises EmptyTextError: on the first text that is empty or only white space.
        :raises UnknownWordError: naming every word, of every text, that has no vector.
        """
        lean = self._all_known(texts[0]) if len(texts) == 1 else None
        if lean is not None:
            return lean
        tokens = [self.tokens(text) for text in texts]
        found = [[self.index_of(w) for w in words] for words in tokens]
        missing_words = sorted({w for words, rows in zip(tokens, found) for w, i in zip(words, rows) if i is None})
        resolved: dict[str, Resolved] = {}
        if missing_words and resolver is not None:
            resolved = {w: r for w, r in zip(missing_words, resolver(missing_words)) if r is not None}
        rows = np.empty((len(texts), self.dim), dtype=np.float32)
        ignored: list[tuple[str, ...]] = []
        spelled: list[tuple[str, ...]] = []
        corrections: list[tuple[Correction, ...]] = []
        failed: list[tuple[str, tuple[str, ...], bool]] = []
        for row, (text, words, indexes) in enumerate(zip(texts, tokens, found)):
            known: list[np.ndarray] = []
            missing: list[str] = []
            guessed: list[str] = []
            corrected: list[Correction] = []
            for word, i in zip(words, indexes):
                if i is not None:
                    known.append(self.vectors[i])
                elif word in resolved:
                    known.append(resolved[word].vector)
                    correction = resolved[word].correction
                    (guessed.append(word) if correction is None else corrected.append(correction))
                else:
                    missing.append(word)
            if missing and (strict or not known):
                failed.append((str(text), tuple(missing), not known))
                continue
            rows[row] = known[0] if len(known) == 1 else np.mean(known, axis=0)
            ignored.append(tuple(missing))
            spelled.append(tuple(guessed))
            corrections.append(tuple(corrected))
        if failed:
            raise _unknown(failed, len(self))
        if not np.isfinite(rows).all():
            raise EmbeddingsError(
                f"the embeddings {self.name!r} hold non-finite values (NaN or infinity) for some of {list(texts)[:5]!r}; "
                "repair the vectors file"
            )
        return Embedded(rows, tuple(ignored), tuple(spelled), tuple(corrections))

    def _all_known(self, text: object) -> Embedded | None:
        """One text whose every word has a vector, embedded as :meth:`embed` does, with none of its
        bookkeeping (the lean path of a query); ``None`` for any other text.
        """
        if not isinstance(text, str):
            return None
        words = text.split()
        found = [self.index_of(word) for word in words]
        rows = [row for row in found if row is not None]
        if not words or len(rows) < len(found):
            return None
        one = np.empty((1, self.dim), dtype=np.float32)
        one[0] = self.vectors[rows[0]] if len(words) == 1 else np.mean(self.vectors[rows], axis=0)
        return Embedded(one, ((),), ((),), ((),)) if np.isfinite(one).all() else None


def _unknown(failed: list[tuple[str, tuple[str, ...], bool]], vocabulary_size: int) -> UnknownWordError:
    """One error naming every unknown word of every text that failed."""
    if len(failed) == 1:
        text, words, every_word = failed[0]
        return UnknownWordError(text, words, vocabulary_size, every_word=every_word)
    words = tuple(dict.fromkeys(word for _, missing, _ in failed for word in missing))
    return UnknownWordError(" | ".join(text for text, _, _ in failed), words, vocabulary_size, every_word=False)


def fingerprint_of(words: Sequence[str], vectors: np.ndarray) -> str:
    """blake2b over the vocabulary and the raw vector bytes, in row order."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(str(vectors.shape).encode())
    digest.update("\n".join(words).encode("utf-8"))
    digest.update(np.ascontiguousarray(vectors, dtype=np.float32).data)
    return digest.hexdigest()


def keyed_vectors_of(words: list[str], vectors: np.ndarray, index: dict[str, int] | None = None) -> KeyedVectors:
    """A gensim ``KeyedVectors`` over ``vectors`` as they are (a memory map stays one), without a copy."""
    from gensim.models import KeyedVectors

    keyed_vectors = KeyedVectors(vectors.shape[1])
    keyed_vectors.index_to_key = words
    keyed_vectors.key_to_index = index if index is not None else {word: row for row, word in enumerate(words)}
    keyed_vectors.vectors = vectors
    return keyed_vectors
