"""What a search returns: small frozen records with named fields.

They compare by value (the blended vector element by element), hash (they are frozen), and
their reprs stay short however large the store: the first few entries, then "... and N more".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from .embed.vectors import Correction

#: How many entries of a list a repr shows before "... and N more".
REPR_ITEMS = 5
#: How close the character model's guess for a word lands to the word's real vector (cosine): 0.43
#: on the 2% of GloVe's 30,000 most frequent words held out of its training (the figure
#: scripts/train_char_encoder.py reports), and about 0 (-0.02) on 3,000 rarer words (ranks 30,000-400,000)
#: it never trained on. A word missing from GloVe is rarer still, so 0.43 is generous to a guess.
GUESS_RELIABILITY = 0.43


def guessed_confidence(best: float, guessed: int, placed: int) -> float:
    """``best`` (the nearest key's cosine to the query's vector) discounted for guessed words.

    The true vector of a guessed word lies up to ``acos(GUESS_RELIABILITY)`` (65 degrees) from its
    guess, so the nearest key may lie that much further from what the text means: the angles add
    (the triangle inequality on the sphere), each guessed word adding its share of the query's
    ``placed`` words. A query of one guessed word thus scores at most cos(65 degrees + its angle to the key).
    """
    if guessed <= 0 or not math.isfinite(best):
        return best
    spread = min(1.0, guessed / max(placed, 1)) * math.acos(GUESS_RELIABILITY)
    return math.cos(min(math.pi, math.acos(max(-1.0, min(1.0, best))) + spread))


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
        store knows it (``min_similarity`` compares against this). Discounted when words were guessed
        from their spelling (see :func:`guessed_confidence`): a guess says little about a word.
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

    def weighed(self, threshold: float = -math.inf) -> QueryResult:
        """This result with ``best_similarity`` discounted for the words guessed from their spelling
        (:func:`guessed_confidence`), and no candidates if that falls below ``threshold``
        (``min_similarity``). Corrected words are real words: they are not discounted.
        """
        best = float(self.best_similarity)
        if self.spelled:
            words = [w for w in self.text.split() if w not in ("+", "-")]
            best = guessed_confidence(best, len(self.spelled), len(words) - len(self.ignored))
        candidates = self.candidates if not best < threshold else []
        if best == self.best_similarity and candidates is self.candidates:
            return self
        return replace(self, best_similarity=best, candidates=candidates)

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

