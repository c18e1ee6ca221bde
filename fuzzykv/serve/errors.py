"""Every error the service answers, in one JSON shape: ``{"error": {"type": ..., "message": ...}}``.

One table maps fuzzykv's error classes to HTTP statuses; the client maps the type name back to the
class. No traceback reaches a client: a 5xx is logged with its traceback on the server.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from .. import errors

log = logging.getLogger("fuzzykv.serve")

#: Most specific first: the first class an error is an instance of decides its status.
STATUSES: tuple[tuple[type[Exception], int], ...] = (
    (errors.ReadOnlyStoreError, 403),
    (errors.StoreSettingsError, 409),
    (errors.StoreFullError, 507),
    (errors.StoreClosedError, 503),
    (errors.ShardUnavailableError, 503),
    (errors.UnknownWordError, 400),
    (errors.EmptyTextError, 400),
    (errors.NotTextError, 400),
    (errors.InvalidOptionError, 400),
    (errors.EmptyDatabaseError, 400),
    (errors.NotAPairError, 400),
    (errors.EncoderOutputError, 400),
    (errors.PairsFileError, 400),
)
#: Starlette's own HTTP errors (unknown path, wrong method), named for the error shape.
HTTP_TYPES = {404: "NotFound", 405: "MethodNotAllowed"}


class MissingKeyError(Exception):
    """No pair has this key: a 404 whose type the client reads back as ``KeyError``."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class AuthenticationError(Exception):
    """A ``/v1`` request without the service's bearer token: 401."""


def error_response(status: int, kind: str, message: str, headers: Mapping[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message, **extra}}, status_code=status, headers=headers)


def status_of(error: errors.FuzzyKVError) -> int:
    return next((status for kind, status in STATUSES if isinstance(error, kind)), 500)


async def _fuzzykv_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, errors.FuzzyKVError)
    status = status_of(error)
    if status >= 500:
        log.error("%s %s failed with %s", request.method, request.url.path, type(error).__name__, exc_info=error)
    extra: dict[str, Any] = {}
    if isinstance(error, errors.UnknownWordError):  # enough for the client to rebuild the error
        extra = {"text": error.text, "words": list(error.words), "vocabulary_size": error.vocabulary_size,
                 "every_word": error.every_word}
    return error_response(status, type(error).__name__, str(error), **extra)


async def _missing_key(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, MissingKeyError)
    return error_response(404, "KeyError", f"no pair has the key {error.key!r}")


async def _unauthenticated(request: Request, error: Exception) -> JSONResponse:
    return error_response(401, "AuthenticationError", str(error), headers={"WWW-Authenticate": "Bearer"})


async def _invalid(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem.get("loc", ()))
        if where == "body" and problem.get("type") == "model_attributes_type":
            problems.append("the body must be a JSON object, sent with Content-Type: application/json")
            continue
        problems.append(f"{where}: {problem.get('msg', 'invalid')}")
    message = "; ".join(problems) + "; see /docs for the request schema and /v1/info for the limits"
    return error_response(422, "ValidationError", message)


async def _http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    kind = HTTP_TYPES.get(error.status_code, "HTTPError")
    message = str(error.detail)
    if error.status_code == 404:
        message = f"no endpoint {request.method} {request.url.path}; see /docs for the endpoints"
    elif error.status_code == 405:
        message = f"{request.url.path} does not take {request.method}; see /docs for the endpoints"
    return error_response(error.status_code, kind, message, headers=error.headers)


async def _internal(request: Request, error: Exception) -> JSONResponse:
    # NOTE: Starlette re-raises the exception after this answer, so uvicorn logs its traceback.
    return error_response(500, "InternalError", "internal error; see the server log")


def install(app: FastAPI) -> None:
    """Answer every error the app can raise in the one JSON shape."""
    app.add_exception_handler(errors.FuzzyKVError, _fuzzykv_error)
    app.add_exception_handler(MissingKeyError, _missing_key)
    app.add_exception_handler(AuthenticationError, _unauthenticated)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _internal)
