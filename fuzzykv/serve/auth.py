"""The bearer token, checked on every ``/v1`` request (read from a file by :func:`fuzzykv.serve.config.read_token`)."""

from __future__ import annotations

import hmac

from fastapi import Request

from .errors import AuthenticationError


async def require_token(request: Request) -> None:
    """A FastAPI dependency: 401 unless the request carries the service's token (if it has one)."""
    expected: str | None = request.app.state.config.token
    if expected is None:
        return
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    # Constant time, so the answer's timing does not tell how much of a guess was right.
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        what = "no" if not given else "a wrong"
        raise AuthenticationError(
            f"this service needs a token and the request has {what} one; "
            "send the header 'Authorization: Bearer <token>' (RemoteDatabase(url, token=...))"
        )
