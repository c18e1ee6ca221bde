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

    def prepare(self, vectors: torch.Tensor) -> torch.Tensor:
        """Keys and queries as the scores want them: unit length for cosine, raw for dot."""
        if self.similarity == "cosine":
            return torch.nn.functional.normalize(vectors, dim=-1)
        return vectors

    def weights(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """(b, dim) prepared queries x (n, dim) prepared keys -> (b, n) weights, each row summing to 1."""
        scores = (queries @ keys.T) / self.temperature
        return torch.softmax(scores, dim=-1)

    @staticmethod
    def blend(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """(b, n) weights x (n, dim) value vectors -> (b, dim) blended value vectors."""
        return weights @ values
