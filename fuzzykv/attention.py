"""Query x keys -> weights -> blended vector: softmax attention over the stored keys, in torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch

from .errors import InvalidOptionError

Similarity = Literal["cosine", "dot"]
SIMILARITIES: tuple[str, ...] = get_args(Similarity)

#: Per similarity: cosine's was chosen on the labelled lookup benchmark (benchmarks/quality.py,
#: figures in README.md); dot's 1.0 keeps the write-up's raw dot-product scores.
DEFAULT_TEMPERATURES: dict[str, float] = {"cosine": 0.05, "dot": 1.0}

_TINY = torch.finfo(torch.float32).tiny


@dataclass(frozen=True)
class Scores:
    """Every query against every key, from one matrix product: raw dot products and cosines, (b, n)."""

    dot: torch.Tensor
    cosine: torch.Tensor


def score(queries: torch.Tensor, keys: torch.Tensor, key_norms: torch.Tensor) -> Scores:
    """(b, dim) queries x (n, dim) keys, with the keys' (n,) lengths -> :class:`Scores`."""
    dot = queries @ keys.T
    query_norms = torch.linalg.vector_norm(queries, dim=-1, keepdim=True)
    return Scores(dot, dot / (query_norms * key_norms).clamp_min(_TINY))


@dataclass(frozen=True)
class Attention:
    """How a query weighs the keys.

    Scores are the cosine similarity (``"cosine"``) or the raw dot product of the vectors
    (``"dot"``, the write-up's), divided by ``temperature``: a lower temperature puts more weight on
    the closest keys. ``None`` takes the default temperature of the similarity.
    """

    similarity: Similarity = "cosine"
    temperature: float | None = None

    def __post_init__(self) -> None:
        if self.similarity not in SIMILARITIES:
            raise InvalidOptionError(
                f"similarity must be one of {', '.join(map(repr, SIMILARITIES))}, got {self.similarity!r}"
            )
        if self.temperature is None:
            object.__setattr__(self, "temperature", DEFAULT_TEMPERATURES[self.similarity])
        if isinstance(self.temperature, bool) or not isinstance(self.temperature, (int, float)):
            raise InvalidOptionError(f"temperature must be a positive number, got {self.temperature!r}")
        if not 0 < self.temperature < float("inf"):
            raise InvalidOptionError(f"temperature must be a positive finite number, got {self.temperature!r}")
        object.__setattr__(self, "temperature", float(self.temperature))

    def weights(self, scores: Scores) -> torch.Tensor:
        """(b, n) weights over the keys, each row summing to 1."""
        chosen = scores.cosine if self.similarity == "cosine" else scores.dot
        return torch.softmax(chosen / self.temperature, dim=-1)

    @staticmethod
    def blend(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """(b, n) weights x (n, dim) value vectors -> (b, dim) blended value vectors."""
        return weights @ values
