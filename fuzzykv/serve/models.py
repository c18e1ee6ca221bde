"""The JSON the service takes and gives: one pydantic model per request and response body.

The field names are the contract (the client, :mod:`fuzzykv.serve.client`, reads the same names). Request
models are strict (no "5" for 5) and forbid unknown fields, so a misspelt option is a 422, not
silently ignored. The service's limits (:data:`fuzzykv.serve.config.LIMITS`) are part of the schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from .config import LIMITS

#: A text holds a character other than white space (a blank text embeds to nothing).
NOT_BLANK = r"\S"


def _encodable(text: str) -> str:
    """Refuse a lone UTF-16 surrogate: it cannot be stored (UTF-8) nor answered."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the text holds a lone UTF-16 surrogate, which is not a character; send valid Unicode") from None
    return text


Text = Annotated[
    str,
    StringConstraints(min_length=1, max_length=LIMITS.max_text_chars, pattern=NOT_BLANK),
    AfterValidator(_encodable),
    Field(description=f"A text of 1 to {LIMITS.max_text_chars:,} characters, not only white space."),
]
def _whole(value: object) -> object:
    """JSON Schema's integers include 5.0: take a whole float as the int it is (strings stay refused)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


K = Annotated[int, Field(ge=1, le=LIMITS.max_k, description=f"How many; 1 to {LIMITS.max_k}."), BeforeValidator(_whole)]
Similarity = Annotated[float, Field(ge=-1, le=1, description="A cosine similarity, -1 to 1.")]


class Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


# -- pairs ------------------------------------------------------------------------------------


class ValueBody(Request):
    value: Text


class Pair(BaseModel):
    key: str
    value: str


class PairPage(BaseModel):
    pairs: list[Pair]
    next: str | None = Field(description="Pass as ?after= for the next page; null on the last page.")


class PairIn(Request):
    """A pair to store: the same rules as ``PUT /v1/pairs/{key}`` (lengths, not blank, no other fields)."""

    key: Text
    value: Text


class PairBatch(Request):
    pairs: Annotated[list[PairIn], Field(min_length=1, max_length=LIMITS.max_batch)]


class Written(BaseModel):
    written: int


# -- queries ----------------------------------------------------------------------------------


class QueryBody(Request):
    text: Text | None = None
    k: K = 5
    exact: bool = False
    min_similarity: Similarity | None = None
    positive: Annotated[list[Text], Field(max_length=LIMITS.max_batch)] = []
    negative: Annotated[list[Text], Field(max_length=LIMITS.max_batch)] = []
    attention_k: K = Field(10, description="How many of the heaviest keys to list under attention.")
    vector: bool = Field(False, description="Also send the blended value vector that was decoded.")


class QueryBatchBody(Request):
    texts: Annotated[list[Text], Field(max_length=LIMITS.max_batch)]
    k: K = 5
    exact: bool = False
    min_similarity: Similarity | None = None
    attention_k: K = 10
    vector: bool = False


class Candidate(BaseModel):
    word: str
    similarity: float


class Weight(BaseModel):
    key: str
    weight: float
    value: str | None = Field(None, description="The key's value (null if it was deleted meanwhile).")


class CorrectionOut(BaseModel):
    typed: str
    used: str
    distance: int


class QueryAnswer(BaseModel):
    text: str
    words: list[str]
    candidates: list[Candidate]
    attention: list[Weight]
    best_similarity: float | None = Field(description="The closest key's cosine; null for no key.")
    ignored: list[str]
    spelled: list[str]
    approximate: bool
    corrections: list[CorrectionOut] | None = None
    vector: list[float] | None = None


class QueryBatchAnswer(BaseModel):
    results: list[QueryAnswer]


class LookupBody(Request):
    text: Text
    min_similarity: Similarity | None = None


class LookupAnswer(BaseModel):
    value: str | None
    key: str | None
    similarity: float | None


class NearestBody(Request):
    text: Text
    k: K = 3


class NeighbourOut(BaseModel):
    key: str
    value: str
    similarity: float


class NearestAnswer(BaseModel):
    neighbours: list[NeighbourOut]


class ClassifyBody(Request):
    text: Text
    k: K = 5


class Score(BaseModel):
    value: str
    share: float


class ClassifyAnswer(BaseModel):
    label: str
    scores: list[Score]
    neighbours: list[NeighbourOut]


# -- the service --------------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "warming", "failed"] = Field(
        description="ready: /v1 answers; warming: the store is opening and its indexes building (503 on /v1 meanwhile); "
        "failed: the store could not be opened (see message and the server log)."
    )
    message: str | None = None


class Info(BaseModel):
    pairs: int
    dimension: int
    settings: dict[str, Any]
    read_only: bool
    version: str
    limits: dict[str, int]


class ErrorDetail(BaseModel):
    """What went wrong. ``UnknownWordError`` adds ``text``, ``words``, ``vocabulary_size`` and
    ``every_word``; a missing key (``KeyError``) adds ``key``."""

    type: str = Field(description="The fuzzykv error class, or ValidationError, AuthenticationError, NotFound, ...")
    message: str
    text: str | None = Field(None, description="UnknownWordError: the text with unknown words.")
    words: list[str] | None = Field(None, description="UnknownWordError: the words without a vector.")
    vocabulary_size: int | None = Field(None, description="UnknownWordError: how many words have vectors.")
    every_word: bool | None = Field(None, description="UnknownWordError: whether no word of the text has a vector.")
    key: str | None = Field(None, description="KeyError: the key no pair has.")


class ErrorBody(BaseModel):
    error: ErrorDetail


# -- the map (the page's 2-D view of the keys) -------------------------------------------------------

#: The most keys one map draws (a sample of the store beyond that).
MAX_MAP_KEYS = 5_000


class MapPoint(BaseModel):
    key: str
    value: str
    x: float
    y: float


class Placed(BaseModel):
    text: str
    x: float
    y: float


Finite = Annotated[float, Field(allow_inf_nan=False)]
Vector = Annotated[list[Finite], Field(min_length=1, max_length=4_096)]


class Projection(Request):
    """The map's axes: a vector ``v`` (unit length, as the keys') lands at ``axes @ (v - mean)``."""

    mean: Vector
    axes: Annotated[list[Vector], Field(min_length=2, max_length=2)]


class MapAnswer(BaseModel):
    total: int = Field(description="Pairs in the store.")
    sampled: int = Field(description="Keys drawn: all of them, or an even sample of at most 5,000.")
    explained: list[float] = Field(description="The share of the sample's variance along each axis.")
    projection: Projection
    points: list[MapPoint]
    query: Placed | None = Field(None, description="Where ?text= lands, when given.")


class PlaceBody(Request):
    texts: Annotated[list[Text], Field(min_length=1, max_length=LIMITS.max_k)]
    projection: Projection


class PlaceAnswer(BaseModel):
    points: list[Placed]
