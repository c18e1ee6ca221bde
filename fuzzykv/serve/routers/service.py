"""``/healthz`` and ``/readyz`` (no token needed), and ``/v1/info``: what the service holds and what it allows."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ... import __version__
from ..auth import require_token
from ..models import Health, Info, Readiness
from ..state import Config, ServedDatabase

health = APIRouter(tags=["service"])
router = APIRouter(prefix="/v1", tags=["service"], dependencies=[Depends(require_token)])


@health.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Whether the process answers; needs no token (for load balancers and probes)."""
    return Health(status="ok")


@health.get("/readyz", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "Warming up, or the store could not be opened."}})
async def readyz(request: Request) -> JSONResponse:
    """Whether ``/v1`` answers: 200 ``ready``, or 503 ``warming`` (the store opening, its indexes
    building) or ``failed``; needs no token (for readiness probes).
    """
    status, message = request.app.state.readiness
    body = Readiness(status=status, message=message)
    return JSONResponse(body.model_dump(), status_code=200 if status == "ready" else 503)


@router.get("/info", response_model=Info)
def info(db: ServedDatabase, served: Config) -> Info:
    """How many pairs, the vector dimension, the store's settings, and this service's limits."""
    settings: Any = getattr(db, "settings", None)
    return Info(
        pairs=len(db),
        dimension=db.embeddings.dim,
        settings=settings.as_dict() if settings is not None else {},
        read_only=served.read_only,
        version=__version__,
        limits=asdict(served.limits),
    )
