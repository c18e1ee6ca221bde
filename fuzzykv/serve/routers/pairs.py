"""``/v1/pairs``: the store as a mapping, exact keys like a dict. Keys go in the path, URL-encoded."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from starlette.convertors import PathConvertor, register_url_convertor

from ...errors import InvalidOptionError, MissingKeyError
from ..auth import require_token
from ..config import LIMITS
from ..models import NOT_BLANK, Pair, PairBatch, PairPage, ValueBody, Written
from ..state import ServedDatabase, writable


class KeyConvertor(PathConvertor):
    """A key in the path: any characters, slashes and line breaks too (Starlette's ``path`` stops at a newline)."""

    regex = r"[\s\S]+"


register_url_convertor("key", KeyConvertor())

router = APIRouter(prefix="/v1", tags=["pairs"], dependencies=[Depends(require_token)])
# {key:key}: a key may hold slashes and newlines; every character arrives URL-decoded.
Key = Annotated[str, Path(min_length=1, max_length=LIMITS.max_text_chars, pattern=NOT_BLANK,
                          description="The key, URL-encoded.")]


@router.get("/pairs", response_model=PairPage)
def list_pairs(
    db: ServedDatabase,
    after: Annotated[str | None, Query(description="The last key of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=LIMITS.max_page)] = 100,
) -> PairPage:
    """A page of pairs in the store's order (insertion order); follow ``next`` for the next page."""
    try:
        pairs, more = db.page(after, limit)
    except KeyError:
        raise InvalidOptionError(
            f"after={after!r} is not a key of the store (deleted since the last page?); start again without after"
        ) from None
    page = [Pair(key=key, value=value) for key, value in pairs]
    return PairPage(pairs=page, next=page[-1].key if page and more else None)


@router.post("/pairs:batch", response_model=Written, dependencies=[Depends(writable)])
def write_batch(body: PairBatch, db: ServedDatabase) -> Written:
    """Set many pairs in one transaction: all are stored, or none (a later duplicate key wins). Each
    pair follows ``PUT``'s rules: key and value of 1 to 1,000 characters, not blank, no other fields.
    """
    pairs = {pair.key: pair.value for pair in body.pairs}
    db.update(pairs)
    return Written(written=len(pairs))


@router.put("/pairs/{key:key}", response_model=Pair, dependencies=[Depends(writable)])
def put_pair(body: ValueBody, key: Key, db: ServedDatabase) -> Pair:
    """Set one pair; it is on disk when this answers."""
    db[key] = body.value
    return Pair(key=key, value=body.value)


@router.get("/pairs/{key:key}", response_model=Pair)
def get_pair(key: Key, db: ServedDatabase) -> Pair:
    """The value of exactly this key (no fuzzy matching: that is /v1/lookup)."""
    try:
        return Pair(key=key, value=db[key])
    except KeyError:
        raise MissingKeyError(key) from None


@router.delete("/pairs/{key:key}", status_code=204, response_class=Response, dependencies=[Depends(writable)])
def delete_pair(key: Key, db: ServedDatabase) -> Response:
    """Delete one pair; 404 if there is none."""
    try:
        del db[key]
    except KeyError:
        raise MissingKeyError(key) from None
    return Response(status_code=204)
