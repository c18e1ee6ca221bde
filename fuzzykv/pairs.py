"""A store's pairs in memory: the exact mapping, and key and value vectors that change row by row."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import numpy as np

from .errors import StoreError

_VERSIONS = itertools.count()
_TINY = np.finfo(np.float32).tiny
#: The int8 copies of the directions (see fuzzykv.search.two_pass), held once a big store first needs them.
CODE_ARRAYS = ("_key_codes", "_value_codes", "_key_scales", "_key_errors", "_value_scales", "_value_errors")
#: The arrays a HeldPairs keeps its rows in (with spare capacity); rowids only for pairs read from a
#: file, codes only for stores that answer in two passes.
ARRAYS = ("_key_units", "_value_units", "_key_norms", "_value_norms", "_rowids", *CODE_ARRAYS)


def unit_rows(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, dim) vectors -> their (n, dim) directions (zero rows stay zero) and (n,) lengths, float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1).astype(np.float32)
    return vectors / np.maximum(norms, _TINY)[:, None], norms


def first_of_each(words: Iterable[str], units: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Each distinct word once, in order of its first row, with that row of ``units``."""
    first: dict[str, int] = {}
    for row, word in enumerate(words):
        first.setdefault(word, row)
    return list(first), units[list(first.values())]


def page_of(pairs: list[tuple[str, str]], after: str | None, limit: int) -> tuple[list[tuple[str, str]], bool]:
    """Up to ``limit`` of ``pairs`` (in order) after the pair whose key is ``after``, and whether more follow.

    :raises KeyError: no pair has the key ``after``.
    """
    start = 0
    if after is not None:
        start = next((i for i, (key, _) in enumerate(pairs) if key == after), -1) + 1
        if not start:
            raise KeyError(after)
    return pairs[start : start + limit], start + limit < len(pairs)


class HeldPairs:
    """Pairs in insertion order, with their key and value vectors as row matrices.

    Each vector is kept as its direction (a unit row, zero for a zero vector) and its length: every
    query reads the directions (cosines are then one product each), and a raw vector is the two
    multiplied (:meth:`value_vectors_of`).

    Setting, changing or deleting a pair costs O(dim), amortised: rows live in arrays with spare
    capacity, and a deleted row is filled by the last one. Row order is therefore not insertion
    order; :attr:`row_keys` and :attr:`row_values` give each row's pair, and one dict maps each key
    to its row in insertion order (a key that moves to another row keeps its place in it).

    Pairs read from a file come with their rowids (the file's insertion order). A key that arrives
    with a larger rowid than the one held was deleted and re-added elsewhere, so it moves to the
    end, as it is in the file: every handle iterates in the file's order. Without rowids (memory
    only) the order is a dict's.
    """

    def __init__(self, dim: int, capacity: int = 16) -> None:
        self.dim = dim
        self._row_map: dict[str, int] | None = {}  # key -> row, in insertion order (None: not made yet)
        self.row_keys: list[str] = []
        self.row_values: list[str] = []
        self._key_units = np.empty((capacity, dim), dtype=np.float32)
        self._key_norms = np.empty(capacity, dtype=np.float32)
        self._value_norms = np.empty(capacity, dtype=np.float32)
        self._rowids = np.empty(0, dtype=np.int64)  # each row's rowid in the file (-1: none); sized on first use
        self._value_units = np.empty((capacity, dim), dtype=np.float32)
        self._coded = False
        self._key_codes = self._value_codes = np.empty((0, dim), dtype=np.int8)  # see _no_codes
        self._key_scales = self._key_errors = self._value_scales = self._value_errors = np.empty(0, dtype=np.float32)
        # New with every write and every copy, unique in the process: what was derived from pairs can tell it is stale.
        self.version = next(_VERSIONS)

    def __len__(self) -> int:
        return len(self.row_keys)

    @property
    def _row_of(self) -> dict[str, int]:
        """Each key's row, in insertion order: the store's order. Pairs adopted from a file make it on
        first use, not at the open: a query needs no key map, and 1,000,000 keys take 0.3 s to map.

        :raises StoreError: the adopted keys repeat one (the file they came from is damaged).
        """
        if self._row_map is None:
            row_map = dict(zip(self.row_keys, range(len(self.row_keys))))
            if len(row_map) != len(self.row_keys):
                raise StoreError("the store's pairs file repeats a key, so it is damaged: delete the file named "
                                 "after the store with '-pairs' and the store reads its pairs from SQLite again")
            self._row_map = row_map
        return self._row_map

    @_row_of.setter
    def _row_of(self, row_map: dict[str, int]) -> None:
        self._row_map = row_map

    def __contains__(self, key: object) -> bool:
        return key in self._row_of

    @classmethod
    def adopt(cls, keys: list[str], values: list[str], key_units: np.ndarray, key_norms: np.ndarray,
              value_units: np.ndarray, value_norms: np.ndarray, rowids: np.ndarray,
              codes: dict[str, np.ndarray] | None = None) -> HeldPairs:
        """Pairs in insertion order whose arrays are used as they are, not copied (a mapped file's views).

        :param codes: the int8 copies, by the names in ``CODE_ARRAYS`` (see :meth:`ensure_codes`).

        The arrays must be writable (a private mapping is): a changed or deleted pair is written
        in place, and a new one moves every array into a larger copy first.

        :raises ValueError: arrays whose rows do not match the keys (a key that repeats is found
            when the key map is first made: see :attr:`_row_of`).
        """
        n = len(keys)
        matrix = cls(key_units.shape[1], capacity=0)
        matrix.row_keys, matrix.row_values = keys, values
        matrix._row_map = None  # made on first use (see _row_of), which checks that no key repeats
        if len(values) != n:
            raise ValueError("each key needs one value")
        matrix._key_units, matrix._key_norms, matrix._value_units, matrix._value_norms, matrix._rowids = (
            key_units, key_norms, value_units, value_norms, rowids)
        if codes is not None:
            if set(codes) != set(CODE_ARRAYS):
                raise ValueError(f"codes need every one of {CODE_ARRAYS}")
            for name in CODE_ARRAYS:
                setattr(matrix, name, codes[name])
            matrix._coded = True
        if any(len(getattr(matrix, name)) != n for name in matrix._arrays()):
            raise ValueError(f"every array needs one row per key ({n})")
        return matrix

    def copy(self) -> HeldPairs:
        """An independent copy with room to grow: what a batch keeps to roll back to if it fails."""
        n = len(self)
        other = HeldPairs(self.dim, capacity=max(16, n))
        other.row_keys, other.row_values, other._row_of = list(self.row_keys), list(self.row_values), dict(self._row_of)
        other._rowids = np.empty(len(other._key_norms) if len(self._rowids) else 0, dtype=np.int64)
        if self._coded:
            other._coded = True
            other._no_codes(len(other._key_norms))
        for name in self._arrays():
            getattr(other, name)[:n] = getattr(self, name)[:n]
        return other

    # -- reads -------------------------------------------------------------------------------

    def value(self, key: str) -> str:
        """:raises KeyError: ``key`` is not held."""
        return self.row_values[self._row_of[key]]

    def row_of(self, key: str) -> int:
        """The row of ``key`` in the arrays; a deletion moves the last row into the hole, so rows are not the store's order.

        :raises KeyError: ``key`` is not held.
        """
        return self._row_of[key]

    def keys(self) -> list[str]:
        """Keys in insertion order (a re-set key keeps its place)."""
        return list(self._row_of)

    def items(self) -> list[tuple[str, str]]:
        """(key, value) pairs in insertion order (a re-set key keeps its place)."""
        values = self.row_values
        return [(key, values[row]) for key, row in self._row_of.items()]

    @property
    def key_units(self) -> np.ndarray:
        """(n, dim) the keys' directions, by row."""
        return self._key_units[: len(self)]

    @property
    def key_norms(self) -> np.ndarray:
        """(n,) the keys' vector lengths, by row: with :attr:`key_units`, what a dot-product score needs."""
        return self._key_norms[: len(self)]

    @property
    def value_norms(self) -> np.ndarray:
        """(n,) the values' vector lengths, by row (a blend weighs the value vectors as they are)."""
        return self._value_norms[: len(self)]

    @property
    def value_units(self) -> np.ndarray:
        """(n, dim) the values' directions, by row."""
        return self._value_units[: len(self)]

    @property
    def coded(self) -> bool:
        """Whether the int8 copies are held (see :meth:`ensure_codes`)."""
        return self._coded

    def ensure_codes(self) -> None:
        """Make the int8 copies of the key and value directions (per-row scales and error bounds),
        kept up to date by every later write: what a two-pass query reads first (fuzzykv.search.two_pass).
        """
        if self._coded:
            return

        n = len(self)
        self._no_codes(len(self._key_norms))
        self._key_codes[:n], self._key_scales[:n], self._key_errors[:n] = quantise(self.key_units)
        self._value_codes[:n], self._value_scales[:n], self._value_errors[:n] = quantise(self.value_units)
        self._coded = True

    @property
    def key_codes(self) -> np.ndarray:
        """(n, dim) int8: key direction i is ``key_scales[i] * key_codes[i]`` within ``key_errors[i]``."""
        return self._key_codes[: len(self)]

    @property
    def key_scales(self) -> np.ndarray:
        """(n,) float32: the scale that turns row i of :attr:`key_codes` back into a direction."""
        return self._key_scales[: len(self)]

    @property
    def key_errors(self) -> np.ndarray:
        """(n,) float32: how far (Euclidean) each coded key direction may be from the true one, rounded up."""
        return self._key_errors[: len(self)]

    @property
    def value_codes(self) -> np.ndarray:
        """(n, dim) int8: the value directions, coded as :attr:`key_codes`."""
        return self._value_codes[: len(self)]

    @property
    def value_scales(self) -> np.ndarray:
        """(n,) float32: the scale of each row of :attr:`value_codes`, as :attr:`key_scales`."""
        return self._value_scales[: len(self)]

    @property
    def value_errors(self) -> np.ndarray:
        """(n,) float32: the error bound of each row of :attr:`value_codes`, as :attr:`key_errors`."""
        return self._value_errors[: len(self)]

    @property
    def rowids(self) -> np.ndarray:
        """(n,) each row's rowid in the store file (-1 for a pair that has none)."""
        return self._rowids[: len(self)] if len(self._rowids) else np.full(len(self), -1, dtype=np.int64)

    def page(self, after: str | None, limit: int) -> tuple[list[tuple[str, str]], bool]:
        """Up to ``limit`` pairs that follow ``after`` (``None``: the first) in insertion order, and
        whether more follow.

        Pairs read from a store file are in the order of their rowids, so a page costs one pass of
        numpy over them, not a list of every key; pairs in memory only take the dict's order.

        :raises KeyError: ``after`` is not held.
        """
        rowids = self.rowids
        if len(self) and bool((rowids >= 0).all()):
            following = np.flatnonzero(rowids > (-1 if after is None else rowids[self._row_of[after]]))
            chosen = following
            if len(following) > limit:
                chosen = following[np.argpartition(rowids[following], limit - 1)[:limit]]
            rows = chosen[np.argsort(rowids[chosen])].tolist()
            return [(self.row_keys[row], self.row_values[row]) for row in rows], len(following) > limit
        return page_of(self.items(), after, limit)

    def distinct_values(self) -> tuple[list[str], np.ndarray]:
        """Each distinct value once (in row order of its first row) and its (distinct, dim) direction."""
        return first_of_each(self.row_values, self.value_units)

    @property
    def key_vectors(self) -> np.ndarray:
        """(n, dim) the key vectors as embedded (a new array)."""
        return np.asarray(self.key_units * self.key_norms[:, None])

    def value_vectors_of(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), dim) the value vectors of ``rows`` as embedded."""
        return np.asarray(self._value_units[rows] * self._value_norms[rows, None])

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
        if not len(keys):
            return
        self._reserve(len(self) + len(keys))
        self.version = next(_VERSIONS)
        if not len(self):  # a load: every key is new, and the maps are built in bulk
            self.row_keys, self.row_values = list(keys), list(values)
            self._row_of = dict(zip(keys, range(len(keys))))
            rows: np.ndarray | slice = slice(0, len(keys))
            if rowids is not None:
                self._held_rowids()[rows] = rowids
            elif len(self._rowids):
                self._rowids[rows] = -1
        else:
            rows = self._place(keys, values, rowids)
        self._key_units[rows], self._key_norms[rows] = unit_rows(key_vectors)
        self._value_units[rows], self._value_norms[rows] = unit_rows(value_vectors)
        if self._coded:

            self._key_codes[rows], self._key_scales[rows], self._key_errors[rows] = quantise(self._key_units[rows])
            self._value_codes[rows], self._value_scales[rows], self._value_errors[rows] = quantise(
                self._value_units[rows])

    def _place(self, keys: Sequence[str], values: Sequence[str], rowids: Sequence[int] | None) -> np.ndarray:
        """The rows of ``keys``: their own when held, new ones at the end otherwise."""
        rows = np.empty(len(keys), dtype=np.int64)
        row_of = self._row_of
        for position, (key, value) in enumerate(zip(keys, values)):
            row = row_of.get(key)
            if row is None:
                row = len(self.row_keys)
                row_of[key] = row
                self.row_keys.append(key)
                self.row_values.append(value)
                if len(self._rowids):
                    self._rowids[row] = -1
            else:
                self.row_values[row] = value
                if rowids is not None and len(self._rowids) and self._rowids[row] not in (-1, rowids[position]):
                    del row_of[key]  # re-inserted in the file: its place in the order is now the end
                    row_of[key] = row
            if rowids is not None:
                self._held_rowids()[row] = rowids[position]
            rows[position] = row
        return rows

    def delete_many(self, keys: Iterable[str]) -> None:
        """Remove pairs that are present; the last row moves into each hole."""
        keys = list(keys)
        if not keys:
            return
        self.version = next(_VERSIONS)
        row_of = self._row_of
        for key in keys:
            row = row_of.pop(key, None)
            if row is None:
                continue
            last = len(self.row_keys) - 1
            moved, moved_value = self.row_keys.pop(), self.row_values.pop()
            if row != last:
                self.row_keys[row], self.row_values[row] = moved, moved_value
                row_of[moved] = row  # a new row, the same place in the order
                for name in self._arrays():
                    array = getattr(self, name)
                    array[row] = array[last]

    def _reserve(self, needed: int) -> None:
        capacity = len(self._key_norms)
        if needed <= capacity:
            return
        capacity = max(needed, 2 * capacity)
        # New arrays, not resized ones: a query still holding views of the old rows stays valid.
        for name in self._arrays():
            old = getattr(self, name)
            new = np.empty((capacity, *old.shape[1:]), dtype=old.dtype)
            new[: len(self)] = old[: len(self)]
            setattr(self, name, new)

    def _held_rowids(self) -> np.ndarray:
        """The rowid array, made when the first rowid arrives (every row held before has none)."""
        if not len(self._rowids):
            self._rowids = np.full(len(self._key_norms), -1, dtype=np.int64)
        return self._rowids

    def _no_codes(self, capacity: int = 0) -> None:
        """Code arrays of ``capacity`` rows, not yet filled (none: the pairs are not coded)."""
        for name in ("_key_codes", "_value_codes"):
            setattr(self, name, np.empty((capacity, self.dim), dtype=np.int8))
        for name in ("_key_scales", "_key_errors", "_value_scales", "_value_errors"):
            setattr(self, name, np.empty(capacity, dtype=np.float32))

    def _arrays(self) -> list[str]:
        """The names of the row arrays in use (rowids are held once some pair came with one; codes
        once a query needed them).
        """
        return [name for name in ARRAYS if (name != "_rowids" or len(self._rowids))
                and (name not in CODE_ARRAYS or self._coded)]

_CHUNK_ROWS = 1 << 16

def quantise(units: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, dim) unit rows -> int8 codes (n, dim), scales (n,) and error bounds (n,), float32.

    Row i is ``scale[i] * codes[i]`` within ``error[i]`` (Euclidean length), computed in float64
    and rounded up, so the bound holds for the stored float32 numbers. A zero row has codes 0.
    """
    n, dim = units.shape
    codes = np.empty((n, dim), dtype=np.int8)
    scales = np.empty(n, dtype=np.float32)
    errors = np.empty(n, dtype=np.float32)
    for start in range(0, n, _CHUNK_ROWS):
        rows = np.asarray(units[start : start + _CHUNK_ROWS], dtype=np.float32)
        peak = np.abs(rows).max(axis=1)
        scale = np.where(peak > 0, peak / np.float32(127), np.float32(1)).astype(np.float32)
        code = np.clip(np.rint(rows / scale[:, None]), -127, 127)
        residual = rows.astype(np.float64) - code * scale[:, None].astype(np.float64)
        error = np.sqrt(np.einsum("ij,ij->i", residual, residual)).astype(np.float32)
        codes[start : start + len(rows)] = code
        scales[start : start + len(rows)] = scale
        errors[start : start + len(rows)] = np.nextafter(error, np.float32(np.inf))  # rounded up
    return codes, scales, errors
