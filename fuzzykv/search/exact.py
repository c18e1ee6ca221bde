"""Vector -> nearest vocabulary words, exactly: the reference decode and the fallback of annoy.

A full float32 scan reads the whole vocabulary (400,000 x 50 x 4 B = 80 MB) per query. This one
reads an int8 copy of it first (a quarter of the bytes, integer products exact), whose rounding
error is bounded, and scores in float32 only the rows that bound cannot rule out: the answer is
the full scan's.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .threads import one_torch_thread
from .topk import top_rows

if TYPE_CHECKING:  # NOTE: torch is imported when a scan first runs: an annoy decode never needs it
    import torch

#: Per query, vocabulary rows likely to be near its vector (the nearest words of the values it
#: weighs most): a decoder may score them first.
Hints = Sequence[np.ndarray]


class Decoder(Protocol):
    """Finds the vocabulary rows nearest (by cosine) to each of a batch of vectors."""

    def search(self, vectors: np.ndarray, k: int, hints: Hints | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(b, dim) vectors -> (b, k) row ids and (b, k) cosine similarities, best first."""
        ...


CHUNK = 32  # vocabulary rows per chunk: the int8 scan keeps each chunk's best score
QUERY_BLOCK = 256  # queries per int8 product in a batch
THREADED_QUERIES = 64  # from this many queries at once, the int8 product runs on torch's threads
TILE_BYTES = 4 << 20  # int32 scores per product: each tile is reduced while in the cache
# Covers float32 rounding of the exact rescoring and of the error bound (sums of 50 products <= 1).
_MARGIN = 1e-5


class ExactDecoder:
    """Cosine against every vocabulary row, exactly (the same answers as a full float32 scan).

    The certified scan: the unit vocabulary is kept as int8 codes c (one scale s for all rows,
    rounding error e_i = v_i - s c_i, with E = max |e_i|), each query as int8 codes x (scale a,
    error f = q - a x). Then q.v_i = a s (x.c_i) + a x.e_i + f.v_i, so the integer product x.c_i,
    computed exactly, is within ``slack = |a x| E + |f|`` of the true cosine (Cauchy-Schwarz). Each
    chunk of 32 rows keeps its best integer score. The rows of k chunks with high maxima, scored in
    float32, give a floor F (the k-th best of them): the true k-th best cosine is at least F, so a
    row can be in the top k only if its integer score reaches F - slack. Only the chunks whose
    maximum does are scored in float32, and the top k taken from them.
    """

    SMALL = 4_096  # vocabularies up to this size are scanned in full (float32)

    def __init__(self, unit_vectors: np.ndarray, device: torch.device | None = None) -> None:
        self._unit = np.ascontiguousarray(unit_vectors, dtype=np.float32)
        self._device = device
        self._on_device: torch.Tensor | None = None
        self._codes: _Codes | None = None
        self._quantised = False  # tried once: None afterwards means full scans

    def __len__(self) -> int:
        return len(self._unit)

    @property
    def unit_vectors(self) -> np.ndarray:
        """(rows, dim) the unit vocabulary vectors searched (read them, never write)."""
        return self._unit

    @property
    def _matrix(self) -> torch.Tensor:
        """The unit vocabulary as a tensor on the decoder's device, made on first use."""
        if self._on_device is None:
            import torch

            self._on_device = torch.from_numpy(self._unit).to(self._device or "cpu")
        return self._on_device

    def search(self, vectors: np.ndarray, k: int, hints: Hints | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The exact top k of each vector; ``hints`` are not needed (the bound needs no guess)."""
        queries = unit_queries(np.asarray(vectors, dtype=np.float32))
        k = min(k, len(self))
        codes = self._codes if self._quantised else self._quantise()
        if codes is None or k * CHUNK * 4 > len(self) or not np.all(np.abs(queries).max(axis=1) > 0):
            return self.full_scan(queries, k)
        ids = np.empty((len(queries), k), dtype=np.int64)
        sims = np.empty((len(queries), k), dtype=np.float32)
        for start in range(0, len(queries), QUERY_BLOCK):
            block = queries[start : start + QUERY_BLOCK]
            ids[start : start + len(block)], sims[start : start + len(block)] = self._certified(codes, block, k)
        return ids, sims

    def full_scan(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Every row scored in float32, in blocks of queries: the reference the certified scan must equal.

        One query on the CPU is one numpy product (no tensors: the lean path); blocks go through torch.
        """
        if len(queries) == 1 and (self._device is None or self._device.type == "cpu"):
            scores = self._unit @ unit_queries(np.asarray(queries, dtype=np.float32))[0]
            best = top_rows(scores, min(k, len(self)))
            return best[None, :], scores[best][None, :]
        import torch

        on_device = torch.from_numpy(unit_queries(np.asarray(queries, dtype=np.float32))).to(self._matrix.device)
        k = min(k, len(self))
        ids = np.empty((len(on_device), k), dtype=np.int64)
        sims = np.empty((len(on_device), k), dtype=np.float32)
        for start in range(0, len(on_device), 64):
            block = on_device[start : start + 64]
            top = torch.topk(block @ self._matrix.T, k, dim=1, sorted=True)
            ids[start : start + len(block)] = top.indices.cpu().numpy()
            sims[start : start + len(block)] = top.values.cpu().numpy()
        return ids, sims

    def _certified(self, codes: _Codes, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top k of a block of unit queries, rescoring only the chunks the int8 bound keeps.

        Only the int8 product runs in torch (in parallel); the small steps after it run in numpy
        on one thread, which a busy machine delays least.
        """
        scale = np.abs(queries).max(axis=1).astype(np.float64) / 127  # (b,) per query
        x = np.round(queries / scale[:, None].astype(np.float32))
        steps_of = x.astype(np.float64) * scale[:, None]
        error = np.linalg.norm(queries - steps_of, axis=1)
        slack = np.linalg.norm(steps_of, axis=1) * codes.error + error + _MARGIN  # (b,) |cosine - a s (x.c)| <=
        maxima = codes.chunk_maxima(np.ascontiguousarray(x.T, dtype=np.int8))  # (chunks, b)
        # The floor: the exact k-th best of the rows of k chunks with high maxima (any k rows give a floor).
        floor_rows = _high_chunks(maxima, k)[:, :, None] * CHUNK + np.arange(CHUNK)  # (b, k, CHUNK)
        floor_rows = np.minimum(floor_rows, len(self) - 1).reshape(len(queries), -1)
        floor_scores = np.matmul(self._unit[floor_rows], queries[:, :, None])[:, :, 0]
        floor = np.partition(floor_scores, floor_scores.shape[1] - k, axis=1)[:, floor_scores.shape[1] - k]
        # A row can reach the floor only if its integer score is within slack of it.
        lowest = np.floor((floor.astype(np.float64) - slack) / (scale * codes.scale)).astype(np.int64)
        chunk, query_of = np.nonzero(maxima >= lowest[None, :])
        by_query = np.argsort(query_of, kind="stable")
        chunk, query_of = chunk[by_query], query_of[by_query]
        rows = chunk[:, None] * CHUNK + np.arange(CHUNK)  # (pairs, CHUNK)
        outside = rows >= len(self)  # the last chunk may be short
        gathered = self._unit[np.minimum(rows, len(self) - 1)]  # (pairs, CHUNK, dim)
        scores = np.matmul(gathered, queries[query_of][:, :, None])[:, :, 0]
        scores[outside] = -np.inf
        # One row of candidates per query, padded with -inf: the queries keep different numbers of chunks.
        counts = np.bincount(query_of, minlength=len(queries))
        slot = np.arange(len(query_of)) - (np.cumsum(counts) - counts)[query_of]
        columns = slot[:, None] * CHUNK + np.arange(CHUNK)
        padded = np.full((len(queries), int(counts.max()) * CHUNK), -np.inf, dtype=np.float32)
        padded_rows = np.zeros(padded.shape, dtype=np.int64)
        padded[query_of[:, None], columns] = scores
        padded_rows[query_of[:, None], columns] = rows
        best = np.argpartition(-padded, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(best, np.argsort(-np.take_along_axis(padded, best, 1), axis=1, kind="stable"), 1)
        return np.take_along_axis(padded_rows, order, 1), np.take_along_axis(padded, order, 1)

    def _quantise(self) -> _Codes | None:
        """The int8 copy, made on first use; ``None`` (full scans) off the CPU, for small vocabularies,
        or where torch has no exact int8 product, or no faster one than float32 (timed once).
        """
        from .two_pass import int8_pays  # NOTE: torch's int8 product is slower than float32 on some CPUs

        if (self._device is None or self._device.type == "cpu") and len(self) > self.SMALL and int8_pays():
            self._codes = _Codes.of(self._unit)
        self._quantised = True
        return self._codes


def _high_chunks(maxima: np.ndarray, k: int) -> np.ndarray:
    """(chunks, b) -> (b, k) k distinct chunks per query with high maxima (cheaply: the best chunk of
    each of the k best groups of 32 chunks, when there are many).
    """
    chunks, b = maxima.shape
    if chunks < 64 * k:
        return np.argpartition(-maxima.T, k - 1, axis=1)[:, :k]
    groups = maxima[: chunks // 32 * 32].reshape(-1, 32, b)  # (groups, 32, b)
    best_groups = np.argpartition(-groups.max(axis=1).T, k - 1, axis=1)[:, :k]  # (b, k)
    within = groups[best_groups, :, np.arange(b)[:, None]].argmax(axis=2)  # (b, k)
    return np.asarray(best_groups * 32 + within)


def unit_queries(vectors: np.ndarray) -> np.ndarray:
    """(b, dim) vectors scaled to unit length (zero rows stay zero), float32: what every exact scan scores."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, np.finfo(np.float32).tiny), dtype=np.float32)


@dataclass(frozen=True)
class _Codes:
    """The vocabulary as int8 codes: v_i = scale * codes_i + e_i, with |e_i| <= error for every row."""

    codes: torch.Tensor  # (V, dim) int8
    scale: float
    error: float

    @classmethod
    def of(cls, unit: np.ndarray) -> _Codes | None:
        import torch

        scale = max(float(np.abs(unit).max()), 1e-30) / 127
        codes = np.clip(np.round(unit / np.float32(scale)), -127, 127)
        error = float(np.linalg.norm(unit.astype(np.float64) - codes * scale, axis=1).max())
        quantised = cls(torch.from_numpy(codes.astype(np.int8)), scale, error)
        try:
            torch._int_mm(quantised.codes[:CHUNK], torch.ones((unit.shape[1], 1), dtype=torch.int8))
        except (RuntimeError, AttributeError):  # an old or unusual torch build: float32 scans instead
            return None
        return quantised

    def chunk_maxima(self, codes_t: np.ndarray) -> np.ndarray:
        """(dim, b) int8 query codes -> (chunks, b) the best integer score of each chunk of rows."""
        import torch

        x_t = torch.from_numpy(codes_t)
        rows, b = len(self.codes), x_t.shape[1]
        tile = max(CHUNK, TILE_BYTES // (4 * b) // CHUNK * CHUNK)
        maxima = torch.empty((-(-rows // CHUNK), b), dtype=torch.int32)
        # A few queries' product is short: one thread (see threads.py). A block of queries keeps both busy.
        with one_torch_thread() if b < THREADED_QUERIES else nullcontext():
            for start in range(0, rows, tile):
                scores = torch._int_mm(self.codes[start : start + tile], x_t)  # (tile, b), exact in int32
                whole = len(scores) // CHUNK * CHUNK
                first = start // CHUNK
                torch.amax(scores[:whole].view(-1, CHUNK, b), dim=1, out=maxima[first : first + whole // CHUNK])
                if whole < len(scores):  # the short last chunk: its own maximum, over real rows only
                    maxima[first + whole // CHUNK] = scores[whole:].amax(dim=0)
        return maxima.numpy()
