"""Query -> candidate keys: an annoy index over a store's keys, for attention over the top keys only.

Annoy cannot change an index once built, so writes since the build are tracked: a key set or
deleted since then is ignored in annoy's answers, and every key written since is scored exactly
alongside them. When those writes reach a tenth of the store, the next query rebuilds the index.
"""

from __future__ import annotations

import threading

import numpy as np
from annoy import AnnoyIndex

from .annoy_index import build_angular
from .attention import Attention
from .matrix import PairMatrix
from .rule import index_directions

#: Annoy's build and search effort over the keys; chosen with benchmarks/store_size.py (agreement
#: with full attention on a 1,000,000-key store).
KEY_TREES = 16
KEY_SEARCH_K = 10_000
REBUILD_FRACTION = 0.1


class KeyIndex:
    """Candidate rows of a :class:`PairMatrix` for a query: annoy's nearest keys plus every recent write."""

    def __init__(self, attention: Attention, n_trees: int = KEY_TREES, search_k: int = KEY_SEARCH_K) -> None:
        self._attention = attention
        self._n_trees = n_trees
        self._search_k = search_k
        self._index: AnnoyIndex | None = None
        self._keys: list[str] = []  # annoy item -> key, as at the build
        self._written: set[str] = set()  # keys set or deleted since the build
        self._lock = threading.Lock()

    def touch(self, keys: list[str] | tuple[str, ...]) -> None:
        """Note keys set or deleted since the build."""
        with self._lock:
            if self._index is not None:
                self._written.update(keys)

    def reset(self) -> None:
        """Forget the index (after ``clear`` or a reload): the next query builds a new one."""
        with self._lock:
            self._index, self._keys, self._written = None, [], set()

    def candidates(self, query: np.ndarray, count: int, pairs: PairMatrix) -> np.ndarray:
        """Rows of ``pairs`` worth attending to for ``query``: at most ``count`` from annoy, plus recent writes."""
        with self._lock:
            if self._index is None or len(self._written) > REBUILD_FRACTION * max(len(pairs), 1):
                self._build(pairs)
            assert self._index is not None
            found = self._index.get_nns_by_vector(self._probe(query), count, search_k=max(self._search_k, count))
            keys = [self._keys[i] for i in found if self._keys[i] not in self._written]
            keys.extend(key for key in self._written if key in pairs)
        return np.fromiter((pairs.row_of(key) for key in keys), dtype=np.int64, count=len(keys))

    def _build(self, pairs: PairMatrix) -> None:
        index = build_angular(self._items(pairs), self._n_trees, metric="dot")
        self._index, self._keys, self._written = index, list(pairs.row_keys), set()

    def _items(self, pairs: PairMatrix) -> np.ndarray:
        """Vectors whose inner product with the probe orders keys as the attention's logits do.

        Cosine attention scores ``unit(q) . (moved key + value_weight * unit(v))`` (fuzzykv/rule.py);
        dot attention ``q . k``.
        """
        if self._attention.similarity == "dot":
            return pairs.key_vectors
        return index_directions(pairs.key_units, pairs.value_units, value_weight=self._attention.value_weight or 0.0,
                                mix=self._attention.key_value_mix or 0.0)

    def _probe(self, query: np.ndarray) -> np.ndarray:
        if self._attention.similarity == "dot":
            return query
        norm = float(np.linalg.norm(query))
        return query / norm if norm > 0 else query
