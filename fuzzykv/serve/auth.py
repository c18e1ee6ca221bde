"""The bearer token, checked on every ``/v1`` request (read from a file by :func:`fuzzykv.serve.config.read_token`).

:class:`TokenCheck` checks it before anything else reads the request, so a request without the
token gets 401 whatever its body; :data:`bearer` declares the scheme in the OpenAPI schema (the
``/docs`` page's Authorize button) and checks it again for apps built without the middleware.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import AuthenticationError
from .errors import response_of

#: The security scheme every ``/v1`` route declares; it checks nothing itself (``auto_error=False``).
bearer = HTTPBearer(auto_error=False, description="The service's token: start it with --token-file or $FUZZYKV_TOKEN.")


def token_error(expected: str | None, given: str) -> AuthenticationError | None:
    """Why an ``Authorization`` header does not carry the token ``expected`` (``None``: it does, or none is needed)."""
    if expected is None:
        return None
    scheme, _, token = given.partition(" ")
    # Constant time, so the answer's timing does not tell how much of a guess was right.
    if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode()):
        return None
    what = "no" if not given else "a wrong"
    return AuthenticationError(
        f"this service needs a token and the request has {what} one; "
        "send the header 'Authorization: Bearer <token>' (RemoteDatabase(url, token=...))"
    )


async def require_token(request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    """A FastAPI dependency: 401 unless the request carries the service's token (if it has one)."""
    problem = token_error(request.app.state.config.token, request.headers.get("authorization", ""))
    if problem is not None:
        raise problem


class TokenCheck:
    """ASGI middleware: 401 for a ``/v1`` request without the token, before its body is read or parsed."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 401 (with ``WWW-Authenticate: Bearer``) to a ``/v1`` request without the token; pass the rest on."""
        if scope["type"] == "http" and self.token is not None and str(scope.get("path", "")).startswith("/v1"):
            given = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            problem = token_error(self.token, given)
            if problem is not None:
                await response_of(problem, {"WWW-Authenticate": "Bearer"})(scope, receive, send)
                return
        await self.app(scope, receive, send)
