"""Query x keys -> weights -> blended vector: softmax attention over the stored keys, in torch.

Softmax is computed stably (the maximum score is subtracted first), so any valid temperature
gives finite weights. :class:`Partial` is the same computation split over parts of the keys
(shards): each part's maximum, sum of exponentials and weighted sum of values merge exactly by
the log-sum-exp rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .rule import key_logits
from .settings import DEFAULT_TEMPERATURES, SIMILARITIES, Settings, Similarity

__all__ = ["DEFAULT_TEMPERATURES", "SIMILARITIES", "Attention", "Partial", "Scores", "score"]

_TINY = torch.finfo(torch.float32).tiny


@dataclass(frozen=True)
class Scores:
    """Every query against every key: cosines (b, n), and the raw dot products from them."""

    cosine: torch.Tensor
    query_norms: torch.Tensor  # (b, 1)
    key_norms: torch.Tensor  # (n,)

    @property
    def dot(self) -> torch.Tensor:
        return self.cosine * self.query_norms * self.key_norms


def score(queries: torch.Tensor, key_units: torch.Tensor, key_norms: torch.Tensor) -> Scores:
    """(b, dim) queries x the (n, dim) keys' directions, with the keys' (n,) lengths -> :class:`Scores`.

    One read of the key directions: a matrix-vector product for one query, a matrix product for more.
    """
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
    ``(cos(q, unit(key) + key_value_mix * unit(value)) + value_weight * cos(q, value)) / temperature``
    (:mod:`fuzzykv.rule`). Summed per value, that weighs
    each distinct value by the log-sum-exp of its keys' scores plus its own similarity, so a value
    that several close keys back, and that means something near the query, outweighs thousands of
    middling keys in a large store (benchmarks/categories.py).
    """

    similarity: Similarity = "cosine"
    temperature: float | None = None
    value_weight: float | None = None
    key_value_mix: float | None = None

    def __post_init__(self) -> None:
        checked = Settings(similarity=self.similarity, temperature=self.temperature)  # one place checks options
        if self.value_weight is not None:
            checked = checked.replace(value_weight=self.value_weight)
        if self.key_value_mix is not None:
            checked = checked.replace(key_value_mix=self.key_value_mix)
        cosine = self.similarity == "cosine"
        object.__setattr__(self, "temperature", checked.temperature)
        object.__setattr__(self, "value_weight", checked.value_weight if cosine else 0.0)
        object.__setattr__(self, "key_value_mix", checked.key_value_mix if cosine else 0.0)

    @classmethod
    def of(cls, settings: Settings) -> Attention:
        return cls(settings.similarity, settings.temperature, settings.value_weight, settings.key_value_mix)

    @property
    def uses_values(self) -> bool:
        """Whether scores need the values' cosines to the query."""
        return bool(self.value_weight or self.key_value_mix)

    def logits(self, scores: Scores, value_cosines: torch.Tensor | None = None,
               lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(b, n) scaled scores: what the softmax is taken over (fuzzykv/rule.py).

        :param lengths: the keys' :func:`fuzzykv.rule.mixed_lengths`, when ``key_value_mix`` is not 0.
        """
        assert self.temperature is not None and self.value_weight is not None and self.key_value_mix is not None
        if self.similarity == "dot":
            return scores.dot / self.temperature
        return key_logits(scores.cosine, value_cosines, lengths, temperature=self.temperature,
                          value_weight=self.value_weight, mix=self.key_value_mix)

    def weights(self, scores: Scores, value_cosines: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(b, n) weights over the keys, each row summing to 1 (torch's softmax subtracts the maximum)."""
        return torch.softmax(self.logits(scores, value_cosines, lengths), dim=-1)

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
