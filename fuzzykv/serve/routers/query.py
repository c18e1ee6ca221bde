"""``/v1/query`` and ``/v1/query:batch``: the fuzzy read, with its working (candidates, attention)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends

from ..auth import require_token
from ..models import Candidate, CorrectionOut, QueryAnswer, QueryBatchAnswer, QueryBatchBody, QueryBody, Weight
from ..state import ServedDatabase

if TYPE_CHECKING:
    from ...results import QueryResult

router = APIRouter(prefix="/v1", tags=["query"], dependencies=[Depends(require_token)])


def answer(result: QueryResult, vector: bool = False, values: Mapping[str, str] | None = None) -> QueryAnswer:
    """A :class:`~fuzzykv.results.QueryResult` as JSON (NaN, for no key, becomes null); ``values``
    (the store) gives each listed key its value, as the page shows them.
    """
    value_of = values.get if values is not None else (lambda key: None)
    best = float(result.best_similarity)
    corrections: Any = getattr(result, "corrections", None)
    return QueryAnswer(
        text=result.text,
        words=result.words,
        candidates=[Candidate(word=w, similarity=float(s)) for w, s in result.candidates],
        attention=[Weight(key=k, weight=float(w), value=value_of(k)) for k, w in result.attention],
        best_similarity=best if math.isfinite(best) else None,
        ignored=list(result.ignored),
        spelled=list(result.spelled),
        approximate=bool(result.approximate),
        corrections=None if corrections is None else [
            CorrectionOut(typed=c.typed, used=c.used, distance=int(c.distance)) for c in corrections
        ],
        vector=[float(x) for x in result.vector] if vector else None,
    )


@router.post("/query", response_model=QueryAnswer)
def query(body: QueryBody, db: ServedDatabase) -> QueryAnswer:
    """``Database.search``: the ``k`` decoded words with their scores and the heaviest keys' weights.

    NOTE: plain ``def`` (FastAPI's thread pool): a query is about 2 ms, but the first one may build
    the vocabulary index and a large store's query takes longer; neither may hold the event loop.
    """
    result = db.search(
        body.text, k=body.k, exact=body.exact, attention_k=body.attention_k, min_similarity=body.min_similarity,
        positive=body.positive, negative=body.negative,
    )
    return answer(result, body.vector, db)


@router.post("/query:batch", response_model=QueryBatchAnswer)
def query_batch(body: QueryBatchBody, db: ServedDatabase) -> QueryBatchAnswer:
    """One ``/v1/query`` answer per text, in order, from one pass over the store (``Database.search_batch``);
    one bad text fails the whole batch.
    """
    results = db.search_batch(body.texts, k=body.k, exact=body.exact, attention_k=body.attention_k,
                              min_similarity=body.min_similarity)
    return QueryBatchAnswer(results=[answer(result, body.vector, db) for result in results])
