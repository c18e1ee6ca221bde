"""``/v1/lookup``, ``/v1/nearest`` and ``/v1/classify``: answers from the nearest stored keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends

from ...interface import similarity_bound
from ..auth import require_token
from ..models import (
    ClassifyAnswer,
    ClassifyBody,
    LookupAnswer,
    LookupBody,
    NearestAnswer,
    NearestBody,
    NeighbourOut,
    Score,
)
from ..state import ServedDatabase

if TYPE_CHECKING:
    from ...results import Neighbour

router = APIRouter(prefix="/v1", tags=["neighbours"], dependencies=[Depends(require_token)])


def _neighbours(found: list[Neighbour]) -> list[NeighbourOut]:
    return [NeighbourOut(key=n.key, value=n.value, similarity=float(n.similarity)) for n in found]


@router.post("/lookup", response_model=LookupAnswer)
def lookup(body: LookupBody, db: ServedDatabase) -> LookupAnswer:
    """``Database.lookup``: the value of an equal key, else of the nearest key (null if none is within
    ``min_similarity``), with the key that answered and its cosine similarity.
    """
    threshold = similarity_bound(body.min_similarity)
    try:
        return LookupAnswer(value=db[body.text], key=body.text, similarity=1.0)  # an equal key always wins
    except KeyError:
        pass
    found = db.nearest(body.text, k=1)
    if not found:
        return LookupAnswer(value=None, key=None, similarity=None)
    near = found[0]
    close = near.similarity >= threshold
    return LookupAnswer(value=near.value if close else None, key=near.key, similarity=float(near.similarity))


@router.post("/nearest", response_model=NearestAnswer)
def nearest(body: NearestBody, db: ServedDatabase) -> NearestAnswer:
    """``Database.nearest``: the exact k nearest keys, nearest first."""
    return NearestAnswer(neighbours=_neighbours(db.nearest(body.text, k=body.k)))


@router.post("/classify", response_model=ClassifyAnswer)
def classify(body: ClassifyBody, db: ServedDatabase) -> ClassifyAnswer:
    """``Database.classify``: the k nearest keys vote for their values, weighted by similarity."""
    verdict = db.classify(body.text, k=body.k)
    return ClassifyAnswer(
        label=verdict.label,
        scores=[Score(value=value, share=float(share)) for value, share in verdict.scores],
        neighbours=_neighbours(verdict.neighbours),
    )
