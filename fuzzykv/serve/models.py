"""The JSON the service takes and gives: one pydantic model per request and response body.

The field names are the contract (the client, :mod:`fuzzykv.serve.client`, reads the same names). Request
models are strict (no "5" for 5) and forbid unknown fields, so a misspelt option is a 422, not
silently ignored. The service's limits (:data:`fuzzykv.serve.config.LIMITS`) are part of the schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from .config import LIMITS

#: A text holds a character other than white space (a blank text embeds to nothing). The white space
#: is listed, as ``str.split`` counts it, rather than written ``\S``: regex dialects disagree on what
#: ``\s`` holds (U+0085, U+001C-U+001F), and the schema's readers and pydantic must agree exactly.
NOT_BLANK = r"[^\t-\r\x1c-\x20\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


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
    """The base of request bodies: strict types (no "5" for 5) and no unknown fields, so a misspelt option is a 422."""

    model_config = ConfigDict(strict=True, extra="forbid")


# -- pairs ------------------------------------------------------------------------------------


class ValueBody(Request):
    """The body of ``PUT /v1/pairs/{key}``: the value to store under the key the path names."""

    value: Text


class Pair(BaseModel):
    """One stored pair, as ``GET`` and ``PUT /v1/pairs/{key}`` answer and ``GET /v1/pairs`` lists."""

    key: str
    value: str


class PairPage(BaseModel):
    """A page of ``GET /v1/pairs``, in the store's (insertion) order."""

    pairs: list[Pair]
    next: str | None = Field(description="Pass as ?after= for the next page; null on the last page.")


class PairIn(Request):
    """A pair to store: the same rules as ``PUT /v1/pairs/{key}`` (lengths, not blank, no other fields)."""

    key: Text
    value: Text


class PairBatch(Request):
    """The body of ``POST /v1/pairs:batch``: pairs stored in one transaction, all or none."""

    pairs: Annotated[list[PairIn], Field(min_length=1, max_length=LIMITS.max_batch)]


class Written(BaseModel):
    """How many pairs a batch stored (a key given twice counts once: the later value wins)."""

    written: int


# -- queries ----------------------------------------------------------------------------------


class QueryBody(Request):
    """The body of ``POST /v1/query``: a text, or ``positive``/``negative`` texts combined as gensim's
    most_similar does, and the options of ``Database.search``.
    """

    text: Text | None = None
    k: K = 5
    exact: bool = False
    min_similarity: Similarity | None = None
    positive: Annotated[list[Text], Field(max_length=LIMITS.max_batch)] = []
    negative: Annotated[list[Text], Field(max_length=LIMITS.max_batch)] = []
    attention_k: K = Field(10, description="How many of the heaviest keys to list under attention.")
    vector: bool = Field(False, description="Also send the blended value vector that was decoded.")


class QueryBatchBody(Request):
    """The body of ``POST /v1/query:batch``: many texts, one pass over the store, the same options for each."""

    texts: Annotated[list[Text], Field(max_length=LIMITS.max_batch)]
    k: K = 5
    exact: bool = False
    min_similarity: Similarity | None = None
    attention_k: K = 10
    vector: bool = False


class Candidate(BaseModel):
    """A decoded word and its cosine similarity to the blended value vector."""

    word: str
    similarity: float


class Weight(BaseModel):
    """A key's attention weight for the query; over all keys the weights sum to 1."""

    key: str
    weight: float
    value: str | None = Field(None, description="The key's value (null if it was deleted meanwhile).")


class CorrectionOut(BaseModel):
    """A query word without a vector read as the nearest known spelling (``typed`` -> ``used``, edit distance)."""

    typed: str
    used: str
    distance: int


class QueryAnswer(BaseModel):
    """One query answered (:class:`~fuzzykv.results.QueryResult` as JSON): the words, their scores, the
    heaviest keys, and what was ignored, spelled or corrected on the way (then ``approximate``).
    """

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
    """One :class:`QueryAnswer` per text of the batch, in order."""

    results: list[QueryAnswer]


class LookupBody(Request):
    """The body of ``POST /v1/lookup``: the text to look up, and how close the nearest key must be."""

    text: Text
    min_similarity: Similarity | None = None


class LookupAnswer(BaseModel):
    """The value of an equal key, else of the nearest key; ``value`` is null when no key is within
    ``min_similarity`` (``key`` and ``similarity`` still say which came closest), all null for an empty store.
    """

    value: str | None
    key: str | None
    similarity: float | None


class NearestBody(Request):
    """The body of ``POST /v1/nearest``: a text and how many of the nearest keys to list."""

    text: Text
    k: K = 3


class NeighbourOut(BaseModel):
    """A stored pair near the text, with its key's cosine similarity to it."""

    key: str
    value: str
    similarity: float


class NearestAnswer(BaseModel):
    """The exact ``k`` nearest keys to the text, nearest first."""

    neighbours: list[NeighbourOut]


class ClassifyBody(Request):
    """The body of ``POST /v1/classify``: a text, and how many of its nearest keys to list beside the verdict."""

    text: Text
    k: K = 5


class Score(BaseModel):
    """A value's share of the query's attention: what its keys carry (the shares sum to 1)."""

    value: str
    share: float


class ClassifyAnswer(BaseModel):
    """The value the query's attention favours, every value's share, and the ``k`` nearest keys."""

    label: str
    scores: list[Score]
    neighbours: list[NeighbourOut]


# -- the service --------------------------------------------------------------------------------


class Health(BaseModel):
    """``GET /healthz``: the process answers (it says nothing about the store; that is ``/readyz``)."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """``GET /readyz``: whether ``/v1`` answers yet, and why not."""

    status: Literal["ready", "warming", "failed"] = Field(
        description="ready: /v1 answers; warming: the store is opening and its indexes building (503 on /v1 meanwhile); "
        "failed: the store could not be opened (see message and the server log)."
    )
    message: str | None = None


class Info(BaseModel):
    """``GET /v1/info``: the store's size, vector dimension and settings, and this service's version and limits."""

    pairs: int
    dimension: int
    settings: dict[str, Any]
    read_only: bool
    version: str
    limits: dict[str, int]


class ErrorDetail(BaseModel):
    """What went wrong. ``UnknownWordError`` adds ``text``, ``words``, ``vocabulary_size`` and
    ``every_word``; a missing key (``KeyError``) adds ``key``.
    """

    type: str = Field(description="The fuzzykv error class, or ValidationError, AuthenticationError, NotFound, ...")
    message: str
    text: str | None = Field(None, description="UnknownWordError: the text with unknown words.")
    words: list[str] | None = Field(None, description="UnknownWordError: the words without a vector.")
    vocabulary_size: int | None = Field(None, description="UnknownWordError: how many words have vectors.")
    every_word: bool | None = Field(None, description="UnknownWordError: whether no word of the text has a vector.")
    key: str | None = Field(None, description="KeyError: the key no pair has.")


class ErrorBody(BaseModel):
    """Every error answer: ``{"error": {...}}``, with the same shape whatever its status."""

    error: ErrorDetail


# -- the map (the page's 2-D view of the keys) -------------------------------------------------------

#: The most keys one map draws (a sample of the store beyond that).
MAX_MAP_KEYS = 5_000


class MapPoint(BaseModel):
    """A key drawn on the map, with its value and its place."""

    key: str
    value: str
    x: float
    y: float


class Placed(BaseModel):
    """A text placed on the map (the ``?text=`` of ``GET /v1/map``, or a text given to ``/v1/map:place``)."""

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
    """``GET /v1/map``: the keys in two dimensions (PCA of their unit vectors) and the projection used."""

    total: int = Field(description="Pairs in the store.")
    sampled: int = Field(description="Keys drawn: all of them, or an even sample of at most 5,000.")
    explained: list[float] = Field(description="The share of the sample's variance along each axis.")
    projection: Projection
    points: list[MapPoint]
    query: Placed | None = Field(None, description="Where ?text= lands, when given.")


class PlaceBody(Request):
    """The body of ``POST /v1/map:place``: texts to place, and the projection a ``GET /v1/map`` answered."""

    texts: Annotated[list[Text], Field(min_length=1, max_length=LIMITS.max_k)]
    projection: Projection


class PlaceAnswer(BaseModel):
    """Where each text lands on the map, in the order given."""

    points: list[Placed]
