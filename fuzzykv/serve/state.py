"""What a request reaches: the open store and the service's configuration, as FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..database import Database
from ..errors import ReadOnlyStoreError, ServiceUnavailableError
from .config import ServeConfig


async def database(request: Request) -> Database:
    """The store this worker process opened at start-up; 503 while it is still opening or warming."""
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
