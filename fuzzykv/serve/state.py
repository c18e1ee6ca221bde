"""What a request reaches: the open store and the service's configuration, as FastAPI dependencies."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request

from ..database import Database
from ..errors import ReadOnlyStoreError, ServiceUnavailableError
from .config import ServeConfig


async def database(request: Request) -> Database:
    """The store this worker process opened at start-up. A request that comes while it is still
    opening or warming waits for it (``app.state.warm_wait`` seconds at most, on the event loop
    without blocking it: several workers share one port, so a probe cannot steer requests to a warm
    one), then answers 503.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + float(request.app.state.warm_wait)
    while request.app.state.readiness[0] == "warming" and loop.time() < deadline:
        await asyncio.sleep(0.05)
    status, message = request.app.state.readiness
    if status != "ready":
        if status == "warming":
            raise ServiceUnavailableError(
                f"the service is warming up ({message}); retry in a moment: GET /readyz answers 200 when it is ready"
            )
        raise ServiceUnavailableError(f"the service has no store: {message}; see the server log, fix it and restart")
    db: Database = request.app.state.database
    return db


async def config(request: Request) -> ServeConfig:
    """The service's configuration, as a FastAPI dependency (``served: Config``)."""
    served: ServeConfig = request.app.state.config
    return served


async def writable(request: Request) -> None:
    """403 for a write to a service started with ``--read-only``."""
    if request.app.state.config.read_only:
        raise ReadOnlyStoreError(
            "this service is read-only (started with --read-only); send writes to a service started without it"
        )


#: Endpoint parameters: ``db: ServedDatabase`` is the served Database, ``served: Config`` the configuration.
ServedDatabase = Annotated[Database, Depends(database)]
Config = Annotated[ServeConfig, Depends(config)]
