"""The store users hold: pairs embedded once, queried by attention over the keys, optionally on disk."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, MutableMapping, Sequence, ValuesView
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar, Union, get_args

import numpy as np
import torch

from .attention import Attention, Similarity, score
from .embeddings import DEFAULT_NAME, Embedded, Embeddings, EmbeddingsSpec, is_model_name, load_embeddings
from .encoders import Encoder, EncoderEmbeddings, default_char_encoder, encode
from .errors import EmptyDatabaseError, EmptyTextError, InvalidOptionError, NotTextError, StoreClosedError, StoreSettingsError
from .index import DEFAULT_N_TREES, DEFAULT_SEARCH_K, HINT_VALUES, Decoder, IndexSettings, vocabulary_index
from .key_index import DEFAULT_CANDIDATES, KeyIndex
from .matrix import PairMatrix
from .results import Classification, Neighbour, QueryResult
from .store import Changes, Rows, Store, StoreSettings

T = TypeVar("T")
AnyEmbeddings = Union[Embeddings, EncoderEmbeddings]


@dataclass(frozen=True)
class _Answers:
    """The pipeline's output for a batch of queries, before it is shaped for the caller."""

    ids: np.ndarray  # (b, k) vocabulary rows, best first
    similarities: np.ndarray  # (b, k) their cosine similarity to the blend
    attention: list[tuple[np.ndarray | None, torch.Tensor]]  # per query: key rows (None: all) and weights
    best_key: np.ndarray  # (b,) the highest cosine similarity of any key to each query
    blended: np.ndarray  # (b, dim)
    words: Sequence[str]  # what ids index: the vocabulary, or the stored values


AttentionMode = Literal["full", "topk"]
ATTENTION_MODES: tuple[str, ...] = get_args(AttentionMode)
Candidates = Literal["vocabulary", "values"]
CANDIDATES: tuple[str, ...] = get_args(Candidates)
Unknown = Literal["error", "chars"]
UNKNOWN: tuple[str, ...] = get_args(Unknown)


@dataclass(frozen=True)
class _Mode:
    """How queries run: over all keys or the top candidates, on which torch device, answered from
    which words, and what becomes of words without a vector."""

    attention: AttentionMode
    candidates: int
    device: torch.device
    answers_from: Candidates = "vocabulary"
    unknown: Unknown = "error"

    def __init__(self, attention: str, candidates: int, device: str | torch.device,
                 answers_from: str = "vocabulary", unknown: str = "error") -> None:
        for name, value, allowed in (("attention", attention, ATTENTION_MODES), ("candidates", answers_from, CANDIDATES),
                                     ("unknown", unknown, UNKNOWN)):
            if value not in allowed:
                raise InvalidOptionError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
        object.__setattr__(self, "attention", attention)
        object.__setattr__(self, "candidates", _positive("attention_candidates", candidates))
        object.__setattr__(self, "device", _device(device))
        object.__setattr__(self, "answers_from", answers_from)
        object.__setattr__(self, "unknown", unknown)


def _device(name: str | torch.device) -> torch.device:
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as error:
        raise InvalidOptionError(f"device must name a torch device such as 'cpu' or 'cuda', got {name!r}") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidOptionError(f"device {name!r} was asked for, but torch sees no CUDA GPU here; use device='cpu'")
    if device.type not in {"cpu", "cuda"}:
        raise InvalidOptionError(f"device must be 'cpu' or a CUDA device, got {name!r}")
    return device


class Database(MutableMapping[str, str]):
    """A fuzzy key-value store over word vectors.

    ``db[key]`` is the exact, dict-like read. ``db.query(text)`` embeds ``text``, takes softmax
    attention over the stored keys, blends the value vectors by those weights and decodes the
    blend to the nearest vocabulary words: the store may answer plausible values it does not hold.

    ``Database(pairs)`` lives in memory; :meth:`Database.open` keeps the pairs in a file.

    :param pairs: str -> str, as a mapping or an iterable of (key, value) pairs.
    :param embeddings: ``None`` for GloVe 6B 50d, a gensim ``KeyedVectors``, a vectors file path
        or a gensim-data model name (see :func:`fuzzykv.embeddings.load_embeddings`).
    :param similarity: ``"cosine"`` (default) or ``"dot"``, the write-up's raw dot product.
    :param temperature: divides the attention scores; ``None`` takes the similarity's default.
    :param vocabulary_size: decode only to the N most frequent words (``None``: all of them).
    :param n_trees, search_k: the annoy index's build and search effort.
    :param attention: ``"full"`` attends to every key; ``"topk"`` to the ``attention_candidates``
        keys an annoy index over the keys proposes (plus keys written since it was built): for
        very large stores, an approximation of full attention.
    :param device: where torch does the matrix work (``"cpu"``, ``"cuda"``, ...).
    :param encoder: your own encoder instead of word vectors (see :mod:`fuzzykv.encoders`): a
        callable from a list of texts to an (n, dim) array, or an ``nn.Module`` whose ``forward``
        takes a list of texts. Each whole text is one input. Its dimension is learnt from the
        first key (or the vocabulary), so such a store starts with pairs or a vocabulary.
    :param vocabulary: with ``encoder``, the texts answers are decoded against.
    :param candidates: ``"vocabulary"``: answers are any vocabulary words (the open world of the
        write-up); ``"values"``: answers are stored values only. ``None``: the vocabulary when
        there is one, else the values.
    :param unknown: ``"error"``: a word without a vector is an ``UnknownWordError``; ``"chars"``:
        its vector is predicted from its spelling by the CharEncoder, and results say so.
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
        attention: AttentionMode = "full",
        attention_candidates: int = DEFAULT_CANDIDATES,
        device: str | torch.device = "cpu",
        encoder: Encoder | None = None,
        vocabulary: Sequence[str] | None = None,
        candidates: Candidates | None = None,
        unknown: Unknown = "error",
    ) -> None:
        scoring = Attention(similarity, temperature)
        settings = IndexSettings(vocabulary_size, n_trees, search_k)
        pairs = _as_dict(pairs)
        loaded = _embeddings(embeddings, encoder, vocabulary, sample=list(pairs)[:1])
        mode = _Mode(attention, attention_candidates, device, _answers_from(candidates, loaded), unknown)
        self._setup(loaded, scoring, settings, mode, store=None)
        self.update(pairs)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        *,
        embeddings: EmbeddingsSpec | None = None,
        similarity: Similarity | None = None,
        temperature: float | None = None,
        vocabulary_size: int | None = None,
        n_trees: int = DEFAULT_N_TREES,
        search_k: int = DEFAULT_SEARCH_K,
        attention: AttentionMode = "full",
        attention_candidates: int = DEFAULT_CANDIDATES,
        device: str | torch.device = "cpu",
        encoder: Encoder | None = None,
        vocabulary: Sequence[str] | None = None,
        candidates: Candidates | None = None,
        unknown: Unknown = "error",
        read_only: bool = False,
    ) -> Database:
        """Open the store file at ``path``, creating it if it does not exist.

        A new store keeps the settings that shape its answers (the embeddings' identity and
        dimension, similarity, temperature, vocabulary size); reopening restores them. Options
        given on reopening must agree with them. Stores with your own ``encoder`` live in memory
        for now: ``encoder=`` and ``vocabulary=`` are refused here.

        :raises StoreSettingsError: options or embeddings that disagree with the store's.
        :raises NotAStoreError, StoreVersionError, ReadOnlyStoreError, StoreError: for the file.
        """
        if encoder is not None or vocabulary is not None:
            raise InvalidOptionError(
                "Database.open keeps word-vector stores only for now; a store with your own encoder lives in "
                "memory: Database(pairs, encoder=...)"
            )
        # Every option is checked before the file is touched: a typo must not leave a new store behind.
        index_settings = IndexSettings(vocabulary_size, n_trees, search_k)
        mode = _Mode(attention, attention_candidates, device, candidates or "vocabulary", unknown)
        store = Store.open(path, read_only=read_only)
        try:
            saved = store.settings()
            if saved is None:
                loaded = load_embeddings(embeddings)
                scoring = Attention(similarity or "cosine", temperature)
                saved = StoreSettings(
                    loaded.name, loaded.fingerprint, loaded.dim, scoring.similarity,
                    float(scoring.temperature), vocabulary_size,  # type: ignore[arg-type]
                )
                store.save_settings(saved)
            else:
                loaded = _check_reopen(saved, embeddings, similarity, temperature, vocabulary_size, store.path)
                scoring = Attention(saved.similarity, saved.temperature)  # type: ignore[arg-type]
                index_settings = IndexSettings(saved.vocabulary_size, n_trees, search_k)
            db = cls.__new__(cls)
            db._setup(loaded, scoring, index_settings, mode, store)
            db._reload()
        except BaseException:
            store.close()
            raise
        return db

    def _setup(
        self, embeddings: AnyEmbeddings, attention: Attention, settings: IndexSettings, mode: _Mode, store: Store | None
    ) -> None:
        self.embeddings = embeddings
        self._attention = attention
        self._mode = mode
        self._key_index = KeyIndex(embeddings.dim) if mode.attention == "topk" else None
        words = embeddings.vocabulary if isinstance(embeddings, EncoderEmbeddings) else embeddings
        self._index = vocabulary_index(words, settings) if words is not None else None
        self._speller = _speller(embeddings) if mode.unknown == "chars" else None
        self._values_decoder: tuple[int, ValuesDecoder] | None = None
        self._store = store
        self._pairs = PairMatrix(embeddings.dim)
        self._position = (0, 0)
        self._lock = threading.RLock()  # queries and writes from many threads see whole writes
        self._batch_depth = 0
        self._batch_seq = 0
        self._closed = False

    # -- the mapping: exact keys, like a dict ------------------------------------------------

    def __getitem__(self, key: str) -> str:
        with self._reading():
            if key not in self._pairs:
                raise KeyError(key)
            return self._pairs.value(key)

    def __iter__(self) -> Iterator[str]:
        with self._reading():
            return iter(self._pairs.keys())

    def __len__(self) -> int:
        with self._reading():
            return len(self._pairs)

    def __contains__(self, key: object) -> bool:
        with self._reading():
            return isinstance(key, str) and key in self._pairs

    def items(self) -> ItemsView[str, str]:
        return _Items(self)

    def values(self) -> ValuesView[str]:
        return _Values(self)

    def _snapshot(self) -> list[tuple[str, str]]:
        """Every pair, in insertion order, as of one moment: one catch-up, not one per key."""
        with self._reading():
            return self._pairs.items()

    def __setitem__(self, key: str, value: str) -> None:
        self._write(self._embed_pairs({key: value}), [])

    def __delitem__(self, key: str) -> None:
        with self._reading():
            if key not in self._pairs:
                raise KeyError(key)
        self._write(None, [key])

    def update(self, other: Mapping[str, str] | Iterable[tuple[str, str]] = (), /, **more: str) -> None:  # type: ignore[override]
        """Set many pairs in one transaction: every pair is checked first, and none is stored if one fails."""
        pairs = _as_dict(other)
        pairs.update(more)
        if pairs:
            self._write(self._embed_pairs(pairs), [])

    def clear(self) -> None:
        """Delete every pair, in one transaction."""
        with self._lock:
            self._check_open()
            if self._store is not None and self._batch_depth:
                self._position = self._store.clear()
            elif self._store is not None:
                with self._store.transaction():
                    position = self._store.clear()
                self._position = position
            self._replace_pairs(PairMatrix(self.embeddings.dim))

    @contextmanager
    def batch(self) -> Iterator[Database]:
        """Group writes into one transaction: all of them are stored, or (on an exception) none.

        Other threads wait for the batch; other processes see it when it ends.
        """
        with self._lock:
            self._check_open()
            if self._batch_depth:
                self._batch_depth += 1
                try:
                    yield self
                finally:
                    self._batch_depth -= 1
                return
            snapshot = self._pairs.copy() if self._store is None else None
            self._batch_depth = 1
            try:
                if self._store is None:
                    yield self
                else:
                    with self._store.transaction():
                        self._catch_up()
                        self._batch_seq = self._store.next_seq()
                        yield self
                    self._position = (self._position[0], self._batch_seq)
            except BaseException:
                if snapshot is not None:
                    self._replace_pairs(snapshot)
                elif self._store is not None and not self._closed:
                    self._reload()  # memory had the rolled-back writes; the file did not keep them
                raise
            finally:
                self._batch_depth = 0

    def close(self) -> None:
        """Close the store file; later calls raise :class:`StoreClosedError`. Safe to call twice."""
        with self._lock:
            self._closed = True
            if self._store is not None:
                self._store.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        a = self._attention
        where = f"{str(self._store.path)!r}, " if self._store is not None else ""
        state = "closed, " if self._closed else f"{len(self._pairs)} pairs, "
        return (
            f"Database({where}{state}embeddings={self.embeddings.name!r}, "
            f"similarity={a.similarity!r}, temperature={a.temperature})"
        )

    @property
    def path(self) -> Path | None:
        """The store file, or ``None`` for a store in memory."""
        return None if self._store is None else self._store.path

    @property
    def similarity(self) -> Similarity:
        return self._attention.similarity

    @property
    def temperature(self) -> float:
        return float(self._attention.temperature)  # type: ignore[arg-type]

    # -- fuzzy reads --------------------------------------------------------------------------

    def query(
        self,
        text: str | None = None,
        k: int = 5,
        exact: bool = False,
        min_similarity: float | None = None,
        *,
        positive: Sequence[str] = (),
        negative: Sequence[str] = (),
    ) -> list[str]:
        """The ``k`` words nearest to the attention-blended value vector, best first.

        :param min_similarity: answer ``[]`` unless some key has at least this cosine similarity.
        :param positive, negative: a composite query, as gensim's ``most_similar``: the mean of the
            unit vectors of ``text`` and ``positive`` minus those of ``negative`` goes through the
            same attention. ``positive=["air force", "new york"]`` queries the sum of its parts.
        """
        return self.search(text, k=k, exact=exact, attention_k=1, min_similarity=min_similarity,
                           positive=positive, negative=negative).words

    def query_batch(
        self, texts: Sequence[str], k: int = 5, exact: bool = False, min_similarity: float | None = None
    ) -> list[list[str]]:
        """:meth:`query` for many texts in one pass: one attention product, one decode."""
        threshold = _similarity_bound(min_similarity)
        answers = self._answer(self._embed(_as_texts(texts), strict=False), k, exact)
        return [
            [answers.words[i] for i in row] if best >= threshold else []
            for row, best in zip(answers.ids.tolist(), answers.best_key.tolist())
        ]

    def search(
        self,
        text: str | None = None,
        k: int = 5,
        exact: bool = False,
        attention_k: int | None = None,
        min_similarity: float | None = None,
        *,
        positive: Sequence[str] = (),
        negative: Sequence[str] = (),
    ) -> QueryResult:
        """:meth:`query` with its working: scored candidates, attention weights, the blended vector.

        :param attention_k: list only the heaviest keys (``None``: every key, weights summing to 1).
        :param min_similarity: no candidates unless some key has at least this cosine similarity.
        """
        threshold = _similarity_bound(min_similarity)
        if attention_k is not None:
            _positive("attention_k", attention_k)
        if positive or negative:
            parts = ([text] if text is not None else []) + list(_as_texts(positive))
            embedded = _composite(lambda t: self._embed(t, strict=False), parts, _as_texts(negative))
        elif text is None:
            raise EmptyTextError("expected a text, or positive=[...] and/or negative=[...]; got nothing to query")
        else:
            embedded = self._embed([text], strict=False)  # type: ignore[list-item]
        with self._lock:
            answers = self._answer(embedded, k, exact)
            rows, weights = answers.attention[0]
            shown = len(weights) if attention_k is None else min(attention_k, len(weights))
            top = torch.topk(weights, shown, sorted=True)
            chosen = top.indices.numpy() if rows is None else rows[top.indices.numpy()]
            attention = [(self._pairs.row_keys[i], w) for i, w in zip(chosen.tolist(), top.values.tolist())]
        best = float(answers.best_key[0])
        candidates = [(answers.words[i], s) for i, s in zip(answers.ids[0].tolist(), answers.similarities[0].tolist())]
        return QueryResult(
            text=text if text is not None else " + ".join(positive) + "".join(f" - {n}" for n in negative),
            candidates=candidates if best >= threshold else [],
            attention=attention,
            vector=answers.blended[0],
            ignored=embedded.ignored[0],
            best_similarity=best,
            spelled=embedded.spelled[0] if embedded.spelled else (),
        )

    def classify(self, text: str, k: int = 5) -> Classification:
        """The k-nearest-neighbour rule over the stored keys: each of the ``k`` nearest keys votes
        for its value with its cosine similarity (negative similarities count as none)."""
        neighbours = self.nearest(text, k=k)
        if not neighbours:
            raise EmptyDatabaseError("the store holds no pairs, so there is nothing to classify by; add pairs first")
        weights = [max(n.similarity, 0.0) for n in neighbours]
        if sum(weights) <= 0:  # every neighbour points away: count them instead
            weights = [1.0] * len(neighbours)
        votes: dict[str, float] = {}
        for neighbour, weight in zip(neighbours, weights):
            votes[neighbour.value] = votes.get(neighbour.value, 0.0) + weight
        total = sum(weights)
        scores = sorted(((label, vote / total) for label, vote in votes.items()), key=lambda item: -item[1])
        return Classification(label=scores[0][0], scores=scores, neighbours=neighbours)

    def nearest(self, text: str, k: int = 3) -> list[Neighbour]:
        """Exact k-nearest neighbours among the keys: (key, value, cosine similarity), nearest first."""
        k = _positive("k", k)
        queries = torch.from_numpy(self._embed([text], strict=False).vectors)
        with self._reading():
            if not len(self._pairs):
                return []
            cosine = score(queries, *self._key_tensors()).cosine[0]
            top = torch.topk(cosine, min(k, len(self._pairs)), sorted=True)
            keys = [self._pairs.row_keys[i] for i in top.indices.tolist()]
            return [Neighbour(key, self._pairs.value(key), s) for key, s in zip(keys, top.values.tolist())]

    def lookup(self, text: str, default: T | None = None, min_similarity: float | None = None) -> str | T | None:
        """The value of a key equal to ``text``, else of the nearest key.

        :param min_similarity: the nearest key must have at least this cosine similarity.
        :returns: ``default`` when the store is empty or no key is close enough.
        """
        threshold = _similarity_bound(min_similarity)
        with self._reading():
            if isinstance(text, str) and text in self._pairs:
                return self._pairs.value(text)
            found = self.nearest(text, k=1)
        return found[0].value if found and found[0].similarity >= threshold else default

    # -- the pipeline: embed -> attend -> blend -> decode -------------------------------------

    def _key_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(self._pairs.key_vectors), torch.from_numpy(self._pairs.key_norms)

    def _embed(self, texts: Sequence[object], *, strict: bool) -> Embedded:
        return self.embeddings.embed(texts, strict=strict, speller=self._speller)

    def _answer(self, embedded: Embedded, k: int, exact: bool) -> _Answers:
        k = _positive("k", k)
        device = self._mode.device
        with self._reading():
            if not len(self._pairs):
                raise EmptyDatabaseError("the store holds no pairs, so a query has nothing to attend to; add pairs first")
            if self._key_index is not None and len(self._pairs) > self._mode.candidates:
                attention, blended, best_key = self._attend_to_candidates(embedded.vectors)
            else:
                keys, norms = (t.to(device) for t in self._key_tensors())
                scores = score(torch.from_numpy(embedded.vectors).to(device), keys, norms)
                weights = self._attention.weights(scores)
                blended = Attention.blend(weights, torch.from_numpy(self._pairs.value_vectors).to(device)).cpu().numpy()
                best_key = scores.cosine.max(dim=-1).values.cpu().numpy()
                attention = [(None, row) for row in weights.cpu()]
            if self._mode.answers_from == "values":
                decoder: Decoder = self._decode_values()
                words, hints = decoder.words, None  # type: ignore[attr-defined]
            else:
                assert self._index is not None
                decoder, words, hints = self._index.decoder(bool(exact), device), self._index.words, self._hints(attention)
        ids, sims = decoder.search(blended, k, hints)
        return _Answers(ids, sims, attention, best_key, blended, words)

    def _decode_values(self) -> ValuesDecoder:
        """The stored values as the answers' vocabulary, rebuilt when the pairs have changed."""
        if self._values_decoder is None or self._values_decoder[0] != self._pairs.version:
            self._values_decoder = (self._pairs.version, ValuesDecoder(self._pairs))
        return self._values_decoder[1]

    def _hints(self, attention: list[tuple[np.ndarray | None, torch.Tensor]]) -> list[np.ndarray]:
        """Per query, the nearest words of the values it weighs most: where its blend most likely lands."""
        chosen: list[int] = []
        bounds = [0]
        for rows, weights in attention:
            top = torch.topk(weights, min(HINT_VALUES, len(weights))).indices.numpy()
            chosen.extend((top if rows is None else rows[top]).tolist())
            bounds.append(len(chosen))
        values = [self._pairs.value(self._pairs.row_keys[row]) for row in chosen]
        found = self._index.hints(values, self._pairs.value_vectors[chosen])
        return [np.unique(np.concatenate(found[start:end])) for start, end in zip(bounds, bounds[1:])]

    def _attend_to_candidates(self, queries: np.ndarray) -> tuple[list[tuple[np.ndarray | None, torch.Tensor]], np.ndarray, np.ndarray]:
        """``attention="topk"``: each query attends to the keys its candidates name, not to all keys."""
        assert self._key_index is not None
        attention: list[tuple[np.ndarray | None, torch.Tensor]] = []
        blended = np.empty_like(queries)
        best_key = np.empty(len(queries), dtype=np.float32)
        for i, query in enumerate(queries):
            rows = self._key_index.candidates(query, self._mode.candidates, self._pairs)
            scores = score(
                torch.from_numpy(query[None, :]),
                torch.from_numpy(self._pairs.key_vectors[rows]),
                torch.from_numpy(self._pairs.key_norms[rows]),
            )
            weights = self._attention.weights(scores)
            blended[i] = Attention.blend(weights, torch.from_numpy(self._pairs.value_vectors[rows]))[0].numpy()
            best_key[i] = float(scores.cosine.max())
            attention.append((rows, weights[0]))
        return attention, blended, best_key

    # -- writes and keeping up with other writers ----------------------------------------------

    def _embed_pairs(self, pairs: Mapping[str, str]) -> Rows:
        """Check and embed pairs before anything is written: a bad one stops them all."""
        keys, values = list(pairs), list(pairs.values())
        key_vectors = self._embed(keys, strict=True).vectors
        value_vectors = self._embed(values, strict=True).vectors
        return Rows(keys, values, key_vectors, value_vectors)

    def _write(self, rows: Rows | None, deleted: Sequence[str]) -> None:
        """Store then apply: memory changes only once the file has the write."""
        with self._lock:
            self._check_open()
            store = self._store
            if store is not None and self._batch_depth:
                self._store_rows(self._batch_seq, rows, deleted)
            elif store is not None:
                with store.transaction():
                    self._catch_up()
                    seq = store.next_seq()
                    self._store_rows(seq, rows, deleted)
                self._position = (self._position[0], seq)
            if rows is not None:
                self._pairs.set_many(rows.keys, rows.values, rows.key_vectors, rows.value_vectors)
            self._pairs.delete_many(deleted)
            self._touch((rows.keys if rows is not None else []) + list(deleted))

    def _touch(self, keys: list[str]) -> None:
        if self._key_index is not None:
            self._key_index.touch(keys)

    def _store_rows(self, seq: int, rows: Rows | None, deleted: Sequence[str]) -> None:
        assert self._store is not None
        if rows is not None:
            self._store.put(seq, rows)
        if deleted:
            self._store.delete(seq, deleted)

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Hold the lock, having caught up with what other processes committed."""
        with self._lock:
            self._check_open()
            if self._store is not None and not self._batch_depth:
                self._catch_up()
            yield

    def _catch_up(self) -> None:
        """Apply what other connections committed since we last looked (nothing to read if none did).

        Inside a write transaction this sees the latest commit: the transaction began by taking
        the write lock, so no one can commit before it ends.
        """
        assert self._store is not None
        if self._store.changed_elsewhere():
            self._apply(self._store.changes_since(self._position, self.embeddings.dim))

    def _apply(self, changes: Changes) -> None:
        rows = changes.rows
        if changes.reload:
            self._replace_pairs(PairMatrix(self.embeddings.dim, capacity=max(16, len(rows.keys))))
        self._pairs.set_many(rows.keys, rows.values, rows.key_vectors, rows.value_vectors)
        self._pairs.delete_many(changes.deleted)
        self._touch(rows.keys + changes.deleted)
        self._position = changes.position

    def _replace_pairs(self, pairs: PairMatrix) -> None:
        self._pairs = pairs
        if self._key_index is not None:
            self._key_index.reset()

    def _reload(self) -> None:
        assert self._store is not None
        position, rows = self._store.read_all(self.embeddings.dim)
        self._apply(Changes(position, True, rows, []))
        self._store.changed_elsewhere()  # what was just read is current

    def _check_open(self) -> None:
        if self._closed:
            where = f" {str(self._store.path)!r}" if self._store is not None else ""
            raise StoreClosedError(f"the store{where} is closed; open it again to use it")


class _Items(ItemsView[str, str]):
    _mapping: Database

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._mapping._snapshot())


class _Values(ValuesView[str]):
    _mapping: Database

    def __iter__(self) -> Iterator[str]:
        return (value for _, value in self._mapping._snapshot())


def _check_reopen(
    saved: StoreSettings,
    embeddings: EmbeddingsSpec | None,
    similarity: str | None,
    temperature: float | None,
    vocabulary_size: int | None,
    path: Path,
) -> Embeddings:
    """The embeddings a store was made with, after checking the options given agree with its settings."""
    asked = {"similarity": similarity, "temperature": temperature, "vocabulary_size": vocabulary_size}
    for name, value in asked.items():
        if value is not None and value != getattr(saved, name):
            raise StoreSettingsError(
                f"{str(path)!r} was made with {name}={getattr(saved, name)!r}, not {name}={value!r}; "
                f"leave {name} out to use the store's, or make a new store"
            )
    if embeddings is None:
        if saved.embeddings == DEFAULT_NAME:
            embeddings = None
        elif Path(saved.embeddings).exists() or is_model_name(saved.embeddings):
            embeddings = saved.embeddings
        else:
            raise StoreSettingsError(
                f"{str(path)!r} was made with the embeddings {saved.embeddings!r} ({saved.dim} dimensions), "
                "which fuzzykv cannot reload by itself; pass the same embeddings=..."
            )
    loaded = load_embeddings(embeddings)
    if loaded.dim != saved.dim:
        raise StoreSettingsError(
            f"{str(path)!r} holds {saved.dim}-dimensional vectors from {saved.embeddings!r}, but the embeddings "
            f"given, {loaded.name!r}, are {loaded.dim}-dimensional; pass the store's embeddings"
        )
    if loaded.fingerprint != saved.fingerprint:
        raise StoreSettingsError(
            f"{str(path)!r} was made with the embeddings {saved.embeddings!r} (fingerprint {saved.fingerprint}), "
            f"not {loaded.name!r} (fingerprint {loaded.fingerprint}); pass the store's embeddings"
        )
    return loaded


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


def _similarity_bound(value: float | None) -> float:
    """``min_similarity`` as a bound: ``None`` admits everything."""
    if value is None:
        return -float("inf")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1 <= value <= 1:
        raise InvalidOptionError(f"min_similarity must be a cosine similarity between -1 and 1, got {value!r}")
    return float(value)


class ValuesDecoder:
    """``candidates="values"``: the stored values nearest (by cosine) to a blend, exactly."""

    def __init__(self, pairs: PairMatrix) -> None:
        first: dict[str, int] = {}
        for row, key in enumerate(pairs.row_keys):
            first.setdefault(pairs.value(key), row)
        self.words = list(first)
        vectors = torch.from_numpy(pairs.value_vectors[list(first.values())].copy())
        self._matrix = torch.nn.functional.normalize(vectors, dim=-1)

    def search(self, vectors: np.ndarray, k: int, hints: object = None) -> tuple[np.ndarray, np.ndarray]:
        queries = torch.nn.functional.normalize(torch.from_numpy(vectors), dim=-1)
        top = torch.topk(queries @ self._matrix.T, min(k, len(self.words)), dim=-1, sorted=True)
        return top.indices.numpy(), top.values.numpy()


def _embeddings(
    spec: EmbeddingsSpec | None, encoder: Encoder | None, vocabulary: Sequence[str] | None, sample: Sequence[str]
) -> AnyEmbeddings:
    """The embeddings a store embeds with: word vectors, or your own encoder."""
    if encoder is None:
        if vocabulary is not None:
            raise InvalidOptionError("vocabulary goes with encoder=...; word vectors bring their own vocabulary")
        return load_embeddings(spec)
    if spec is not None:
        raise InvalidOptionError("pass embeddings=... or encoder=..., not both")
    return EncoderEmbeddings(encoder, vocabulary, sample)


def _answers_from(candidates: str | None, embeddings: AnyEmbeddings) -> str:
    """``candidates``, with ``None`` resolved: the vocabulary where there is one, else the values."""
    has_vocabulary = not isinstance(embeddings, EncoderEmbeddings) or embeddings.vocabulary is not None
    if candidates is None:
        return "vocabulary" if has_vocabulary else "values"
    if candidates == "vocabulary" and not has_vocabulary:
        raise InvalidOptionError(
            "candidates='vocabulary' needs a vocabulary: pass vocabulary=[...] with your encoder, or candidates='values'"
        )
    return candidates


def _speller(embeddings: AnyEmbeddings) -> Callable[[list[str]], np.ndarray]:
    """``unknown="chars"``: the CharEncoder, which predicts GloVe 6B 50d vectors only."""
    if not isinstance(embeddings, Embeddings) or embeddings.name != DEFAULT_NAME:
        raise InvalidOptionError(
            f"unknown='chars' predicts GloVe 6B 50d vectors from spelling; these embeddings are {embeddings.name!r}. "
            "Use the default embeddings, or unknown='error'"
        )
    model = default_char_encoder()
    return lambda words: encode(model, words)


def _composite(embed: Callable[[list[str]], Embedded], positive: Sequence[str], negative: Sequence[str]) -> Embedded:
    """gensim's most_similar rule: the mean of the unit vectors of ``positive``, minus those of ``negative``."""
    texts = [*positive, *negative]
    if not texts:
        raise EmptyTextError("expected a text, or positive=[...] and/or negative=[...]; got nothing to query")
    embedded = embed(texts)
    units = embedded.vectors / np.maximum(np.linalg.norm(embedded.vectors, axis=1, keepdims=True), 1e-12)
    signs = np.array([1.0] * len(positive) + [-1.0] * len(negative), dtype=np.float32)
    vector = (signs[:, None] * units).sum(axis=0) / len(texts)
    return Embedded(
        vector[None, :].astype(np.float32),
        (tuple(w for words in embedded.ignored for w in words),),
        (tuple(w for words in embedded.spelled for w in words),),
    )
