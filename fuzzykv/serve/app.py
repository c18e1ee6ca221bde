"""The app factory: ``create_app(config)`` wires the routers, the token, the body limit and the errors.

Each worker process opens the store once and closes it at shutdown, so SIGTERM finishes the
requests in flight and then closes the store. Opening (and warming: the first query builds the
vocabulary index, 30-40 s on a cold cache) runs in a thread after the server listens: ``/healthz``
answers at once, ``/readyz`` says ``warming`` until the store is ready, and ``/v1`` answers 503
once a request has waited ``WARM_WAIT`` seconds for it. Endpoints are plain ``def``: FastAPI runs
them in its thread pool, never on the event loop, and ``Database`` is thread-safe.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..errors import FuzzyKVError, http_statuses
from . import errors
from .auth import TokenCheck
from .body import BodyLimit
from .config import ServeConfig
from .models import ErrorBody
from .routers import keymap, neighbours, page, pairs, query, service

if TYPE_CHECKING:
    from ..database import Database

log = logging.getLogger("fuzzykv.serve")
#: Seconds a /v1 request that comes during the warm-up waits for it before answering 503.
WARM_WAIT = 60.0

#: What each error status of a ``/v1`` route means; the statuses come from the error classes.
_DESCRIPTIONS = {
    400: "Bad text or options", 401: "Missing or wrong token", 403: "A write to a read-only service or store",
    404: "No such key, or no such endpoint", 405: "The endpoint does not take this method", 409: "Settings conflict",
    413: "Body over the size limit", 422: "Schema violation", 500: "Internal error",
    503: "Warming up (see /readyz), or a shard or the store is unavailable; retry after Retry-After seconds",
    507: "Disk full",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": _DESCRIPTIONS.get(status, "Error")}
    for status in sorted({*http_statuses(), 404, 405, 500})
}


def create_app(config: ServeConfig, *, database: Database | None = None) -> FastAPI:
    """The service for one store.

    :param config: the store file, read-only mode, token and body limit.
    :param database: an open store to serve instead of opening ``config.store`` (tests, embedding
        the service in your own process); the caller keeps it and closes it. It is ready at once.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if database is not None:
            yield
            return
        warming = threading.Thread(target=_open_and_warm, args=(app, config), name="fuzzykv-warm", daemon=True)
        warming.start()
        try:
            yield
        finally:
            await run_in_threadpool(warming.join)
            opened = getattr(app.state, "database", None)
            if opened is not None:
                await run_in_threadpool(opened.close)

    app = FastAPI(
        title="fuzzykv",
        version=__version__,
        summary="A fuzzy semantic key-value store over word vectors.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from the page router, with their assets from the package
        redoc_url=None,
    )
    app.state.config = config
    app.state.warm_wait = WARM_WAIT
    app.state.readiness = ("warming", "opening the store")
    if database is not None:
        app.state.database = database
        app.state.readiness = ("ready", None)
    app.include_router(service.health)
    for router in (service.router, pairs.router, query.router, neighbours.router, keymap.router):
        app.include_router(router, responses=ERROR_RESPONSES)
    app.include_router(page.router)
    errors.install(app)
    app.add_middleware(BodyLimit, max_body=config.max_body)
    app.add_middleware(TokenCheck, token=config.token)  # outermost: 401 before the body is read
    return app


def _open_and_warm(app: FastAPI, config: ServeConfig) -> None:
    """Open the store and answer one query (which builds the vocabulary index), off the event loop:
    the cache is filled first by a child process (:mod:`fuzzykv.serve.warm`), whose work holds no
    lock of this one.
    """
    try:
        if config.shards is None and config.store.exists():
            app.state.readiness = ("warming", "filling the cache (vectors, indexes)")
            settings = json.dumps({"store": str(config.store), "embeddings": config.embeddings})
            subprocess.run([sys.executable, "-m", "fuzzykv.serve.warm", settings], check=False, timeout=3600)
        app.state.readiness = ("warming", "opening the store")
        db = config.open_store()
        app.state.readiness = ("warming", "building the vocabulary index")
        app.state.database = db
        first = next(iter(db), None)
        if first is not None:
            try:
                db.search(first, k=1, attention_k=1)
            except Exception:  # a key that cannot be queried (e.g. an encoder's text) only skips the warm-up
                log.warning("warming up with the query %r failed; the first query builds the index", first, exc_info=True)
        app.state.readiness = ("ready", None)
        log.info("the store %s is open and warm", config.store)
    except FuzzyKVError as error:  # a clear message: one line, no traceback
        message = str(error).replace("pass the same embeddings=...", "start fuzzykv serve with the same --embeddings FILE")
        log.error("could not open the store %s: %s", config.store, message)
        app.state.readiness = ("failed", f"could not open the store: {type(error).__name__}: {message}")
    except Exception as error:
        log.error("could not open the store %s", config.store, exc_info=error)
        app.state.readiness = ("failed", f"could not open the store: {type(error).__name__}: {error}")


def app_from_env() -> FastAPI:
    """The factory uvicorn's worker processes call: the configuration comes from the environment."""
    return create_app(ServeConfig.from_env())
