"""Vectors -> answers for one store: attention over its keys, the blend of its values, the decode.

The stages run one way: query vectors -> scores and weights (:mod:`fuzzykv.search.attention`) -> blended
vectors -> nearest words (:mod:`fuzzykv.search.decode`). A :class:`Pipeline` holds what a store's
settings choose (attention, key index, decoder) and no pairs: it is handed them per call.

On the CPU a store in one piece takes the lean path: numpy float32 over every key, with the blend
reading only the values that carry weight in a big store (or, where this machine's int8 product
is fast, two passes: int8 bounds, then float32 where it matters: :mod:`fuzzykv.search.two_pass`), and the
answers are built from that one part directly, with no merge of parts. torch serves
GPUs, the key index (``attend_to="index"``) and the int8 products of big stores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..embed.vectors import Embedded, Embeddings
from ..errors import EmptyDatabaseError, InvalidOptionError
from ..pairs import HeldPairs
from ..results import QueryResult
from ..settings import Settings
from . import two_pass
from .attention import Attention, Partial, attend_dense, score
from .decode import HINT_VALUES, IndexSettings, ValuesDecoder, VocabularyIndex, vocabulary_index
from .listed import StoreLists
from .threads import one_torch_thread
from .topk import top_rows

if TYPE_CHECKING:  # NOTE: torch and encoders (which import it) only where a store needs them
    import torch

    from ..embed.encoders import EncoderEmbeddings
    from .key_index import KeyIndex

#: The heaviest keys whose attention ``classify`` sums per value: past these, weights at the
#: default temperature are negligible (and a store of fewer keys is counted whole).
CLASSIFY_KEYS = 256
#: From this many keys one query's attention uses torch's threads: each product reads tens of MB,
#: so two threads on 2 cores answer 1,000,000 keys in 35 ms, not 60 (and 20% slower, not 5x, when
#: another process holds a core).
THREADED_KEYS = two_pass.THREADED_KEYS
#: The most heaviest keys a two-pass query lists (beyond it, every key is scored in float32).
TWO_PASS_TOP = 1024
#: Scores a dense numpy pass holds at once (queries x keys): a batch is split into blocks of queries.
DENSE_SCORES = 1 << 24


@dataclass(frozen=True)
class Attended:
    """Attention of b queries over one part of the keys (a whole store, or one shard of it).

    ``partial`` merges exactly with other parts' (:meth:`Partial.merge`); ``top`` lists, per query,
    the rows and logits of the heaviest keys of this part, heaviest first.
    """

    partial: Partial
    best_key: np.ndarray  # (b,) the highest cosine similarity of any key of this part to each query
    top: list[tuple[np.ndarray, np.ndarray]]  # per query: (rows, logits)


@dataclass(frozen=True)
class Part:
    """:class:`Attended` with its rows resolved to pairs: what one shard sends back for a batch.

    Per query, the heaviest keys of this part (heaviest first) with their values, logits and
    value vectors. Rows are private to a part; keys are not.
    """

    partial: Partial
    best_key: np.ndarray
    keys: list[list[str]]
    values: list[list[str]]
    logits: list[np.ndarray]
    value_vectors: list[np.ndarray]  # per query: (listed, dim)

    def as_attended(self) -> Attended:
        """The same, with positions in ``keys`` standing for rows (for :meth:`Pipeline.top_weights`)."""
        return Attended(self.partial, self.best_key, [(np.arange(len(k)), lg) for k, lg in zip(self.keys, self.logits)])


@dataclass(frozen=True)
class Answered:
    """The pipeline's output for a batch of queries, before it is shaped for the caller."""

    ids: np.ndarray  # (b, k) rows of ``words``, best first
    similarities: np.ndarray  # (b, k) their cosine similarity to the blend
    attention: list[list[tuple[str, float]]]  # per query: (key, weight), heaviest first
    best_key: np.ndarray  # (b,) the highest cosine similarity of any key to each query
    blended: np.ndarray  # (b, dim)
    words: Sequence[str]  # what ids index: the vocabulary, or the stored values

    def words_of(self, i: int, threshold: float = -float("inf")) -> list[str]:
        """Query ``i``'s answer words, best first; none when no key is within ``threshold``."""
        if threshold != -math.inf and not float(self.best_key[i]) >= threshold:
            return []
        return [self.words[j] for j in self.ids[i].tolist()]

    def result(self, i: int, text: str, embedded: Embedded, threshold: float = -float("inf")) -> QueryResult:
        """Query ``i`` as the caller sees it, with its working."""
        best = float(self.best_key[i])
        candidates = [(self.words[j], s) for j, s in zip(self.ids[i].tolist(), self.similarities[i].tolist())]
        return QueryResult(
            text=text,
            candidates=candidates if best >= threshold else [],
            attention=self.attention[i],
            vector=self.blended[i],
            ignored=embedded.ignored[i],
            best_similarity=best,
            spelled=embedded.spelled[i] if embedded.spelled else (),
            corrections=embedded.corrections[i] if embedded.corrections else (),
        )


def torch_device(name: str) -> torch.device:
    """The torch device ``name`` names, checked when the store is made rather than at its first query."""
    import torch

    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidOptionError(f"device {name!r} was asked for, but torch sees no CUDA GPU here; use device='cpu'")
    return device


class Pipeline:
    """Attention and decode as one store's settings choose them."""

    def __init__(self, embeddings: Embeddings | EncoderEmbeddings, settings: Settings) -> None:
        self.settings = settings
        self.attention = Attention.of(settings)
        self.device = torch_device(settings.device) if settings.device != "cpu" else None  # None: the CPU
        self.key_index: KeyIndex | None = None
        if settings.attend_to == "index":
            from .key_index import KeyIndex

            self.key_index = KeyIndex(self.attention)
        words = embeddings if isinstance(embeddings, Embeddings) else embeddings.vocabulary
        self.index: VocabularyIndex | None = vocabulary_index(words, IndexSettings.of(settings)) if words is not None else None
        self._values: tuple[int, ValuesDecoder] | None = None
        self._lists = StoreLists()
        self._hinted = settings.index == "annoy" and settings.answers != "values"  # HNSW takes no hints

    def answer(self, pairs: HeldPairs, queries: np.ndarray, k: int, exact: bool, attention_k: int | None = None,
               best_key: bool = True) -> Answered:
        """Attend, blend and decode for (b, dim) query vectors over ``pairs`` (held steady by the caller).

        :param attention_k: how many of the heaviest keys to list per query (``None``: every key; 0: none).
        :param best_key: find each query's highest key cosine (``False``: NaN, for a caller that only
            wants words with no ``min_similarity``).
        """
        if not len(pairs):
            raise EmptyDatabaseError("the store holds no pairs, so a query has nothing to attend to; add pairs first")
        top = len(pairs) if attention_k is None else max(HINT_VALUES, attention_k)
        if self.device is not None or self.key_index is not None:
            if len(queries) == 1 and len(pairs) < THREADED_KEYS:
                # NOTE: one query's products over a small store are short: torch's two threads only wait
                # for each other (and 5-25x longer when another process holds a core); one thread is steady.
                with one_torch_thread():
                    part = self.part(pairs, queries, top)
            else:
                part = self.part(pairs, queries, top)
            return self.merge([part], k, exact, attention_k, pairs)
        top = top if attention_k is None or self._hinted else max(1, attention_k)  # only annoy takes hints
        attended = self.attend(pairs, queries, top, best_key)
        return self._answers(attended, pairs, k, exact, attention_k)

    def _answers(self, attended: Attended, pairs: HeldPairs, k: int, exact: bool,
                 attention_k: int | None) -> Answered:
        """A store in one piece: the answers straight from its attention, with no merge of parts,
        listing only what the caller asked for.
        """
        partial = attended.partial
        blended = (partial.weighted / partial.total[:, None]).astype(np.float32)
        attention, hint_values, hint_vectors = [], [], []
        for i, (rows, logits) in enumerate(attended.top):
            shown = (rows if attention_k is None else rows[:attention_k]).tolist()
            logs = logits[: len(shown)].astype(np.float64) - partial.maximum[i] if shown else None
            weights = (np.exp(logs) / partial.total[i]).tolist() if logs is not None else []
            attention.append([(pairs.row_keys[row], w) for row, w in zip(shown, weights)])
            heaviest = rows[:HINT_VALUES] if self._hinted else rows[:0]  # only annoy's decode takes hints
            hint_values.append([pairs.row_values[row] for row in heaviest.tolist()])
            hint_vectors.append(pairs.value_vectors_of(heaviest) if len(heaviest) else np.empty((0, pairs.dim), np.float32))
        ids, sims, words = self.decode(blended, k, exact, pairs, hint_values, hint_vectors)
        return Answered(ids, sims, attention, attended.best_key, blended, words)

    def merge(self, parts: Sequence[Part], k: int, exact: bool, attention_k: int | None,
              stored: HeldPairs | ValuesDecoder | None = None) -> Answered:
        """The answers of the whole store from its parts' attention: one exact blend, one decode.

        A store in one piece is one part; a sharded store's driver merges one part per shard.
        :param stored: for ``answers="values"`` (the stored values are the vocabulary): the pairs,
            or a decoder over every shard's distinct values.
        """
        blended = Partial.merge([p.partial for p in parts])[0].astype(np.float32)
        best_key = np.max([p.best_key for p in parts], axis=0)
        attention, hint_values, hint_vectors = [], [], []
        for i, weights in enumerate(self.top_weights([p.as_attended() for p in parts])):
            keys = [key for p in parts for key in p.keys[i]]
            values = [value for p in parts for value in p.values[i]]
            vectors = np.concatenate([p.value_vectors[i] for p in parts])
            order = np.argsort(-weights, kind="stable")
            shown = order if attention_k is None else order[:attention_k]
            attention.append([(keys[j], float(weights[j])) for j in shown.tolist()])
            heaviest = order[:HINT_VALUES]
            hint_values.append([values[j] for j in heaviest.tolist()])
            hint_vectors.append(vectors[heaviest])
        ids, sims, words = self.decode(blended, k, exact, stored, hint_values, hint_vectors)
        return Answered(ids, sims, attention, best_key, blended, words)

    def attend(self, pairs: HeldPairs, queries: np.ndarray, top: int, best_key: bool = True) -> Attended:
        """Attention of (b, dim) queries over ``pairs``, as a part that merges exactly with others.

        :param best_key: find each query's highest key cosine exactly (else NaN, where the two-pass
            path can skip it).
        """
        if self.key_index is not None and len(pairs) > self.settings.attend_top:
            width = self.settings.attend_top
            parts = [self._attend_rows(pairs, query[None, :], self.key_index.candidates(query, width, pairs), top)
                     for query in queries]
            return _joined(parts)
        if self.device is not None:
            return self._attend_rows(pairs, queries, None, top)
        if (self.attention.similarity == "cosine" and len(pairs) >= two_pass.MIN_KEYS and top <= TWO_PASS_TOP
                and two_pass.torch_ready() and two_pass.int8_pays()):
            pairs.ensure_codes()
            parts = []
            for query in queries:
                found = two_pass.attend(self.attention, pairs, query, top, best_key)
                if found is None:  # the bounds could not settle it cheaply: every row in float32
                    parts.append(self._attend_dense(pairs, query[None, :], top, best_key))
                else:
                    parts.append(Attended(found.partial, np.array([found.best_key]), [(found.rows, found.logits)]))
            return _joined(parts)
        block = max(1, DENSE_SCORES // len(pairs))
        return _joined([self._attend_dense(pairs, queries[start : start + block], top, best_key)
                        for start in range(0, len(queries), block)])

    def _attend_dense(self, pairs: HeldPairs, queries: np.ndarray, top: int, best_key: bool = True) -> Attended:
        """Every row scored in numpy float32: the lean path of a small store (and the reference)."""
        partial, best, listed = attend_dense(self.attention, pairs.key_units, pairs.key_norms, pairs.value_units,
                                             pairs.value_norms, np.asarray(queries, dtype=np.float32), top, best_key)
        return Attended(partial, best, listed)

    def part(self, pairs: HeldPairs, queries: np.ndarray, top: int) -> Part:
        """:meth:`attend`, resolved to keys and values: what a shard of a sharded store answers."""
        attended = self.attend(pairs, queries, top)
        rows = [listed.tolist() for listed, _ in attended.top]
        return Part(
            attended.partial, attended.best_key, [[pairs.row_keys[row] for row in listed] for listed in rows],
            [[pairs.row_values[row] for row in listed] for listed in rows],
            [logits for _, logits in attended.top], [pairs.value_vectors_of(rows) for rows, _ in attended.top],
        )

    @classmethod
    def votes(cls, parts: Sequence[Part]) -> list[list[tuple[str, float]]]:
        """Per query, each value of the listed keys with the attention its keys carry (shares of the
        listed keys' weight, largest first): the attention rule as a classifier.
        """
        out = []
        for i, weights in enumerate(cls.top_weights([p.as_attended() for p in parts])):
            values = [value for p in parts for value in p.values[i]]
            mass: dict[str, float] = {}
            for value, weight in zip(values, weights.tolist()):
                mass[value] = mass.get(value, 0.0) + weight
            total = sum(mass.values()) or 1.0
            out.append(sorted(((value, share / total) for value, share in mass.items()), key=lambda item: -item[1]))
        return out

    @staticmethod
    def top_weights(parts: Sequence[Attended]) -> list[np.ndarray]:
        """Per query, the weights of the listed keys of ``parts`` (in their order), as shares of the whole softmax."""
        maximum = np.max([p.partial.maximum for p in parts], axis=0)
        total = np.sum([p.partial.total * np.exp(p.partial.maximum - maximum) for p in parts], axis=0)
        return [np.concatenate([np.exp(p.top[i][1].astype(np.float64) - maximum[i]) / total[i] for p in parts])
                for i in range(len(maximum))]

    def decode(
        self, blended: np.ndarray, k: int, exact: bool, stored: HeldPairs | ValuesDecoder | None,
        hint_values: list[list[str]], hint_vectors: list[np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray, Sequence[str]]:
        """(b, dim) blended vectors -> (b, k) ids, similarities, and the words they index.

        :param hint_values, hint_vectors: per query, the heaviest values and their vectors: the
            decode looks near them first.
        """
        if self.settings.answers == "values":
            assert stored is not None
            decoder = stored if isinstance(stored, ValuesDecoder) else self._decode_values(stored)
            ids, sims = decoder.search(blended, k)
            return ids, sims, decoder.words
        assert self.index is not None
        listed = self._lists.decoder(stored, self.index.exact()) if isinstance(stored, HeldPairs) else None
        if listed is not None:  # few values: their listed words answer exactly where they can prove it
            found = listed.search(blended, k)
            rest = [i for i, answer in enumerate(found) if answer is None]
            if len(rest) == len(blended):
                return self.decode(blended, k, exact, None, hint_values, hint_vectors)
            ids, sims = np.empty((len(blended), k), dtype=np.int64), np.empty((len(blended), k), dtype=np.float32)
            if rest:  # k is then at most the listed rows, which are fewer than the vocabulary's
                ids[rest], sims[rest], _ = self.decode(blended[rest], k, exact, None, [hint_values[i] for i in rest],
                                                       [hint_vectors[i] for i in rest])
            for i, answer in enumerate(found):
                if answer is not None:
                    ids[i], sims[i] = answer
            return ids, sims, self.index.words
        if exact:  # an exact scan needs no hints
            ids, sims = self.index.decoder(exact, self.device).search(blended, k)
            return ids, sims, self.index.words
        flat_values = [v for values in hint_values for v in values]
        flat = self.index.hints(flat_values, np.concatenate(hint_vectors)) if flat_values else []
        hints, start = [], 0
        for values in hint_values:
            hints.append(np.unique(np.concatenate(flat[start : start + len(values)])) if values else np.empty(0, np.int64))
            start += len(values)
        ids, sims = self.index.decoder(exact, self.device).search(blended, k, hints)
        return ids, sims, self.index.words

    def nearest(self, pairs: HeldPairs, query: np.ndarray, k: int) -> tuple[list[int], list[float]]:
        """Rows of the ``k`` keys nearest to ``query`` by cosine, exactly, nearest first.

        A big store on the CPU goes through its int8 copies with a certified top k (every key that
        could be among the k is scored in float32); a small one is scored whole, in numpy.
        """
        if self.device is None and len(pairs) >= two_pass.MIN_KEYS and two_pass.torch_ready() and two_pass.int8_pays():
            pairs.ensure_codes()
            rows, sims = two_pass.nearest(pairs, query, k)
            return rows.tolist(), sims.tolist()
        if self.device is not None:
            import torch

            on_device = score(torch.from_numpy(query[None, :]), *_key_tensors(pairs)).cosine[0]
            top = torch.topk(on_device, min(k, len(pairs)), sorted=True)
            return top.indices.tolist(), top.values.tolist()
        norm = float(np.linalg.norm(query))
        cosine = pairs.key_units @ (query / np.float32(norm if norm > 0 else 1.0)).astype(np.float32)
        chosen = top_rows(cosine, min(k, len(pairs)))
        return chosen.tolist(), cosine[chosen].tolist()

    def forget_keys(self) -> None:
        """The pairs were replaced wholesale: what was derived from the old ones is void."""
        if self.key_index is not None:
            self.key_index.reset()

    def touch(self, keys: Sequence[str]) -> None:
        """Keys were written or deleted since the key index was built."""
        if self.key_index is not None:
            self.key_index.touch(list(keys))

    def _attend_rows(self, pairs: HeldPairs, queries: np.ndarray, rows: np.ndarray | None, top: int) -> Attended:
        """Attention over ``rows`` of ``pairs`` (``None``: every row): one read of the key directions,
        one of the value directions (for the value term), and of the values that carry weight.
        """
        if rows is None:
            keys, norms, values, value_norms = pairs.key_units, pairs.key_norms, pairs.value_units, pairs.value_norms
        else:
            keys, norms = pairs.key_units[rows], pairs.key_norms[rows]
            values, value_norms = pairs.value_units[rows], pairs.value_norms[rows]
        import torch

        device = self.device or torch.device("cpu")
        query = torch.from_numpy(queries).to(device)
        value_tensor, value_norm_tensor = torch.from_numpy(values).to(device), torch.from_numpy(value_norms).to(device)
        scores = score(query, torch.from_numpy(keys).to(device), torch.from_numpy(norms).to(device))
        value_cosines = score(query, value_tensor, value_norm_tensor).cosine if self.attention.uses_values else None
        logits = self.attention.logits(scores, value_cosines)
        partial = Partial.of(logits, value_tensor, value_norm_tensor)
        best_key = scores.cosine.max(dim=-1).values.cpu().numpy()
        heaviest = torch.topk(logits, min(top, logits.shape[1]), dim=-1, sorted=True)
        chosen = heaviest.indices.cpu().numpy()
        found = chosen if rows is None else rows[chosen]
        return Attended(partial, best_key, [(found[i], heaviest.values[i].cpu().numpy()) for i in range(len(queries))])

    def _decode_values(self, pairs: HeldPairs) -> ValuesDecoder:
        """The stored values as the answers' vocabulary, rebuilt when the pairs have changed."""
        if self._values is None or self._values[0] != pairs.version:
            self._values = (pairs.version, ValuesDecoder.of(pairs))
        return self._values[1]


def _joined(parts: Sequence[Attended]) -> Attended:
    """Parts over the same rows for consecutive blocks of queries, as one."""
    if len(parts) == 1:
        return parts[0]
    return Attended(
        Partial(np.concatenate([p.partial.maximum for p in parts]), np.concatenate([p.partial.total for p in parts]),
                np.concatenate([p.partial.weighted for p in parts])),
        np.concatenate([p.best_key for p in parts]),
        [t for p in parts for t in p.top],
    )


def _key_tensors(pairs: HeldPairs) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    return torch.from_numpy(pairs.key_units), torch.from_numpy(pairs.key_norms)
