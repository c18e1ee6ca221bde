"""``RemoteDatabase``: a ``fuzzykv serve`` service with the methods and errors of a local ``Database``.

Switching is one line::

    db = Database.open("colors.fkv")                      # in this process
    db = RemoteDatabase("http://127.0.0.1:8000", token)   # over HTTP, same calls, same errors

Imports only httpx and fuzzykv's errors (results load on first use), never FastAPI.
"""

from __future__ import annotations

import os
from collections.abc import ItemsView, Iterable, Iterator, Mapping, MutableMapping, Sequence, ValuesView
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx

from . import errors
from .errors import AuthenticationError, FuzzyKVError, MissingKeyError, RequestTooLargeError, ServiceUnavailableError

__all__ = ["AuthenticationError", "RemoteDatabase", "RemoteError", "RequestTooLargeError", "ServiceUnavailableError"]

if TYPE_CHECKING:
    from .results import Classification, Neighbour, QueryResult
    from .settings import Settings

T = TypeVar("T")
#: Keys per page when iterating, and pairs per request in ``update`` (the service allows 1,000).
PAGE = 1_000


class RemoteError(FuzzyKVError):
    """An answer of the service that names no fuzzykv error: its ``status`` and error ``kind``."""

    def __init__(self, message: str, status: int | None = None, kind: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


class RemoteDatabase(MutableMapping[str, str]):
    """A store served by ``fuzzykv serve``, used like a :class:`~fuzzykv.Database`.

    Differences from a local store: there is no ``batch()`` (use ``update``, one transaction of up
    to 1,000 pairs per request), ``update`` with more pairs sends several transactions, and
    ``search(attention_k=None)`` lists the service's default 10 heaviest keys, not every key.

    :param url: the service, e.g. ``"http://127.0.0.1:8000"``.
    :param token: the bearer token (default ``$FUZZYKV_TOKEN``, if set).
    :param timeout: seconds to wait for the service per request.
    :param client: an ``httpx.Client`` to send requests with (e.g. FastAPI's ``TestClient``);
        ``url`` and ``timeout`` are then ignored.
    :raises: the error classes of :mod:`fuzzykv.errors`, as a local store; ``KeyError`` for a missing
        key; :class:`AuthenticationError`, :class:`RequestTooLargeError`, :class:`ServiceUnavailableError`
        or :class:`RemoteError` for the service itself.
    """

    def __init__(self, url: str = "http://127.0.0.1:8000", token: str | None = None, timeout: float = 30.0,
                 *, client: httpx.Client | None = None) -> None:
        token = token if token is not None else os.environ.get("FUZZYKV_TOKEN") or None
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = client if client is not None else httpx.Client(base_url=self.url, timeout=timeout)

    # -- transport ----------------------------------------------------------------------------

    def _call(self, method: str, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=json, params=params, headers=self._headers)
        except httpx.TimeoutException as error:
            raise ServiceUnavailableError(f"the fuzzykv service at {self.url} did not answer in time ({error}); "
                                          "raise timeout=... or check the service") from error
        except httpx.TransportError as error:
            raise ServiceUnavailableError(f"could not reach the fuzzykv service at {self.url} ({error}); "
                                          "is `fuzzykv serve` running there?") from error
        if response.status_code >= 400:
            raise _error_from(response)
        return response.json() if response.content else None

    def _pair_path(self, key: str) -> str:
        if not isinstance(key, str):
            raise errors.NotTextError(f"keys are strings, got {type(key).__name__} {key!r}")
        encoded = quote(key, safe="")
        if encoded in (".", ".."):  # else URL normalisation would read them as path steps
            encoded = encoded.replace(".", "%2E")
        return f"/v1/pairs/{encoded}"

    # -- the mapping --------------------------------------------------------------------------

    def __getitem__(self, key: str) -> str:
        if not isinstance(key, str) or not key.split():  # a blank key is never stored
            raise KeyError(key)
        try:
            value: str = self._call("GET", self._pair_path(key))["value"]
        except MissingKeyError:
            raise KeyError(key) from None
        return value

    def __setitem__(self, key: str, value: str) -> None:
        if not isinstance(value, str):
            raise errors.NotTextError(f"values are strings, got {type(value).__name__} {value!r}")
        self._checked([key, value], 1, None, None)
        self._call("PUT", self._pair_path(key), json={"value": value})

    def __delitem__(self, key: str) -> None:
        if not isinstance(key, str) or not key.split():
            raise KeyError(key)
        try:
            self._call("DELETE", self._pair_path(key))
        except MissingKeyError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __len__(self) -> int:
        return int(self.info()["pairs"])

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._pages())

    def items(self) -> ItemsView[str, str]:
        return _Items(self)

    def values(self) -> ValuesView[str]:
        return _Values(self)

    def _pages(self) -> Iterator[tuple[str, str]]:
        """Every pair in the store's order, a page per request."""
        params: dict[str, Any] = {"limit": PAGE}
        while True:
            page = self._call("GET", "/v1/pairs", params=params)
            for pair in page["pairs"]:
                yield pair["key"], pair["value"]
            if page["next"] is None:
                return
            params["after"] = page["next"]

    def update(self, other: Mapping[str, str] | Iterable[tuple[str, str]] = (), /, **more: str) -> None:  # type: ignore[override]
        """Set many pairs: one transaction per 1,000 pairs (all of them, or none of them)."""
        # As dict.update: anything with keys() is read as a mapping (other[key]), else as (key, value) pairs.
        keys = getattr(other, "keys", None)
        listed = [(key, other[key]) for key in keys()] if callable(keys) else list(other)  # type: ignore[index]
        pairs = listed + list(more.items())
        self._checked([text for pair in pairs for text in pair], 1, None, None)
        for start in range(0, len(pairs), PAGE):
            chunk = [{"key": key, "value": value} for key, value in pairs[start : start + PAGE]]
            self._call("POST", "/v1/pairs:batch", json={"pairs": chunk})

    # -- fuzzy reads ------------------------------------------------------------------------

    # -- the checks a local store makes, made here first, so the same calls raise the same classes --

    @staticmethod
    def _checked(texts: Sequence[object], k: int, attention_k: int | None, min_similarity: float | None) -> None:
        from .settings import positive_int

        for text in texts:
            if not isinstance(text, str):
                raise errors.NotTextError(f"expected a string, got {type(text).__name__}: {text!r}")
            if not text.split():
                raise errors.EmptyTextError(f"expected a word or more, got the empty or blank text {text!r}")
        positive_int("k", k)
        if attention_k is not None:
            positive_int("attention_k", attention_k)
        if min_similarity is not None and (
            isinstance(min_similarity, bool) or not isinstance(min_similarity, (int, float)) or not -1 <= min_similarity <= 1
        ):
            raise errors.InvalidOptionError(
                f"min_similarity must be a cosine similarity between -1 and 1, got {min_similarity!r}")

    def query(self, text: str | None = None, k: int = 5, *, exact: bool = False, min_similarity: float | None = None,
              positive: str | Sequence[str] = (), negative: str | Sequence[str] = ()) -> list[str]:
        """As :meth:`fuzzykv.Database.query`."""
        body = self._query_body(text, k, exact, min_similarity, positive, negative, attention_k=1, vector=False)
        self._checked([*([text] if text is not None else []), *body["positive"], *body["negative"]], k, 1, min_similarity)
        words: list[str] = self._call("POST", "/v1/query", json=body)["words"]
        return words

    def search(self, text: str | None = None, k: int = 5, *, exact: bool = False, attention_k: int | None = None,
               min_similarity: float | None = None, positive: str | Sequence[str] = (),
               negative: str | Sequence[str] = ()) -> QueryResult:
        """As :meth:`fuzzykv.Database.search`; ``vector`` is the service's blended vector (float32),
        the same as a local store's. ``attention_k=None`` lists the 10 heaviest keys."""
        body = self._query_body(text, k, exact, min_similarity, positive, negative, attention_k, vector=True)
        self._checked([*([text] if text is not None else []), *body["positive"], *body["negative"]], k, attention_k,
                      min_similarity)
        return _result(self._call("POST", "/v1/query", json=body))

    def query_batch(self, texts: Sequence[str], k: int = 5, *, exact: bool = False,
                    min_similarity: float | None = None) -> list[list[str]]:
        """As :meth:`fuzzykv.Database.query_batch` (one request)."""
        if isinstance(texts, (str, bytes)):
            raise errors.NotTextError("query_batch takes a list of strings, got a single string; use query()")
        self._checked(list(texts), k, None, min_similarity)
        body = {"texts": list(texts), "k": k, "exact": exact, "min_similarity": min_similarity, "attention_k": 1}
        return [result["words"] for result in self._call("POST", "/v1/query:batch", json=body)["results"]]

    def search_batch(self, texts: Sequence[str], k: int = 5, *, exact: bool = False, attention_k: int | None = None,
                     min_similarity: float | None = None) -> list[QueryResult]:
        """As :meth:`fuzzykv.Database.search_batch` (one request); ``attention_k=None`` lists the 10 heaviest keys."""
        if isinstance(texts, (str, bytes)):
            raise errors.NotTextError("search_batch takes a list of strings, got a single string; use search()")
        self._checked(list(texts), k, attention_k, min_similarity)
        body: dict[str, Any] = {"texts": list(texts), "k": k, "exact": exact, "min_similarity": min_similarity,
                                "vector": True}
        if attention_k is not None:
            body["attention_k"] = attention_k
        return [_result(found) for found in self._call("POST", "/v1/query:batch", json=body)["results"]]

    def lookup(self, text: str, default: T | None = None, min_similarity: float | None = None) -> str | T | None:
        """As :meth:`fuzzykv.Database.lookup`."""
        self._checked([text], 1, None, min_similarity)
        found = self._call("POST", "/v1/lookup", json={"text": text, "min_similarity": min_similarity})
        value: str | None = found["value"]
        return default if value is None else value

    def nearest(self, text: str, k: int = 3) -> list[Neighbour]:
        """As :meth:`fuzzykv.Database.nearest`."""
        from .results import Neighbour

        self._checked([text], k, None, None)
        found = self._call("POST", "/v1/nearest", json={"text": text, "k": k})["neighbours"]
        return [Neighbour(n["key"], n["value"], n["similarity"]) for n in found]

    def classify(self, text: str, k: int = 5) -> Classification:
        """As :meth:`fuzzykv.Database.classify`."""
        from .results import Classification, Neighbour

        self._checked([text], k, None, None)
        found = self._call("POST", "/v1/classify", json={"text": text, "k": k})
        return Classification(
            label=found["label"],
            scores=[(s["value"], s["share"]) for s in found["scores"]],
            neighbours=[Neighbour(n["key"], n["value"], n["similarity"]) for n in found.get("neighbours", [])],
        )

    # -- the service --------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """The service's ``/v1/info``: pairs, dimension, settings, read_only, version, limits."""
        answer: dict[str, Any] = self._call("GET", "/v1/info")
        return answer

    @property
    def settings(self) -> Settings:
        """The settings the served store answers with."""
        from .settings import Settings

        return Settings(**self.info()["settings"])

    def close(self) -> None:
        """Close the connections; safe to call twice."""
        self._http.close()

    def __enter__(self) -> RemoteDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteDatabase({self.url!r})"

    @staticmethod
    def _query_body(text: str | None, k: int, exact: bool, min_similarity: float | None,
                    positive: str | Sequence[str], negative: str | Sequence[str], attention_k: int | None,
                    vector: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "text": text, "k": k, "exact": exact, "min_similarity": min_similarity,
            "positive": [positive] if isinstance(positive, str) else list(positive),
            "negative": [negative] if isinstance(negative, str) else list(negative),
            "vector": vector,
        }
        if attention_k is not None:
            body["attention_k"] = attention_k
        return body


def _error_from(response: httpx.Response) -> Exception:
    """The fuzzykv error class the service named (:func:`fuzzykv.errors.error_class`), rebuilt from
    its body; a :class:`RemoteError` if it named none."""
    status = response.status_code
    try:
        error = response.json()["error"]
        kind, message = str(error["type"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return RemoteError(f"the service answered {status} without a fuzzykv error: {response.text[:200]!r}", status)
    known = errors.error_class(kind)
    if known is None:
        return RemoteError(f"{message} (HTTP {status}, {kind})", status, kind)
    return known.from_http(message, error)


def _result(found: dict[str, Any]) -> QueryResult:
    import numpy as np

    from .embeddings import Correction
    from .results import QueryResult

    best = found.get("best_similarity")
    vector = found.get("vector")
    return QueryResult(
        text=found["text"],
        candidates=[(c["word"], c["similarity"]) for c in found["candidates"]],
        attention=[(a["key"], a["weight"]) for a in found["attention"]],
        # NOTE: a service that sends no vector gives an empty one (shape (0,)), never a made-up blend.
        vector=np.asarray(vector if vector is not None else [], dtype=np.float32),
        best_similarity=float("nan") if best is None else float(best),
        ignored=tuple(found.get("ignored", ())),
        spelled=tuple(found.get("spelled", ())),
        corrections=tuple(Correction(c["typed"], c["used"], c["distance"]) for c in found.get("corrections") or ()),
    )


class _Items(ItemsView[str, str]):
    """``items()`` a page of pairs per request, not a request per key."""

    _mapping: RemoteDatabase

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return self._mapping._pages()


class _Values(ValuesView[str]):
    _mapping: RemoteDatabase

    def __iter__(self) -> Iterator[str]:
        return (value for _, value in self._mapping._pages())
