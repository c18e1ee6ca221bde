"""``/healthz`` (no token needed) and ``/v1/info``: what the service holds and what it allows."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends

from ... import __version__
from ..auth import require_token
from ..models import Health, Info
from ..state import Config, Store

health = APIRouter(tags=["service"])
router = APIRouter(prefix="/v1", tags=["service"], dependencies=[Depends(require_token)])


@health.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Whether the process answers; needs no token (for load balancers and probes)."""
    return Health(status="ok")


@router.get("/info", response_model=Info)
def info(db: Store, served: Config) -> Info:
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
