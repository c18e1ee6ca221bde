"""Query x keys -> weights -> blended vector: softmax attention over the stored keys.

One query over a small store runs in numpy (:func:`attend_dense`); torch serves GPUs, the key
index, and the int8 first pass of big stores (:mod:`fuzzykv.search.two_pass`).

Softmax is computed stably (the maximum score is subtracted first), so any valid temperature
gives finite weights. :class:`Partial` is the same computation split over parts of the keys
(shards): each part's maximum, sum of exponentials and weighted sum of values merge exactly by
the log-sum-exp rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..settings import DEFAULT_TEMPERATURES, SIMILARITIES, Settings, Similarity
from .topk import top_rows

if TYPE_CHECKING:  # NOTE: torch is imported where a tensor is first made: numpy answers small stores
    import torch

__all__ = ["DEFAULT_TEMPERATURES", "SIMILARITIES", "Attention", "Partial", "Scores", "attend_dense", "best_cosine",
           "score"]

_TINY = float(np.finfo(np.float32).tiny)
_UNKNOWN = np.full(256, np.nan)  # best key cosines not asked for (read-only: shared)
_UNKNOWN.flags.writeable = False
#: From this many keys the blend reads only the values of keys that weigh at least NEGLIGIBLE of the
#: heaviest one, with a bound on what the others could add (see _blend).
SPARSE_BLEND = 4096
#: NOTE: a cut of 1e-7 kept a quarter of the rows of 1e-9's (2,100 against 8,300 at 100,000 keys,
#: T=0.03) and was proven for 88% of queries, but each shard of a sharded store cuts by its own
#: heaviest key, so its blend and the whole store's then differed by up to 1e-5 of their length; at
#: 1e-9 they agree within 1e-6.
NEGLIGIBLE = 1e-9
#: The skipped keys' largest possible share of the blend, as a length ratio: 1 - cos <= BLEND_SINE ** 2.
BLEND_SINE = 1e-4


@dataclass(frozen=True)
class Scores:
    """Every query against every key: cosines (b, n), and the raw dot products from them."""

    cosine: torch.Tensor
    query_norms: torch.Tensor  # (b, 1)
    key_norms: torch.Tensor  # (n,)

    @property
    def dot(self) -> torch.Tensor:
        """(b, n) the raw dot products, query length x key length x cosine: what ``similarity="dot"`` scores with."""
        return self.cosine * self.query_norms * self.key_norms


def score(queries: torch.Tensor, key_units: torch.Tensor, key_norms: torch.Tensor) -> Scores:
    """(b, dim) queries x the (n, dim) keys' directions, with the keys' (n,) lengths -> :class:`Scores`.

    One read of the key directions: a matrix-vector product for one query, a matrix product for more.
    """
    import torch

    query_norms = torch.linalg.vector_norm(queries, dim=-1, keepdim=True)
    unit = queries / query_norms.clamp_min(_TINY)
    cosine = torch.mv(key_units, unit[0])[None, :] if len(queries) == 1 else unit @ key_units.T
    return Scores(cosine, query_norms, key_norms)


@dataclass(frozen=True)
class Attention:
    """How a query weighs the keys.

    Scores are the cosine similarity (``"cosine"``) or the raw dot product of the vectors
    (``"dot"``, the write-up's), divided by ``temperature``: a lower temperature puts more weight on
    the closest keys. ``None`` takes the default temperature of the similarity.

    With cosine similarity a key's score also counts how close its value is to the query:
    ``(cos(q, key) + value_weight * cos(q, value)) / temperature``. Summed per value, that weighs
    each distinct value by the log-sum-exp of its keys' scores plus its own similarity, so a value
    that several close keys back, and that means something near the query, outweighs thousands of
    middling keys in a large store (benchmarks/categories.py).
    """

    similarity: Similarity = "cosine"
    temperature: float | None = None
    value_weight: float | None = None

    def __post_init__(self) -> None:
        checked = Settings(similarity=self.similarity, temperature=self.temperature)  # one place checks options
        if self.value_weight is not None:
            checked = checked.replace(value_weight=self.value_weight)
        object.__setattr__(self, "temperature", checked.temperature)
        object.__setattr__(self, "value_weight", checked.value_weight if self.similarity == "cosine" else 0.0)

    @classmethod
    def of(cls, settings: Settings) -> Attention:
        """The attention a store's settings describe (its similarity, temperature and value weight)."""
        return cls(settings.similarity, settings.temperature, settings.value_weight)

    @property
    def uses_values(self) -> bool:
        """Whether scores need the values' cosines to the query."""
        return bool(self.value_weight)

    def logits(self, scores: Scores, value_cosines: torch.Tensor | None = None) -> torch.Tensor:
        """(b, n) scaled scores: what the softmax is taken over."""
        import torch

        chosen = scores.cosine if self.similarity == "cosine" else scores.dot
        assert self.temperature is not None and self.value_weight is not None
        if self.value_weight and value_cosines is not None:  # one pass: a fresh tensor, scaled in place
            return torch.add(chosen, value_cosines, alpha=self.value_weight).div_(self.temperature)
        return chosen / self.temperature

    def weights(self, scores: Scores, value_cosines: torch.Tensor | None = None) -> torch.Tensor:
        """(b, n) weights over the keys, each row summing to 1 (torch's softmax subtracts the maximum)."""
        import torch

        return torch.softmax(self.logits(scores, value_cosines), dim=-1)

    @staticmethod
    def blend(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """(b, n) weights x (n, dim) value vectors -> (b, dim) blended value vectors."""
        return weights @ values


@dataclass(frozen=True)
class Partial:
    """Softmax attention over one part of the keys, in a form that merges exactly with other parts.

    For each of b queries: ``maximum`` m of the logits, ``total`` = sum exp(logit - m), and
    ``weighted`` = sum exp(logit - m) * value vector, all in float64.
    """

    maximum: np.ndarray  # (b,)
    total: np.ndarray  # (b,)
    weighted: np.ndarray  # (b, dim)

    @classmethod
    def of(cls, logits: torch.Tensor, value_units: torch.Tensor, value_norms: torch.Tensor) -> Partial:
        """From (b, n) logits and the (n, dim) directions and (n,) lengths of the values of one part.

        The exponentials are taken relative to the part's maximum, so they lie in (0, 1] and sum
        without overflow; the sums are kept in float64 for the merge. Every key is blended: at the
        default temperature a large store's weight is spread over a tenth of its keys or more, and
        gathering those rows costs more than one streamed read of all of them.
        """
        import torch

        maximum = logits.amax(dim=-1, keepdim=True)
        exp = torch.exp(logits - maximum)
        return cls(maximum[:, 0].double().cpu().numpy(), exp.sum(dim=-1, dtype=torch.float64).cpu().numpy(),
                   ((exp * value_norms) @ value_units).double().cpu().numpy())

    @staticmethod
    def merge(parts: Sequence[Partial]) -> tuple[np.ndarray, np.ndarray]:
        """The exact blend (b, dim) and each part's share of the weight (parts, b), by log-sum-exp."""
        maxima = np.stack([p.maximum for p in parts])  # (parts, b)
        top = maxima.max(axis=0)
        scale = np.exp(maxima - top)  # (parts, b)
        totals = np.stack([p.total for p in parts]) * scale
        weighted = sum(p.weighted * s[:, None] for p, s in zip(parts, scale))
        denominator = totals.sum(axis=0)
        return np.asarray(weighted) / denominator[:, None], totals / denominator


def attend_dense(attention: Attention, key_units: np.ndarray, key_norms: np.ndarray, value_units: np.ndarray,
                 value_norms: np.ndarray, queries: np.ndarray, top: int, best_key: bool = True,
                 ) -> tuple[Partial, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Attention of (b, dim) float32 queries over every row, in numpy float32 (sums in float64).

    The lean path of a store on the CPU: a few numpy calls, no tensors. Returns the :class:`Partial`,
    each query's highest key cosine (NaN unless ``best_key``), and per query the rows and logits of its ``top`` heaviest keys,
    heaviest first.
    """
    assert attention.temperature is not None and attention.value_weight is not None
    query_norms = np.sqrt((queries * queries).sum(axis=1))
    unit = queries / np.maximum(query_norms, _TINY)[:, None]
    cosine = _products(key_units, unit)  # (b, n)
    if attention.similarity == "dot":
        logits = cosine * (query_norms[:, None] * key_norms[None, :]) / np.float32(attention.temperature)
    elif attention.value_weight:
        logits = cosine + np.float32(attention.value_weight) * _products(value_units, unit)
        logits *= np.float32(1 / attention.temperature)
    else:
        logits = cosine * np.float32(1 / attention.temperature)
    maximum = logits.max(axis=1)
    exp = np.exp(logits - maximum[:, None])
    totals = exp.sum(axis=1, dtype=np.float64)
    n = logits.shape[1]
    weighted = np.empty((len(queries), value_units.shape[1]), dtype=np.float64)
    if n >= SPARSE_BLEND:
        for i, weights in enumerate(exp):
            weighted[i] = _blend(weights, value_units, value_norms)
    else:
        np.matmul(exp * value_norms, value_units, out=weighted, dtype=np.float64, casting="unsafe")
    partial = Partial(maximum.astype(np.float64), totals, weighted)
    listed = []
    for row in logits:
        chosen = top_rows(row, top)
        listed.append((chosen, row[chosen]))
    if best_key:
        best = best_cosine(key_units, cosine.argmax(axis=1), unit)
    else:
        best = _UNKNOWN[: len(queries)] if len(queries) <= len(_UNKNOWN) else np.full(len(queries), np.nan)
    return partial, best, listed


def _blend(weights: np.ndarray, value_units: np.ndarray, value_norms: np.ndarray) -> np.ndarray:
    """One query's weighted sum of values (weights relative to the largest, which is 1), reading only
    the values of the keys that weigh at least ``NEGLIGIBLE``.

    The skipped keys add a vector no longer than the sum of their weights times their values'
    lengths, which is known exactly: when that is at most ``BLEND_SINE`` of the kept sum's length,
    the kept sum is the blend (1 - cosine to the full sum stays below ``BLEND_SINE ** 2``); else
    every value is read.
    """
    lengths = weights * value_norms  # each key's weight times its value's length
    kept = np.flatnonzero(weights >= NEGLIGIBLE)
    if len(kept) <= len(weights) // 4:  # a gather of many rows costs more than one streamed read
        kept_lengths = lengths[kept]
        out: np.ndarray = (kept_lengths @ value_units[kept]).astype(np.float64)
        skipped = float(lengths.sum(dtype=np.float64)) - float(kept_lengths.sum(dtype=np.float64))
        if skipped <= BLEND_SINE * float(np.linalg.norm(out)):
            return out
    return np.asarray(lengths @ value_units, dtype=np.float64)


def _products(rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """(b, n) every row against every query, one matrix-vector product per query.

    NOTE: not one matrix product: BLAS rounds a matrix product's elements differently for matrices
    of other shapes, whereas a matrix-vector product gives each row the same number in any matrix.
    So a store and its shards, a query alone and in a batch, and the second pass of a big store
    (which scores a subset of rows) all agree to the last bit.
    """
    out = np.empty((len(queries), len(rows)), dtype=np.float32)
    for i, query in enumerate(queries):
        np.matmul(rows, query, out=out[i])
    return out


def best_cosine(key_units: np.ndarray, rows: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """(b,) the cosine of each query's best key row, in float64 from the float32 directions.

    NOTE: not the product's own number: BLAS rounds a row's product differently in a matrix of
    another shape, and a key equal to the query must score the same in a store and in its shards
    (``min_similarity=1.0``).
    """
    return np.asarray((key_units[rows].astype(np.float64) * unit.astype(np.float64)).sum(axis=1))
