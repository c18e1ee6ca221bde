"""Exact decode of a store with few distinct values: each value's nearest words, listed once,
answer any blend of the values exactly, or say that they cannot.

A blend is b = sum_v c_v u_v over the store's distinct value directions u_v. For each u_v the
``LISTED`` words of highest cosine are listed, and t_v is the highest cosine of a word left out.
A word w outside every list scores

    w.b = sum_v c_v (w.u_v) <= sum_{c_v >= 0} c_v t_v + sum_{c_v < 0} |c_v| + |r|,

where c comes from b by least squares over the directions and r = b - sum_v c_v u_v is what
rounding leaves (|w.r| <= |r|). So when the k-th best listed word scores above that bound, the
listed words' top k is the whole vocabulary's: the exact answer, from a few thousand rows scored
instead of 400,000. When it does not (a blend between values far apart), the caller decodes as
it would have.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..pairs import HeldPairs
from .exact import ExactDecoder, unit_queries
from .topk import top_rows

#: Words listed per distinct value: the bound proves more blends with more words, and more rows are
#: scored. Chosen on the tuning stores of benchmarks/index_recall.py (seed 12: 1,024 words proved 91%
#: of 6-key queries, 4,096 proved 96%); its report is on other stores.
LISTED = 2048
#: Stores with at most this many distinct values are decoded through their lists first.
MAX_VALUES = 16
#: ... and at most this many keys (the distinct values are found again after every write).
MAX_KEYS = 4096
#: Cached value lists, least recently used dropped first (about 8 KB each).
CACHED_LISTS = 4096
#: Covers float32 rounding of the scores (sums of 50 products of unit vectors).
_MARGIN = 1e-5


class ValueLists:
    """Each value's ``LISTED`` nearest words over a vocabulary, found by a full scan once and kept (LRU)."""

    def __init__(self, unit_vectors: np.ndarray) -> None:
        self._unit = unit_vectors
        self._kept: OrderedDict[str, tuple[np.ndarray, float]] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, texts: Sequence[str], directions: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """Per value: its listed rows (ascending) and the highest cosine of a row left out."""
        out = []
        for text, direction in zip(texts, directions):
            with self._lock:
                kept = self._kept.get(text)
                if kept is not None:
                    self._kept.move_to_end(text)
            if kept is None:
                scores = self._unit @ np.asarray(direction, dtype=np.float32)
                best = top_rows(scores, LISTED + 1)
                kept = (np.sort(best[:LISTED]), float(scores[best[LISTED]]))
                with self._lock:
                    self._kept[text] = kept
                    while len(self._kept) > CACHED_LISTS:
                        self._kept.popitem(last=False)
            out.append(kept)
        return out


@dataclass(frozen=True)
class ListedDecoder:
    """One store's distinct values, their lists' rows as one matrix, and the bound's parts."""

    rows: np.ndarray  # (m,) vocabulary rows listed for some value, ascending
    matrix: np.ndarray  # (m, dim) their unit vectors
    directions: np.ndarray  # (values, dim) float64 unit value directions
    solve: np.ndarray  # (values, dim) least squares: c = solve @ b
    thresholds: np.ndarray  # (values,) the highest cosine of a word left out of each list

    @classmethod
    def of(cls, unit_vectors: np.ndarray, lists: ValueLists, texts: Sequence[str],
           directions: np.ndarray) -> ListedDecoder | None:
        """``None`` for a store these cannot serve (too many values, or a value with no direction)."""
        if not 0 < len(texts) <= MAX_VALUES or LISTED >= len(unit_vectors):
            return None
        exact = np.asarray(directions, dtype=np.float64)
        if not np.all(np.abs(np.linalg.norm(exact, axis=1) - 1) < 1e-3):
            return None  # a zero vector's value: no direction to list words by
        listed = lists.of(texts, directions)
        rows = np.unique(np.concatenate([found for found, _ in listed]))
        return cls(rows, np.ascontiguousarray(unit_vectors[rows]), exact, np.linalg.pinv(exact.T),
                   np.array([threshold for _, threshold in listed]))

    def search(self, vectors: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """Per (b, dim) vector, the exact top ``k`` rows and cosines (what a full scan answers), or
        ``None`` where the lists cannot prove it.
        """
        out: list[tuple[np.ndarray, np.ndarray] | None] = []
        for query in unit_queries(np.asarray(vectors, dtype=np.float32)):
            if k > len(self.rows):
                out.append(None)
                continue
            scores = self.matrix @ query
            best = top_rows(scores, k)
            weights = self.solve @ query.astype(np.float64)
            residual = float(np.linalg.norm(query - weights @ self.directions))
            bound = float(np.where(weights >= 0, weights * self.thresholds, -weights).sum()) + residual + _MARGIN
            out.append((self.rows[best], scores[best]) if float(scores[best[-1]]) > bound else None)
        return out


_lists: weakref.WeakKeyDictionary[ExactDecoder, ValueLists] = weakref.WeakKeyDictionary()
_lists_lock = threading.Lock()


def lists_for(exact: ExactDecoder) -> ValueLists:
    """The value lists over one vocabulary's searched rows, shared by every store decoding against it."""
    with _lists_lock:
        found = _lists.get(exact)
        if found is None:
            found = _lists[exact] = ValueLists(exact.unit_vectors)
        return found


class StoreLists:
    """A store's :class:`ListedDecoder`, made again after the pairs change (``None`` where none serves)."""

    def __init__(self) -> None:
        self._held: tuple[int, ListedDecoder | None] = (-1, None)

    def decoder(self, pairs: HeldPairs, exact: ExactDecoder) -> ListedDecoder | None:
        """The decoder for ``pairs`` as they are now (held steady by the caller)."""
        if len(pairs) > MAX_KEYS:
            return None
        version, held = self._held
        if version != pairs.version:
            texts, directions = pairs.distinct_values()
            held = ListedDecoder.of(exact.unit_vectors, lists_for(exact), texts, directions)
            self._held = (pairs.version, held)
        return held
