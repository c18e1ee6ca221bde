"""The store users hold: pairs embedded once, queried by attention over the keys."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from .attention import Attention, Similarity
from .embeddings import Embedded, EmbeddingsSpec, load_embeddings
from .errors import EmptyDatabaseError, InvalidOptionError, NotTextError
from .index import DEFAULT_N_TREES, DEFAULT_SEARCH_K, IndexSettings, vocabulary_index
from .results import Neighbour, QueryResult

T = TypeVar("T")


@dataclass(frozen=True)
class _Answers:
    """The pipeline's output for a batch of queries, before it is shaped for the caller."""

    ids: np.ndarray  # (b, k) vocabulary rows, best first
    similarities: np.ndarray  # (b, k) their cosine similarity to the blend
    weights: torch.Tensor  # (b, n) attention over the keys
    blended: np.ndarray  # (b, dim)
    ignored: tuple[tuple[str, ...], ...]


class Database(Mapping[str, str]):
    """A fuzzy key-value store over word vectors.

    ``db[key]`` is the exact, dict-like read. ``db.query(text)`` embeds ``text``, takes softmax
    attention over the stored keys, blends the value vectors by those weights and decodes the
    blend to the nearest vocabulary words: the store may answer plausible values it does not hold.

    :param pairs: str -> str, as a mapping or an iterable of (key, value) pairs.
    :param embeddings: ``None`` for GloVe 6B 50d, a gensim ``KeyedVectors``, a vectors file path
        or a gensim-data model name (see :func:`fuzzykv.embeddings.load_embeddings`).
    :param similarity: ``"cosine"`` (default) or ``"dot"``, the write-up's raw dot product.
    :param temperature: divides the attention scores; ``None`` takes the similarity's default.
    :param vocabulary_size: decode only to the N most frequent words (``None``: all of them).
    :param n_trees, search_k: the annoy index's build and search effort.
    :raises NotTextError, EmptyTextError, UnknownWordError: for a pair that cannot be embedded;
        nothing is stored then.
    """

    def __init__(
        self,
        pairs: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        *,
        embeddings: EmbeddingsSpec | None = None,
        similarity: Similarity = "cosine",
        temperature: float | None = None,
        vocabulary_size: int | None = None,
        n_trees: int = DEFAULT_N_TREES,
        search_k: int = DEFAULT_SEARCH_K,
    ) -> None:
        self._attention = Attention(similarity, temperature)
        settings = IndexSettings(vocabulary_size, n_trees, search_k)
        self.embeddings = load_embeddings(embeddings)
        self._index = vocabulary_index(self.embeddings, settings)
        self._pairs = _as_dict(pairs)
        self._keys = list(self._pairs)
        keys = self.embeddings.embed(self._keys, strict=True).vectors
        values = self.embeddings.embed(list(self._pairs.values()), strict=True).vectors
        self._key_matrix = self._attention.prepare(torch.from_numpy(keys))
        self._key_units = torch.nn.functional.normalize(torch.from_numpy(keys), dim=-1)
        self._value_matrix = torch.from_numpy(values)

    # -- the mapping: exact keys, like a dict ------------------------------------------------

    def __getitem__(self, key: str) -> str:
        return self._pairs[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._pairs

    def __repr__(self) -> str:
        a = self._attention
        return (
            f"Database({len(self)} pairs, embeddings={self.embeddings.name!r}, "
            f"similarity={a.similarity!r}, temperature={a.temperature})"
        )

    @property
    def similarity(self) -> Similarity:
        return self._attention.similarity

    @property
    def temperature(self) -> float:
        return float(self._attention.temperature)  # type: ignore[arg-type]

    # -- fuzzy reads --------------------------------------------------------------------------

    def query(self, text: str, k: int = 5, exact: bool = False) -> list[str]:
        """The ``k`` vocabulary words nearest to the attention-blended value vector, best first."""
        return self.query_batch([text], k=k, exact=exact)[0]

    def query_batch(self, texts: Sequence[str], k: int = 5, exact: bool = False) -> list[list[str]]:
        """:meth:`query` for many texts in one pass: one attention product, one decode."""
        answers = self._answer(_as_texts(texts), k, exact)
        words = self._index.words
        return [[words[i] for i in row] for row in answers.ids.tolist()]

    def search(self, text: str, k: int = 5, exact: bool = False, attention_k: int | None = None) -> QueryResult:
        """:meth:`query` with its working: scored candidates, attention weights and the blended vector.

        :param attention_k: list only the heaviest keys (``None``: every key, weights summing to 1).
        """
        shown = len(self) if attention_k is None else min(_positive("attention_k", attention_k), len(self))
        answers = self._answer([text], k, exact)
        top = torch.topk(answers.weights[0], shown, sorted=True)
        words = self._index.words
        return QueryResult(
            text=text,
            candidates=[(words[i], s) for i, s in zip(answers.ids[0].tolist(), answers.similarities[0].tolist())],
            attention=[(self._keys[i], w) for i, w in zip(top.indices.tolist(), top.values.tolist())],
            vector=answers.blended[0],
            ignored=answers.ignored[0],
        )

    def nearest(self, text: str, k: int = 3) -> list[Neighbour]:
        """Exact k-nearest neighbours among the keys: (key, value, cosine similarity), nearest first."""
        k = _positive("k", k)
        query = torch.nn.functional.normalize(torch.from_numpy(self._embed_queries([text]).vectors), dim=-1)
        if not self._keys:
            return []
        top = torch.topk(self._key_units @ query[0], min(k, len(self)), sorted=True)
        return [
            Neighbour(self._keys[i], self._pairs[self._keys[i]], float(s))
            for i, s in zip(top.indices.tolist(), top.values.tolist())
        ]

    def lookup(self, text: str, default: T | None = None) -> str | T | None:
        """The value of a key equal to ``text``, else of the nearest key; ``default`` for an empty store."""
        if isinstance(text, str) and text in self._pairs:
            return self._pairs[text]
        found = self.nearest(text, k=1)
        return found[0].value if found else default

    # -- the pipeline: embed -> attend -> blend -> decode -------------------------------------

    def _embed_queries(self, texts: Sequence[str]) -> Embedded:
        return self.embeddings.embed(texts, strict=False)

    def _answer(self, texts: Sequence[str], k: int, exact: bool) -> _Answers:
        k = _positive("k", k)
        embedded = self._embed_queries(texts)
        if not self._keys:
            raise EmptyDatabaseError("the store holds no pairs, so a query has nothing to attend to; add pairs first")
        queries = self._attention.prepare(torch.from_numpy(embedded.vectors))
        weights = self._attention.weights(queries, self._key_matrix)
        blended = Attention.blend(weights, self._value_matrix)
        ids, sims = self._index.decoder(bool(exact)).search(blended.numpy(), k)
        return _Answers(ids, sims, weights, blended.numpy(), embedded.ignored)


def _as_dict(pairs: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    if isinstance(pairs, (str, bytes)):
        raise NotTextError("pairs must be a mapping of str to str or an iterable of (key, value), got a string")
    try:
        return dict(pairs)
    except (TypeError, ValueError) as error:
        raise NotTextError(
            f"pairs must be a mapping of str to str or an iterable of (key, value) pairs ({error})"
        ) from error


def _as_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise NotTextError(f"query_batch takes a list of strings, got a single {type(texts).__name__}; use query()")
    return list(texts)


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidOptionError(f"{name} must be a positive whole number, got {value!r}")
    return value
