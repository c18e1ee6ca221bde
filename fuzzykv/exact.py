"""Vector -> nearest vocabulary words, exactly: the reference decode and the fallback of annoy."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

#: Per query, vocabulary rows likely to be near its vector (the nearest words of the values it
#: weighs most): a decoder scores them exactly, which lets it search less.
Hints = Sequence[np.ndarray]


class Decoder(Protocol):
    """Finds the vocabulary rows nearest (by cosine) to each of a batch of vectors."""

    def search(self, vectors: np.ndarray, k: int, hints: Hints | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(b, dim) vectors -> (b, k) row ids and (b, k) cosine similarities, best first."""
        ...


class ExactDecoder:
    """Cosine against every vocabulary row, exactly.

    A batch is scored in blocks of queries (one matrix product and top-k each), which keeps the
    score matrix small. A single query with hints, or once an approximate index can propose
    candidates, takes a bounded scan: their exact scores give a floor L for the k-th best; rotating the vocabulary onto
    its principal axes, the first half of the dimensions are scored and the rest bounded by
    Cauchy-Schwarz (|q_rest| |v_rest|); only rows whose bound reaches L are scored in full. Every
    row that can be in the top k is scored, so the answer is the same as a full scan, at about half
    the memory traffic. The bound is computed in float32; a margin covers its rounding.
    """

    BLOCK = 64  # queries per matrix product in a batch
    SMALL = 4_096  # vocabularies up to this size are always scanned in full

    def __init__(self, unit_vectors: np.ndarray, device: torch.device | None = None) -> None:
        self._matrix = torch.from_numpy(unit_vectors).to(device or "cpu")
        self._proposer: Callable[[np.ndarray, int], list[int]] | None = None
        self._projection: _Projection | None = None

    def __len__(self) -> int:
        return self._matrix.shape[0]

    def propose_with(self, proposer: Callable[[np.ndarray, int], list[int]]) -> None:
        """Let a fast approximate search supply the candidates that set the floor of a bounded scan."""
        self._proposer = proposer

    def search(self, vectors: np.ndarray, k: int, hints: Hints | None = None) -> tuple[np.ndarray, np.ndarray]:
        queries = torch.nn.functional.normalize(torch.from_numpy(vectors).to(self._matrix.device), dim=-1)
        k = min(k, len(self))
        on_cpu = self._matrix.device.type == "cpu"
        if len(queries) == 1 and on_cpu and len(self) > self.SMALL:
            if hints is not None and len(np.unique(hints[0])) >= k:
                proposed = torch.as_tensor(hints[0], dtype=torch.int64)
            elif self._proposer is not None:
                proposed = torch.as_tensor(self._proposer(queries[0].numpy(), k), dtype=torch.int64)
            else:
                proposed = None
            if proposed is not None:
                proposed = torch.unique(proposed)  # the floor is the k-th best of k *different* rows
            if proposed is not None and len(proposed) >= k:
                ids, sims = self._bounded(queries[0], k, proposed)
                return ids[None, :], sims[None, :]
        ids = np.empty((len(queries), k), dtype=np.int64)
        sims = np.empty((len(queries), k), dtype=np.float32)
        # One score buffer for every block: a fresh (64 x 400,000) matrix per block costs page faults.
        scores = torch.empty((min(self.BLOCK, len(queries)), len(self)), device=self._matrix.device)
        for start in range(0, len(queries), self.BLOCK):
            block = queries[start : start + self.BLOCK]
            out = scores[: len(block)]
            torch.mm(block, self._matrix.T, out=out)
            values, indices = top_k(out, k)
            ids[start : start + len(block)] = indices.cpu().numpy()
            sims[start : start + len(block)] = values.cpu().numpy()
        return ids, sims

    def _bounded(self, query: torch.Tensor, k: int, proposed: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Exact top k, scoring in full only the rows that can beat the k-th best of ``proposed``."""
        floor = float(torch.topk(self._matrix[proposed] @ query, k).values[-1])
        projection = self._projection or self._project()
        rotated = query @ projection.rotation
        head = rotated[: projection.head.shape[1]]
        tail_norm = float(torch.linalg.vector_norm(rotated[head.shape[0] :]))
        bound = torch.addmv(projection.tail_norms, projection.head, head, beta=tail_norm)
        candidates = torch.nonzero(bound >= floor - _BOUND_MARGIN).squeeze(1)
        scores = self._matrix[candidates] @ query
        top = torch.topk(scores, min(k, len(candidates)), sorted=True)
        return candidates[top.indices].numpy(), top.values.numpy()

    def _project(self) -> _Projection:
        unit = self._matrix.numpy()
        _, axes = np.linalg.eigh(np.cov(unit[: min(len(unit), 100_000)].T))  # ascending variance
        rotation = np.ascontiguousarray(axes[:, ::-1], dtype=np.float32)
        rotated = unit @ rotation
        split = max(1, unit.shape[1] // 2)
        self._projection = _Projection(
            torch.from_numpy(rotation),
            torch.from_numpy(np.ascontiguousarray(rotated[:, :split])),
            torch.from_numpy(np.linalg.norm(rotated[:, split:], axis=1).astype(np.float32)),
        )
        return self._projection


def top_k(scores: torch.Tensor, k: int, chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest of each row, best first: exactly ``torch.topk``, in about half its time on wide rows.

    Each row is cut into chunks and each chunk's maximum taken (a fast reduction); the k chunks
    with the largest maxima hold the k largest scores, since a chunk holding one of them has a
    maximum at least as large; the top k is then taken from those k chunks alone.
    """
    rows, width = scores.shape
    if width < 8 * chunk * k:
        top = torch.topk(scores, k, dim=1, sorted=True)
        return top.values, top.indices
    whole = width // chunk * chunk
    maxima = scores[:, :whole].reshape(rows, -1, chunk).amax(dim=2)
    if whole < width:
        maxima = torch.cat([maxima, scores[:, whole:].amax(dim=1, keepdim=True)], dim=1)
    best_chunks = torch.topk(maxima, k, dim=1).indices
    columns = (best_chunks[:, :, None] * chunk + torch.arange(chunk, device=scores.device)).reshape(rows, -1)
    padding = columns >= width  # the last chunk is shorter: its missing columns must never be chosen
    columns = columns.clamp_max(width - 1)
    candidates = torch.gather(scores, 1, columns).masked_fill(padding, float("-inf"))
    top = torch.topk(candidates, k, dim=1, sorted=True)
    return top.values, torch.gather(columns, 1, top.indices)


# Covers float32 rounding in the bound (a sum of 25 products of numbers at most 1 in size).
_BOUND_MARGIN = 1e-4


@dataclass(frozen=True)
class _Projection:
    """The vocabulary on its principal axes: the first half of each row, and the length of the rest."""

    rotation: torch.Tensor  # (dim, dim)
    head: torch.Tensor  # (V, dim // 2)
    tail_norms: torch.Tensor  # (V,)
