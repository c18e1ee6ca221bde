"""What a search returns: small frozen records with named fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .embed.vectors import Correction


@dataclass(frozen=True)
class QueryResult:
    """One fuzzy query, answered.

    :ivar text: the query as given.
    :ivar candidates: (word, cosine similarity to the blended vector), best first.
    :ivar attention: (key, weight), heaviest first; over all keys the weights sum to 1.
    :ivar vector: the blended value vector that was decoded.
    :ivar best_similarity: the highest cosine similarity of any key to the query: how well the
        store knows it (``min_similarity`` compares against this).
    :ivar ignored: words of the query that have no vector and were left out.
    :ivar spelled: words of the query whose vectors were guessed from their spelling by the
        character model: the answer is approximate.
    :ivar corrections: words of the query without a vector read as the nearest known spelling
        (typed -> used, edit distance): the answer is approximate.
    """

    text: str
    candidates: list[tuple[str, float]]
    attention: list[tuple[str, float]]
    vector: np.ndarray = field(repr=False)
    best_similarity: float = float("nan")
    ignored: tuple[str, ...] = ()
    spelled: tuple[str, ...] = ()
    corrections: tuple[Correction, ...] = ()

    @property
    def approximate(self) -> bool:
        """Whether some query word was corrected or its vector guessed from its spelling."""
        return bool(self.spelled or self.corrections)

    @property
    def words(self) -> list[str]:
        """The candidate words alone, best first (what ``Database.query`` returns)."""
        return [word for word, _ in self.candidates]


class Neighbour(NamedTuple):
    """A stored pair near a query: its key, its value and the cosine similarity of its key."""

    key: str
    value: str
    similarity: float


@dataclass(frozen=True)
class Classification:
    """The k-nearest-neighbour rule's verdict on a text.

    :ivar label: the value with the most similarity-weighted votes.
    :ivar scores: (value, share of the votes), best first; the shares sum to 1.
    :ivar neighbours: the nearest keys that voted.
    """

    label: str
    scores: list[tuple[str, float]]
    neighbours: list[Neighbour]

