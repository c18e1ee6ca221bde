"""What a search returns: small frozen records with named fields.

They compare by value (the blended vector element by element), hash (they are frozen), and
their reprs stay short however large the store: the first few entries, then "... and N more".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .embeddings import Correction

#: How many entries of a list a repr shows before "... and N more".
REPR_ITEMS = 5


def bounded(items: Sequence[Any], limit: int = REPR_ITEMS) -> str:
    """``items`` as a list repr of at most ``limit`` entries, then "... and N more"."""
    shown = ", ".join(repr(_plain(item)) for item in items[:limit])
    if len(items) > limit:
        shown += f", ... and {len(items) - limit:,} more"
    return f"[{shown}]"


def _plain(item: Any) -> Any:
    """(word, score) pairs with plain, rounded floats, so a repr reads like the data."""
    if isinstance(item, tuple) and not hasattr(item, "_fields"):
        return tuple(round(float(x), 4) if isinstance(x, (float, np.floating)) else x for x in item)
    return item


def _same_float(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@dataclass(frozen=True, eq=False)
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

    def _key(self) -> tuple[Any, ...]:
        return (self.text, tuple(self.candidates), tuple(self.attention), self.ignored, self.spelled, self.corrections)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QueryResult):
            return NotImplemented
        return (self._key() == other._key() and _same_float(float(self.best_similarity), float(other.best_similarity))
                and np.array_equal(self.vector, other.vector))

    def __hash__(self) -> int:
        best = float(self.best_similarity)
        vector = np.ascontiguousarray(self.vector)
        return hash((*self._key(), None if math.isnan(best) else best, vector.dtype.str, vector.shape, vector.tobytes()))

    def __repr__(self) -> str:
        return (
            f"QueryResult(text={self.text!r}, candidates={bounded(self.candidates)}, "
            f"attention={bounded(self.attention)}, best_similarity={float(self.best_similarity):.4f}, "
            f"ignored={self.ignored!r}, spelled={self.spelled!r}, corrections={bounded(self.corrections)})"
        )

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

    def __hash__(self) -> int:
        return hash((self.label, tuple(self.scores), tuple(self.neighbours)))

    def __repr__(self) -> str:
        return f"Classification(label={self.label!r}, scores={bounded(self.scores)}, neighbours={bounded(self.neighbours)})"

