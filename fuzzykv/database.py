"""The store users hold: a thin facade that wires text -> vectors -> attention -> decode -> results
from one :class:`~fuzzykv.settings.Settings`, over pairs kept in memory or in a store file."""

from __future__ import annotations

import os
from collections.abc import ItemsView, Iterable, Iterator, Mapping, MutableMapping, Sequence, ValuesView
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np
from typing_extensions import Unpack

from .arguments import as_dict, embed_query, search_arguments, similarity_bound
from .embeddings import Embedded, Embeddings
from .encoders import Encoder, EncoderEmbeddings
from .errors import EmptyDatabaseError, InvalidOptionError
from .identity import PROBES, StoreRecord, embeddings_for, record_of
from .loading import EmbeddingsSpec
from .pipeline import CLASSIFY_KEYS, Part, Pipeline
from .results import Classification, Neighbour, QueryResult
from .settings import Options, Settings, given_options, positive_int
from .store import Rows, Store
from .synced import SyncedPairs
from .unknown import check_policy, resolver
from .views import SnapshotItems, SnapshotValues

T = TypeVar("T")
AnyEmbeddings = Embeddings | EncoderEmbeddings


class Database(MutableMapping[str, str]):
    """A fuzzy key-value store over word vectors.

    ``db[key]`` is the exact, dict-like read. ``db.query(text)`` embeds ``text``, takes softmax
    attention over the stored keys, blends the value vectors by those weights and decodes the
    blend to the nearest vocabulary words: the store may answer plausible values it does not hold.

    ``Database(pairs)`` lives in memory; :meth:`Database.open` keeps the pairs in a file.

    :param pairs: str -> str, as a mapping or an iterable of (key, value) pairs.
    :param settings: a :class:`~fuzzykv.settings.Settings`; keyword options override its fields.
    :param embeddings: ``None`` for GloVe 6B 50d, a gensim ``KeyedVectors``, a vectors file path
        or a gensim-data model name (see :func:`fuzzykv.load_embeddings`).
    :param encoder: your own encoder instead of word vectors (see :mod:`fuzzykv.encoders`): a
        callable from a list of texts to an (n, dim) array, or an ``nn.Module`` whose ``forward``
        takes a list of texts. Each whole text is one input.
    :param vocabulary: with ``encoder``, the texts answers are decoded against.
    :param options: any field of :class:`~fuzzykv.settings.Settings` by name (``similarity``,
        ``temperature``, ``vocabulary_size``, ``n_trees``, ``search_k``, ``attend_to``,
        ``attend_top``, ``answers``, ``unknown``, ``unknown_stored``, ``device``).
    :raises NotTextError, EmptyTextError, UnknownWordError: for a pair that cannot be embedded;
        nothing is stored then.
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
        :raises NotAStoreError, StoreVersionError, ReadOnlyStoreError, StoreError: for the file.
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

    def items(self) -> ItemsView[str, str]:
        return SnapshotItems(self)

    def values(self) -> ValuesView[str]:
        return SnapshotValues(self)

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

    def update(self, other: Mapping[str, str] | Iterable[tuple[str, str]] = (), /, **more: str) -> None:  # type: ignore[override]
        """Set many pairs in one transaction: every pair is checked first, and none is stored if one fails."""
        pairs = as_dict(other)
        pairs.update(more)
        if pairs:
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

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        return self.settings.similarity

    @property
    def temperature(self) -> float:
        assert self.settings.temperature is not None
        return self.settings.temperature

    # -- fuzzy reads --------------------------------------------------------------------------

    def query(
        self,
        text: str | None = None,
        k: int = 5,
        *,
        exact: bool = False,
        min_similarity: float | None = None,
        positive: str | Sequence[str] = (),
        negative: str | Sequence[str] = (),
    ) -> list[str]:
        """The ``k`` words nearest to the attention-blended value vector, best first.

        :param min_similarity: answer ``[]`` unless some key has at least this cosine similarity.
        :param positive, negative: a composite query, as gensim's ``most_similar``: the mean of the
            unit vectors of ``text`` and ``positive`` minus those of ``negative`` goes through the
            same attention. A single string counts as one text.
        """
        return self.search(text, k=k, exact=exact, attention_k=1, min_similarity=min_similarity,
                           positive=positive, negative=negative).words

    def query_batch(
        self, texts: Sequence[str], k: int = 5, *, exact: bool = False, min_similarity: float | None = None
    ) -> list[list[str]]:
        """:meth:`query` for many texts in one pass: one attention product, one decode."""
        listed, k, threshold = search_arguments(texts, k, None, min_similarity, "query_batch")
        embedded = self._embed_queries(listed)
        with self._synced.reading() as pairs:
            answers = self._pipeline.answer(pairs, embedded.vectors, k, bool(exact), attention_k=1)
        return [answers.result(i, text, embedded).weighed(threshold).words for i, text in enumerate(listed)]

    def search(
        self,
        text: str | None = None,
        k: int = 5,
        *,
        exact: bool = False,
        attention_k: int | None = None,
        min_similarity: float | None = None,
        positive: str | Sequence[str] = (),
        negative: str | Sequence[str] = (),
    ) -> QueryResult:
        """:meth:`query` with its working: scored candidates, attention weights, the blended vector.

        :param attention_k: list only the heaviest keys (``None``: every key, weights summing to 1).
        :param min_similarity: no candidates unless some key has at least this cosine similarity.
        """
        threshold = similarity_bound(min_similarity)
        k = positive_int("k", k)
        if attention_k is not None:
            positive_int("attention_k", attention_k)
        embedded, shown = embed_query(self._embed_queries, text, positive, negative)
        with self._synced.reading() as pairs:
            answers = self._pipeline.answer(pairs, embedded.vectors, k, bool(exact), attention_k)
        return answers.result(0, shown, embedded).weighed(threshold)

    def search_batch(
        self, texts: Sequence[str], k: int = 5, *, exact: bool = False, attention_k: int | None = None,
        min_similarity: float | None = None,
    ) -> list[QueryResult]:
        """:meth:`search` for many texts in one pass (one attention product, one decode), in order.

        Each result equals ``search(text, ...)`` of its text; one text that cannot be embedded
        fails the whole batch, naming it.
        """
        listed, k, threshold = search_arguments(texts, k, attention_k, min_similarity, "search_batch")
        embedded = self._embed_queries(listed)
        with self._synced.reading() as pairs:
            answers = self._pipeline.answer(pairs, embedded.vectors, k, bool(exact), attention_k)
        return [answers.result(i, text, embedded).weighed(threshold) for i, text in enumerate(listed)]

    def classify(self, text: str, k: int = 5) -> Classification:
        """The value the query's attention favours: each distinct value scores the attention its keys
        carry (with cosine similarity, the log-sum-exp of its keys' scores plus its own similarity to
        the query), as ``query`` blends them. ``neighbours`` lists the ``k`` nearest keys."""
        k = positive_int("k", k)
        vector = self._embed_queries([text]).vectors
        with self._synced.reading() as pairs:
            if not len(pairs):
                raise EmptyDatabaseError("the store holds no pairs, so there is nothing to classify by; add pairs first")
            scores = Pipeline.votes([self._pipeline.part(pairs, vector, CLASSIFY_KEYS)])[0]
        return Classification(label=scores[0][0], scores=scores, neighbours=self.nearest_to(vector[0], k))

    def nearest(self, text: str, k: int = 3) -> list[Neighbour]:
        """Exact k-nearest neighbours among the keys: (key, value, cosine similarity), nearest first."""
        k = positive_int("k", k)
        return self.nearest_to(self._embed_queries([text]).vectors[0], k)

    def nearest_to(self, vector: np.ndarray, k: int = 3) -> list[Neighbour]:
        """:meth:`nearest` for a query vector of the store's dimension (a sharded store's shards answer this)."""
        k = positive_int("k", k)
        with self._synced.reading() as pairs:
            if not len(pairs):
                return []
            rows, sims = self._pipeline.nearest(pairs, np.asarray(vector, dtype=np.float32), k)
            return [Neighbour(pairs.row_keys[row], pairs.row_values[row], s) for row, s in zip(rows, sims)]

    def lookup(self, text: str, default: T | None = None, min_similarity: float | None = None) -> str | T | None:
        """The value of a key equal to ``text``, else of the nearest key.

        :param min_similarity: the nearest key must have at least this cosine similarity.
        :returns: ``default`` when the store is empty or no key is close enough.
        """
        threshold = similarity_bound(min_similarity)
        with self._synced.reading() as pairs:
            if isinstance(text, str) and text in pairs:
                return pairs.value(text)
            found = self.nearest(text, k=1)
        return found[0].value if found and found[0].similarity >= threshold else default

    def part(self, vectors: np.ndarray, top: int) -> Part:
        """This store's attention for (b, dim) query vectors, as one part of a sharded store's answer:
        exact partial sums that merge with other shards' (see :mod:`fuzzykv.distributed`)."""
        with self._synced.reading() as pairs:
            if not len(pairs):
                raise EmptyDatabaseError("the store holds no pairs, so a query has nothing to attend to; add pairs first")
            return self._pipeline.part(pairs, np.asarray(vectors, dtype=np.float32), top)

    def distinct_values(self) -> tuple[list[str], np.ndarray]:
        """Each distinct stored value once, with its (n, dim) direction: what ``answers="values"``
        decodes against (a sharded store's driver gathers these from its shards)."""
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
        if isinstance(embeddings, EncoderEmbeddings):
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


def _resolve_answers(settings: Settings, embeddings: AnyEmbeddings) -> Settings:
    """``answers=None`` made definite: the vocabulary where there is one, else the stored values."""
    has_vocabulary = not isinstance(embeddings, EncoderEmbeddings) or embeddings.vocabulary is not None
    if settings.answers is None:
        return settings.replace(answers="vocabulary" if has_vocabulary else "values")
    if settings.answers == "vocabulary" and not has_vocabulary:
        raise InvalidOptionError(
            "answers='vocabulary' needs a vocabulary: pass vocabulary=[...] with your encoder, or answers='values'"
        )
    return settings
