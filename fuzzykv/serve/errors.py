"""Every error the service answers, in one JSON shape: ``{"error": {"type": ..., "message": ...}}``.

The status and type name of a library error come from its class (``http_status``, ``error_type``
in :mod:`fuzzykv.errors`); the client maps the type name back with :func:`fuzzykv.errors.error_class`.
No traceback reaches a client: a 5xx is logged with its traceback on the server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from .. import errors
from ..errors import AuthenticationError, MissingKeyError

__all__ = ["AuthenticationError", "MissingKeyError", "error_response", "install", "status_of"]

log = logging.getLogger("fuzzykv.serve")

#: Starlette's own HTTP errors (unknown path, wrong method), named for the error shape.
HTTP_TYPES = {404: "NotFound", 405: "MethodNotAllowed"}


class SafeJSONResponse(JSONResponse):
    r"""JSON that always encodes: text holding a lone UTF-16 surrogate (which UTF-8 cannot carry) is
    sent with ``\uXXXX`` escapes instead of failing while the answer is rendered.
    """

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def error_response(status: int, kind: str, message: str, headers: Mapping[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    """The service's error body, ``{"error": {"type", "message", ...}}``, for any status (library errors and HTTP's own)."""
    return SafeJSONResponse({"error": {"type": kind, "message": message, **extra}}, status_code=status, headers=headers)


def status_of(error: errors.FuzzyKVError) -> int:
    """The HTTP status the service answers ``error`` with (its class's ``http_status``)."""
    return error.http_status


def response_of(error: errors.FuzzyKVError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """``error`` in the service's error shape, with its class's status and type name."""
    return error_response(error.http_status, error.error_type, str(error), headers=headers, **error.http_fields())


async def _fuzzykv_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, errors.FuzzyKVError)
    if error.http_status >= 500:
        log.error("%s %s failed with %s", request.method, request.url.path, type(error).__name__, exc_info=error)
    headers = None
    if isinstance(error, AuthenticationError):
        headers = {"WWW-Authenticate": "Bearer"}
    elif error.http_status == 503:
        headers = {"Retry-After": "1"}
    return response_of(error, headers)


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
    return response_of(errors.RequestSchemaError(message))


#: The methods a route may take, asked of every route in turn for an Allow header.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path (all of them, not only the first route's)."""
    routes = request.app.router.routes
    return [method for method in _METHODS
            if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)]


async def _http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    kind = HTTP_TYPES.get(error.status_code, "HTTPError")
    message = str(error.detail)
    headers = dict(error.headers or {})
    if error.status_code == 404:
        message = f"no endpoint {request.method} {request.url.path}; see /docs for the endpoints"
    elif error.status_code == 405:
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        message = f"{request.url.path} does not take {request.method}; it takes {', '.join(allowed)}; see /docs"
    return error_response(error.status_code, kind, message, headers=headers)


async def _internal(request: Request, error: Exception) -> JSONResponse:
    # NOTE: Starlette re-raises the exception after this answer, so uvicorn logs its traceback.
    return error_response(500, "InternalError", "internal error; see the server log")


def install(app: FastAPI) -> None:
    """Answer every error the app can raise in the one JSON shape."""
    app.add_exception_handler(errors.FuzzyKVError, _fuzzykv_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _internal)
