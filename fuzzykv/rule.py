"""The answer rule: each key's attention logit from the query's cosines to the key and to its value.

With cosine similarity, a key ``k`` whose value is ``v`` scores

    logit(q, k) = ( cos(q, unit(k) + mix * unit(v)) + value_weight * cos(q, v) ) / temperature

where ``mix`` is the setting ``key_value_mix``: the key's direction is moved toward its value's
before it is compared with the query, so the keys of one value lean together (a category's
exemplars pool a little, as a centroid would) and a key far from what its value means counts less.
With ``mix = 0`` this is the plain rule ``(cos(q, k) + value_weight * cos(q, v)) / temperature``.

The moved cosine needs nothing but the key's and its value's own vectors:

    cos(q, unit(k) + mix * unit(v)) = (cos(q, k) + mix * cos(q, v)) / sqrt(1 + mix**2 + 2 * mix * cos(k, v))

so every logit is a function of one pair, a part of the keys (a shard) computes its own logits,
and the sharded merge by log-sum-exp stays exact. Only the per-key length on the right is new;
it depends on the pair alone and is computed once per version of the pairs
(benchmarks/categories.py measures the rule against the nearest-centroid rule).
"""

from __future__ import annotations

import numpy as np
import torch


def mixed_lengths(key_units: np.ndarray, value_units: np.ndarray, mix: float) -> np.ndarray:
    """(n,) float32: the length of ``unit(k) + mix * unit(v)`` for each pair (1 where ``mix`` is 0)."""
    if not mix:
        return np.ones(len(key_units), dtype=np.float32)
    key_value = np.einsum("ij,ij->i", key_units, value_units, dtype=np.float64)
    squared = np.maximum(1.0 + mix * mix + 2.0 * mix * key_value, 1e-12)  # 0 only if v = -k and mix = 1
    lengths: np.ndarray = np.sqrt(squared).astype(np.float32)
    return lengths


def key_logits(cosine: torch.Tensor, value_cosine: torch.Tensor | None, lengths: torch.Tensor | None, *,
               temperature: float, value_weight: float, mix: float) -> torch.Tensor:
    """(b, n) logits from the (b, n) cosines of the queries to the keys and to their values.

    :param lengths: (n,) :func:`mixed_lengths` of the same keys (needed when ``mix`` is not 0).
    """
    if value_cosine is None or not (mix or value_weight):
        return cosine / temperature
    if mix:
        assert lengths is not None
        moved = torch.add(cosine, value_cosine, alpha=mix).div_(lengths)
        if value_weight:
            moved.add_(value_cosine, alpha=value_weight)
        return moved.div_(temperature)
    return torch.add(cosine, value_cosine, alpha=value_weight).div_(temperature)


def index_directions(key_units: np.ndarray, value_units: np.ndarray, *, value_weight: float, mix: float) -> np.ndarray:
    """(n, dim) vectors whose dot product with a unit query is the logit times the temperature:
    what an index over the keys searches (``attend_to="index"``)."""
    items = key_units
    if mix:
        items = (key_units + mix * value_units) / mixed_lengths(key_units, value_units, mix)[:, None]
    if value_weight:
        items = items + value_weight * value_units
    return np.ascontiguousarray(items, dtype=np.float32)
