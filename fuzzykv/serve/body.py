"""The request body size limit, enforced while the body is read (also chunked, without Content-Length)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import RequestTooLargeError
from .errors import response_of


class BodyLimit:
    """ASGI middleware: 413 for a body over ``max_body`` bytes, before the app sees any of it.

    The body (at most ``max_body`` bytes) is read here and handed on to the app, so a large body
    is refused as soon as it passes the limit, whatever its ``Content-Length`` claims.
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body up to ``max_body`` bytes (413 past it, or for a larger ``Content-Length``),
        then hand it to the app as one message.
        """
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = response_of(
            RequestTooLargeError(
                f"the request body is over this service's limit of {self.max_body:,} bytes; send less "
                "(split a batch into several requests) or start the service with a larger --max-body"
            ),
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
