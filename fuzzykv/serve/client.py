"""``RemoteDatabase``: a ``fuzzykv serve`` service with the methods and errors of a local ``Database``.

Switching is one line::

    db = Database.open("colors.fkv")                      # in this process
    db = RemoteDatabase("http://127.0.0.1:8000", token)   # over HTTP, same calls, same errors

Imports only httpx and fuzzykv's errors (results load on first use), never FastAPI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx

from .. import errors
from ..errors import AuthenticationError, FuzzyKVError, MissingKeyError, RequestTooLargeError, ServiceUnavailableError
from ..interface import BaseDatabase, SearchOptions
from ..settings import positive_int

__all__ = ["AuthenticationError", "RemoteDatabase", "RemoteError", "RequestTooLargeError", "ServiceUnavailableError"]

if TYPE_CHECKING:
    from ..results import Classification, Neighbour, QueryResult
    from ..settings import Settings

T = TypeVar("T")
#: Keys per page when iterating, and pairs per request in ``update`` (the service allows 1,000).
PAGE = 1_000


class RemoteError(FuzzyKVError):
    """An answer of the service that names no fuzzykv error: its ``status`` and error ``kind``."""

    def __init__(self, message: str, status: int | None = None, kind: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind




class RemoteDatabase(BaseDatabase):
    """A store served by ``fuzzykv serve``, used like a :class:`~fuzzykv.Database`.

    Differences from a local store: there is no ``batch()`` (use ``update``, one transaction of up
    to 1,000 pairs per request), ``update`` with more pairs sends several transactions, and
    ``search(attention_k=None)`` lists the service's default 10 heaviest keys, not every key.

    :param url: the service, e.g. ``"http://127.0.0.1:8000"``.
    :param token: the bearer token (default ``$FUZZYKV_TOKEN``, if set).
    :param timeout: seconds to wait for the service per request.
    :param client: an ``httpx.Client`` to send requests with (e.g. FastAPI's ``TestClient``);
        ``url`` and ``timeout`` are then ignored.
    :raises FuzzyKVError: the error classes of :mod:`fuzzykv.errors`, as a local store.
    :raises KeyError: for a missing key.
    :raises RemoteError: for the service itself (:class:`AuthenticationError`,
        :class:`RequestTooLargeError`, :class:`ServiceUnavailableError`, or another status).
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
        _check_texts([key, value])
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

    def _snapshot(self) -> list[tuple[str, str]]:
        return list(self._pages())

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

    def page(self, after: str | None = None, limit: int = 100) -> tuple[list[tuple[str, str]], bool]:
        """As :meth:`fuzzykv.Database.page`, one request."""
        params: dict[str, Any] = {"limit": positive_int("limit", limit)}
        if after is not None:
            params["after"] = after
        try:
            page = self._call("GET", "/v1/pairs", params=params)
        except MissingKeyError:
            raise KeyError(after) from None
        return [(pair["key"], pair["value"]) for pair in page["pairs"]], page["next"] is not None

    def _write(self, pairs: dict[str, str]) -> None:
        """One transaction per 1,000 pairs (all of them, or none of them)."""
        _check_texts([text for pair in pairs.items() for text in pair])
        listed = list(pairs.items())
        for start in range(0, len(listed), PAGE):
            chunk = [{"key": key, "value": value} for key, value in listed[start : start + PAGE]]
            self._call("POST", "/v1/pairs:batch", json={"pairs": chunk})

    # -- fuzzy reads: one request each ----------------------------------------------------------

    def _search(self, text: str | None, positive: list[str], negative: list[str], options: SearchOptions) -> QueryResult:
        """``vector`` is the service's blended vector (float32), the same as a local store's;
        ``attention_k=None`` lists the service's 10 heaviest keys.
        """
        _check_texts([*([text] if text is not None else []), *positive, *negative])
        body = {"text": text, "positive": positive, "negative": negative, **_options_body(options)}
        return _result(self._call("POST", "/v1/query", json=body))

    def _search_batch(self, texts: list[str], options: SearchOptions) -> list[QueryResult]:
        _check_texts(texts)
        body = {"texts": texts, **_options_body(options)}
        return [_result(found) for found in self._call("POST", "/v1/query:batch", json=body)["results"]]

    def _lookup(self, text: str, threshold: float) -> str | None:
        _check_texts([text])
        bound = None if threshold == -float("inf") else threshold
        value: str | None = self._call("POST", "/v1/lookup", json={"text": text, "min_similarity": bound})["value"]
        return value

    def _nearest(self, text: str, k: int) -> list[Neighbour]:
        from ..results import Neighbour

        _check_texts([text])
        found = self._call("POST", "/v1/nearest", json={"text": text, "k": k})["neighbours"]
        return [Neighbour(n["key"], n["value"], n["similarity"]) for n in found]

    def _classify(self, text: str, k: int) -> Classification:
        from ..results import Classification, Neighbour

        _check_texts([text])
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
        from ..settings import Settings

        return Settings(**self.info()["settings"])

    def close(self) -> None:
        """Close the connections; safe to call twice."""
        self._http.close()

    def __repr__(self) -> str:
        return f"RemoteDatabase({self.url!r})"



def _error_from(response: httpx.Response) -> Exception:
    """The fuzzykv error class the service named (:func:`fuzzykv.errors.error_class`), rebuilt from
    its body; a :class:`RemoteError` if it named none.
    """
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


def _check_texts(texts: Sequence[object]) -> None:
    """The checks a local store makes of texts, made here first, so the same calls raise the same classes."""
    for text in texts:
        if not isinstance(text, str):
            raise errors.NotTextError(f"expected a string, got {type(text).__name__}: {text!r}")
        if not text.split():
            raise errors.EmptyTextError(f"expected a word or more, got the empty or blank text {text!r}")


def _result(found: dict[str, Any]) -> QueryResult:
    import numpy as np

    from ..embed.vectors import Correction
    from ..results import QueryResult

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



def _options_body(options: SearchOptions) -> dict[str, Any]:
    body: dict[str, Any] = {"k": options.k, "exact": options.exact, "vector": options.working,
                            "min_similarity": None if options.threshold == -float("inf") else options.threshold}
    if options.attention_k is not None:
        body["attention_k"] = options.attention_k
    return body
