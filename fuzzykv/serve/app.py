"""The app factory: ``create_app(config)`` wires the routers, the token, the body limit and the errors.

Each worker process opens the store once, at start-up (the lifespan), and closes it at shutdown,
so SIGTERM finishes the requests in flight and then closes the store. Endpoints are plain ``def``:
FastAPI runs them in its thread pool, and ``Database`` is thread-safe.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from .. import __version__
from . import errors
from .body import BodyLimit
from .config import ServeConfig
from .models import ErrorBody
from .routers import keymap, neighbours, page, pairs, query, service

if TYPE_CHECKING:
    from ..database import Database

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Bad text or options", 401: "Missing or wrong token", 403: "A write to a read-only service or store",
        409: "Settings conflict", 413: "Body over the size limit", 422: "Schema violation",
        500: "Internal error", 507: "Disk full",
    }.items()
}


def create_app(config: ServeConfig, *, database: Database | None = None) -> FastAPI:
    """The service for one store.

    :param config: the store file, read-only mode, token and body limit.
    :param database: an open store to serve instead of opening ``config.store`` (tests, embedding
        the service in your own process); the caller keeps it and closes it.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if database is not None:
            yield
            return
        app.state.database = config.open_store()
        try:
            yield
        finally:
            app.state.database.close()

    app = FastAPI(
        title="fuzzykv",
        version=__version__,
        summary="A fuzzy semantic key-value store over word vectors.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        docs_url=None,  # /docs and /redoc come from the page router, with their assets from the package
        redoc_url=None,
    )
    app.state.config = config
    if database is not None:
        app.state.database = database
    app.include_router(service.health)
    app.include_router(service.router)
    app.include_router(pairs.router)
    app.include_router(query.router)
    app.include_router(neighbours.router)
    app.include_router(keymap.router)
    app.include_router(page.router)
    errors.install(app)
    app.add_middleware(BodyLimit, max_body=config.max_body)
    return app


def app_from_env() -> FastAPI:
    """The factory uvicorn's worker processes call: the configuration comes from the environment."""
    return create_app(ServeConfig.from_env())
