"""A store's pairs in memory: the exact mapping, and key and value vectors that change row by row."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


class PairMatrix:
    """Pairs in insertion order, with their key vectors, key norms and value vectors as row matrices.

    Setting, changing or deleting a pair costs O(dim), amortised: rows live in arrays with spare
    capacity, and a deleted row is filled by the last one. Row order is therefore not insertion
    order; :attr:`row_keys` maps rows back to keys.

    Pairs read from a file come with their rowids (the file's insertion order). A key that arrives
    with a larger rowid than the one held was deleted and re-added elsewhere, so it moves to the
    end, as it is in the file: every handle iterates in the file's order. Without rowids (memory
    only) the order is a dict's.
    """

    def __init__(self, dim: int, capacity: int = 16) -> None:
        self.dim = dim
        self._values: dict[str, str] = {}
        self._row_of: dict[str, int] = {}
        self._rowid_of: dict[str, int] = {}
        self.row_keys: list[str] = []
        self._key_vectors = np.empty((capacity, dim), dtype=np.float32)
        self._key_norms = np.empty(capacity, dtype=np.float32)
        self._value_norms = np.empty(capacity, dtype=np.float32)
        self._value_vectors = np.empty((capacity, dim), dtype=np.float32)
        self.version = 0  # bumped by every write: what is derived from the pairs can tell it is stale

    def __len__(self) -> int:
        return len(self.row_keys)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def copy(self) -> PairMatrix:
        other = PairMatrix(self.dim, capacity=max(16, len(self)))
        other.set_many(self.row_keys, [self._values[k] for k in self.row_keys], self.key_vectors, self.value_vectors)
        for key in self._values:  # insertion order, not row order
            other._values[key] = other._values.pop(key)
        other._rowid_of = dict(self._rowid_of)
        return other

    # -- reads -------------------------------------------------------------------------------

    def value(self, key: str) -> str:
        return self._values[key]

    def row_of(self, key: str) -> int:
        return self._row_of[key]

    def keys(self) -> list[str]:
        """Keys in insertion order (a re-set key keeps its place)."""
        return list(self._values)

    def items(self) -> list[tuple[str, str]]:
        return list(self._values.items())

    @property
    def key_vectors(self) -> np.ndarray:
        return self._key_vectors[: len(self)]

    @property
    def key_norms(self) -> np.ndarray:
        return self._key_norms[: len(self)]

    @property
    def value_norms(self) -> np.ndarray:
        return self._value_norms[: len(self)]

    @property
    def value_vectors(self) -> np.ndarray:
        return self._value_vectors[: len(self)]

    # -- writes ------------------------------------------------------------------------------

    def set_many(
        self,
        keys: Sequence[str],
        values: Sequence[str],
        key_vectors: np.ndarray,
        value_vectors: np.ndarray,
        rowids: Sequence[int] | None = None,
    ) -> None:
        """Add new pairs at the end; change existing ones in place. ``keys`` must not repeat.

        :param rowids: each key's rowid in the store file, in ascending order: a held key whose
            rowid grew was re-inserted in the file and moves to the end.
        """
        self._reserve(len(self) + len(keys))
        self.version += 1
        rows = np.empty(len(keys), dtype=np.int64)
        for position, (key, value) in enumerate(zip(keys, values)):
            row = self._row_of.get(key)
            if row is None:
                row = len(self.row_keys)
                self._row_of[key] = row
                self.row_keys.append(key)
            elif rowids is not None and self._rowid_of.get(key, rowids[position]) != rowids[position]:
                del self._values[key]  # re-inserted in the file: its place is now the end
            if rowids is not None:
                self._rowid_of[key] = rowids[position]
            self._values[key] = value
            rows[position] = row
        self._key_vectors[rows] = key_vectors
        self._key_norms[rows] = np.linalg.norm(key_vectors, axis=1) if len(keys) else 0
        self._value_norms[rows] = np.linalg.norm(value_vectors, axis=1) if len(keys) else 0
        self._value_vectors[rows] = value_vectors

    def delete_many(self, keys: Iterable[str]) -> None:
        """Remove pairs that are present; the last row moves into each hole."""
        self.version += 1
        for key in keys:
            row = self._row_of.pop(key, None)
            if row is None:
                continue
            del self._values[key]
            self._rowid_of.pop(key, None)
            last = len(self.row_keys) - 1
            moved = self.row_keys.pop()
            if row != last:
                self.row_keys[row] = moved
                self._row_of[moved] = row
                self._key_vectors[row] = self._key_vectors[last]
                self._key_norms[row] = self._key_norms[last]
                self._value_norms[row] = self._value_norms[last]
                self._value_vectors[row] = self._value_vectors[last]

    def _reserve(self, needed: int) -> None:
        capacity = len(self._key_norms)
        if needed <= capacity:
            return
        capacity = max(needed, 2 * capacity)
        # New arrays, not resized ones: a query still holding views of the old rows stays valid.
        for name in ("_key_vectors", "_value_vectors", "_key_norms", "_value_norms"):
            old = getattr(self, name)
            new = np.empty((capacity, *old.shape[1:]), dtype=old.dtype)
            new[: len(self)] = old[: len(self)]
            setattr(self, name, new)
