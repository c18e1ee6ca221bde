"""The store users hold: a thin facade that wires text -> vectors -> attention -> decode -> results
from one :class:`~fuzzykv.settings.Settings`, over pairs kept in memory or in a store file.
"""

from __future__ import annotations

import math
import os
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
from typing_extensions import Unpack

from .embed.choose import embeddings_for
from .embed.compose import embed_query
from .embed.loading import EmbeddingsSpec
from .embed.unknown import check_policy, resolver
from .embed.vectors import Embedded, Embeddings
from .errors import EmptyDatabaseError, InvalidOptionError
from .interface import BaseDatabase, SearchOptions, as_dict
from .results import Classification, Neighbour, QueryResult
from .search.pipeline import CLASSIFY_KEYS, Answered, Part, Pipeline
from .settings import Options, Settings, given_options, positive_int
from .store.record import PROBES, StoreRecord, record_of
from .store.rows import Rows
from .store.sqlite import Store
from .store.synced import SyncedPairs

if TYPE_CHECKING:  # NOTE: encoders import torch, which only a store with an encoder needs
    from .embed.encoders import Encoder, EncoderEmbeddings

AnyEmbeddings: TypeAlias = "Embeddings | EncoderEmbeddings"


class LocalDatabase(BaseDatabase):
    """A front door that embeds texts on this side and answers from their vectors: one store
    (:class:`Database`), or a sharded store's driver, which merges its shards' parts.
    """

    settings: Settings

    @abstractmethod
    def _embed_queries(self, texts: Sequence[object]) -> Embedded:
        """Query texts -> vectors, with this store's unknown-word policy."""

    @abstractmethod
    def _answer(self, vectors: np.ndarray, options: SearchOptions) -> Answered:
        """Attend, blend and decode for (b, dim) query vectors."""

    @abstractmethod
    def _parts(self, vectors: np.ndarray, top: int) -> list[Part]:
        """The attention of (b, dim) query vectors, one part per piece of the store."""

    @abstractmethod
    def _nearest_to(self, vector: np.ndarray, k: int) -> list[Neighbour]:
        """The ``k`` keys nearest to a query vector, exactly, nearest first."""

    def _search(self, text: str | None, positive: list[str], negative: list[str], options: SearchOptions) -> QueryResult:
        embedded, shown = embed_query(self._embed_queries, text, positive, negative)
        return self._answer(embedded.vectors, options).result(0, shown, embedded).weighed(options.threshold)

    def _search_batch(self, texts: list[str], options: SearchOptions) -> list[QueryResult]:
        embedded = self._embed_queries(texts)
        answers = self._answer(embedded.vectors, options)
        return [answers.result(i, text, embedded).weighed(options.threshold) for i, text in enumerate(texts)]

    def _query(self, text: str | None, positive: list[str], negative: list[str], options: SearchOptions) -> list[str]:
        embedded, shown = embed_query(self._embed_queries, text, positive, negative)
        answers = self._answer(embedded.vectors, options)
        if embedded.spelled and embedded.spelled[0] and options.threshold != -math.inf:  # a guess lowers the confidence
            return answers.result(0, shown, embedded).weighed(options.threshold).words
        return answers.words_of(0, options.threshold)

    def _query_batch(self, texts: list[str], options: SearchOptions) -> list[list[str]]:
        embedded = self._embed_queries(texts)
        answers = self._answer(embedded.vectors, options)
        return [answers.result(i, text, embedded).weighed(options.threshold).words
                if embedded.spelled and embedded.spelled[i] and options.threshold != -math.inf
                else answers.words_of(i, options.threshold) for i, text in enumerate(texts)]

    def _nearest(self, text: str, k: int) -> list[Neighbour]:
        return self._nearest_to(self._embed_queries([text]).vectors[0], k)

    def _classify(self, text: str, k: int) -> Classification:
        vector = self._embed_queries([text]).vectors
        scores = Pipeline.votes(_heaviest(self._parts(vector, CLASSIFY_KEYS), CLASSIFY_KEYS))[0]
        return Classification(label=scores[0][0], scores=scores, neighbours=self._nearest_to(vector[0], k))


class Database(LocalDatabase):
    """A fuzzy key-value store over word vectors.

    ``db[key]`` is the exact, dict-like read. ``db.query(text)`` embeds ``text``, takes softmax
    attention over the stored keys, blends the value vectors by those weights and decodes the
    blend to the nearest vocabulary words: the store may answer plausible values it does not hold.

    ``Database(pairs)`` lives in memory; :meth:`Database.open` keeps the pairs in a file.

    :param pairs: str -> str, as a mapping or an iterable of (key, value) pairs.
    :param settings: a :class:`~fuzzykv.settings.Settings`; keyword options override its fields.
    :param embeddings: ``None`` for GloVe 6B 50d, a gensim ``KeyedVectors``, a vectors file path
        or a gensim-data model name (see :func:`fuzzykv.load_embeddings`).
    :param encoder: your own encoder instead of word vectors (see :mod:`fuzzykv.embed.encoders`): a
        callable from a list of texts to an (n, dim) array, or an ``nn.Module`` whose ``forward``
        takes a list of texts. Each whole text is one input.
    :param vocabulary: with ``encoder``, the texts answers are decoded against.
    :param options: any field of :class:`~fuzzykv.settings.Settings` by name (``similarity``,
        ``temperature``, ``vocabulary_size``, ``n_trees``, ``search_k``, ``attend_to``,
        ``attend_top``, ``answers``, ``unknown``, ``unknown_stored``, ``device``).
    :raises NotTextError: for a key or value that is not text; nothing is stored then.
    :raises EmptyTextError: for an empty or blank key or value; nothing is stored then.
    :raises UnknownWordError: for words without a vector; nothing is stored then.
    """

    def __init__(
        self,
        pairs: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        *,
        settings: Settings | None = None,
        embeddings: EmbeddingsSpec | None = None,
        encoder: Encoder | None = None,
        vocabulary: Sequence[str] | None = None,
        **options: Unpack[Options],
    ) -> None:
        chosen = Settings.from_options(settings, **options)
        pairs = as_dict(pairs)
        loaded = embeddings_for(embeddings, encoder, vocabulary, sample=list(pairs)[:1])
        self._setup(loaded, _resolve_answers(chosen, loaded), store=None)
        self.update(pairs)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        settings: Settings | None = None,
        embeddings: EmbeddingsSpec | None = None,
        encoder: Encoder | None = None,
        vocabulary: Sequence[str] | None = None,
        **options: Unpack[Options],
    ) -> Database:
        """Open the store file at ``path``, creating it if it does not exist.

        A new store keeps the settings that shape its answers and the identity of its embeddings
        (name, dimension, fingerprint; for your own encoder, its vectors for fixed probe texts);
        reopening restores them, so it answers exactly as the store that wrote it. Options given
        on reopening must agree with the store's. The embeddings always come from the caller (or
        the default): nothing a store file names is loaded.

        :raises StoreSettingsError: options or embeddings that disagree with the store's.
        :raises NotAStoreError: the file is not a fuzzykv store.
        :raises StoreVersionError: the store was written by a newer fuzzykv.
        :raises ReadOnlyStoreError: the file cannot be written and ``read_only`` is false.
        :raises StoreError: the file is damaged.
        """
        given = given_options(**options)
        asked = Settings.from_options(settings, **given)  # every option is checked before the file is touched
        if settings is not None:
            given = {**settings.saved(), **given}
        store = Store.open(Path(path), read_only=read_only)
        try:
            loaded = embeddings_for(embeddings, encoder, vocabulary, sample=PROBES[:1])
            record = record_of(loaded, _resolve_answers(asked, loaded))
            saved = store.settings_or_save(record.as_json())
            passed = embeddings is not None or encoder is not None
            chosen = StoreRecord.from_json(saved, store.path).reopen(record, given, asked, passed)
            db = cls.__new__(cls)
            db._setup(loaded, chosen, store)
        except BaseException:
            store.close()
            raise
        return db

    def _setup(self, embeddings: AnyEmbeddings, settings: Settings, store: Store | None) -> None:
        if isinstance(embeddings, Embeddings):
            check_policy(embeddings, settings.unknown, "unknown")
            check_policy(embeddings, settings.unknown_stored, "unknown_stored")
        self.embeddings = embeddings
        self.settings = settings
        self._pipeline = Pipeline(embeddings, settings)
        self._synced = SyncedPairs(embeddings.dim, store, self._pipeline.touch, self._pipeline.forget_keys)
        self._key_words: tuple[int, frozenset[str]] = (-1, frozenset())

    # -- the mapping: exact keys, like a dict ------------------------------------------------

    def __getitem__(self, key: str) -> str:
        with self._synced.reading() as pairs:
            if key not in pairs:
                raise KeyError(key)
            return pairs.value(key)

    def __iter__(self) -> Iterator[str]:
        with self._synced.reading() as pairs:
            return iter(pairs.keys())

    def __len__(self) -> int:
        with self._synced.reading() as pairs:
            return len(pairs)

    def __contains__(self, key: object) -> bool:
        with self._synced.reading() as pairs:
            return isinstance(key, str) and key in pairs

    def page(self, after: str | None = None, limit: int = 100) -> tuple[list[tuple[str, str]], bool]:
        """Up to ``limit`` pairs in the store's order after the key ``after`` (``None``: from the
        start), and whether more follow: iteration a page at a time, as the service's ``/v1/pairs``.

        :raises KeyError: ``after`` is not a key (deleted since the last page?).
        """
        limit = positive_int("limit", limit)
        with self._synced.reading() as pairs:
            return pairs.page(after, limit)

    def _snapshot(self) -> list[tuple[str, str]]:
        """Every pair, in insertion order, as of one moment: one catch-up, not one per key."""
        with self._synced.reading() as pairs:
            return pairs.items()

    def __setitem__(self, key: str, value: str) -> None:
        self._synced.write(self._embed_pairs({key: value}), [])

    def __delitem__(self, key: str) -> None:
        with self._synced.reading() as pairs:
            if key not in pairs:
                raise KeyError(key)
        self._synced.write(None, [key])

    def _write(self, pairs: dict[str, str]) -> None:
        self._synced.write(self._embed_pairs(pairs), [])

    def clear(self) -> None:
        """Delete every pair, in one transaction."""
        self._synced.clear()

    @contextmanager
    def batch(self) -> Iterator[Database]:
        """Group writes into one transaction: all of them are stored, or (on an exception) none.

        Batches nest: an exception leaving an inner ``batch()`` undoes that block's writes only.
        Other threads wait for the batch; other processes see it when the outermost one ends.
        """
        with self._synced.batch():
            yield self

    def close(self) -> None:
        """Close the store file; later calls raise :class:`StoreClosedError`. Safe to call twice."""
        self._synced.close()

    def __repr__(self) -> str:
        path = self._synced.path
        where = f"{str(path)!r}, " if path is not None else ""
        state = "closed, " if self._synced.closed else f"{len(self._synced.pairs)} pairs, "
        s = self.settings
        return (
            f"Database({where}{state}embeddings={self.embeddings.name!r}, "
            f"similarity={s.similarity!r}, temperature={s.temperature})"
        )

    @property
    def path(self) -> Path | None:
        """The store file, or ``None`` for a store in memory."""
        return self._synced.path

    @property
    def similarity(self) -> str:
        """How attention scores a key: ``"cosine"`` (the default) or ``"dot"``, as the store was made."""
        return self.settings.similarity

    @property
    def temperature(self) -> float:
        """What attention divides its scores by (0.03 for cosine, 1 for dot unless set): lower favours the closest keys."""
        assert self.settings.temperature is not None
        return self.settings.temperature

    # -- fuzzy reads: the hooks of LocalDatabase ------------------------------------------------

    def _answer(self, vectors: np.ndarray, options: SearchOptions) -> Answered:
        with self._synced.reading() as pairs:  # words only: no attention listed, no best key unless asked
            return self._pipeline.answer(pairs, vectors, options.k, options.exact,
                                         options.attention_k if options.working else 0,
                                         best_key=options.working or options.threshold != -math.inf)

    def _parts(self, vectors: np.ndarray, top: int) -> list[Part]:
        """This store's attention for (b, dim) query vectors: one part, exact partial sums that merge
        with other parts' (a sharded store's shard answers with it).
        """
        with self._synced.reading() as pairs:
            if not len(pairs):
                raise EmptyDatabaseError("the store holds no pairs, so a query has nothing to attend to; add pairs first")
            return [self._pipeline.part(pairs, np.asarray(vectors, dtype=np.float32), top)]

    def _nearest_to(self, vector: np.ndarray, k: int) -> list[Neighbour]:
        with self._synced.reading() as pairs:
            if not len(pairs):
                return []
            rows, sims = self._pipeline.nearest(pairs, np.asarray(vector, dtype=np.float32), k)
            return [Neighbour(pairs.row_keys[row], pairs.row_values[row], s) for row, s in zip(rows, sims)]

    def _lookup(self, text: str, threshold: float) -> str | None:
        with self._synced.reading() as pairs:  # one catch-up with other processes: a key, else the nearest
            if isinstance(text, str) and text in pairs:
                return pairs.value(text)
            vector = np.asarray(self._embed_queries([text]).vectors[0], dtype=np.float32)
            if not len(pairs):
                return None
            rows, sims = self._pipeline.nearest(pairs, vector, 1)
            return pairs.row_values[rows[0]] if sims[0] >= threshold else None

    def _distinct_values(self) -> tuple[list[str], np.ndarray]:
        """Each distinct stored value once, with its (n, dim) direction: what ``answers="values"``
        decodes against (a sharded store's driver gathers these from its shards).
        """
        with self._synced.reading() as pairs:
            return pairs.distinct_values()

    # -- text -> vectors ------------------------------------------------------------------------

    def _embed_queries(self, texts: Sequence[object]) -> Embedded:
        return self._embed(texts, strict=False, policy_of="unknown")

    def _embed_pairs(self, pairs: Mapping[str, str]) -> Rows:
        """Check and embed pairs before anything is written: a bad one stops them all."""
        keys, values = list(pairs), list(pairs.values())
        vectors = self._embed(keys + values, strict=True, policy_of="unknown_stored").vectors
        return Rows(keys, values, vectors[: len(keys)], vectors[len(keys) :])

    def _embed(self, texts: Sequence[object], *, strict: bool, policy_of: str) -> Embedded:
        embeddings = self.embeddings
        if not isinstance(embeddings, Embeddings):  # your own encoder
            return embeddings.embed(texts, strict=strict)
        return embeddings.embed(texts, strict=strict, resolver=resolver(embeddings, getattr(self.settings, policy_of),
                                                                        self._words_of_keys))

    def _words_of_keys(self) -> frozenset[str]:
        """The words of the stored keys, lower-cased (spelling correction prefers them); kept per version."""
        with self._synced.reading() as pairs:
            if self._key_words[0] != pairs.version:
                words = frozenset(word.lower() for key in pairs.keys() for word in key.split())
                self._key_words = (pairs.version, words)
            return self._key_words[1]

def _heaviest(parts: list[Part], top: int) -> list[Part]:
    """The parts with only the ``top`` heaviest keys of all of them listed (one query): the keys a
    single store's ``classify`` shares its votes over, not each shard's own ``top``.
    """
    logits = np.concatenate([part.logits[0] for part in parts])
    if len(logits) <= top:
        return parts
    cut = np.partition(logits, len(logits) - top)[len(logits) - top]
    kept = []
    for part in parts:
        keep = np.flatnonzero(part.logits[0] >= cut)
        kept.append(replace(
            part, keys=[[part.keys[0][i] for i in keep]], values=[[part.values[0][i] for i in keep]],
            logits=[part.logits[0][keep]], value_vectors=[part.value_vectors[0][keep]],
        ))
    return kept



def _resolve_answers(settings: Settings, embeddings: AnyEmbeddings) -> Settings:
    """``answers=None`` made definite: the vocabulary where there is one, else the stored values."""
    has_vocabulary = isinstance(embeddings, Embeddings) or embeddings.vocabulary is not None
    if settings.answers is None:
        return settings.replace(answers="vocabulary" if has_vocabulary else "values")
    if settings.answers == "vocabulary" and not has_vocabulary:
        raise InvalidOptionError(
            "answers='vocabulary' needs a vocabulary: pass vocabulary=[...] with your encoder, or answers='values'"
        )
    return settings
