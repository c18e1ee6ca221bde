"""``/v1/map`` and ``/v1/map:place``: the keys drawn in two dimensions, for the page's map.

The map is a PCA of the keys' unit vectors (the directions cosine attention compares), over every
key or, beyond :data:`~fuzzykv.serve.models.MAX_MAP_KEYS`, an even sample of the store's rows, so
the same store draws the same map. ``/v1/map:place`` puts texts (a query, say) on a map whose
projection the caller holds, without recomputing it: about a millisecond, so the page can place each
query beside the query itself.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query

from ...database import Database
from ...errors import InvalidOptionError
from ..auth import require_token
from ..config import LIMITS
from ..models import MAX_MAP_KEYS, MapAnswer, MapPoint, PlaceAnswer, PlaceBody, Placed, Projection
from ..state import ServedDatabase

router = APIRouter(prefix="/v1", tags=["map"], dependencies=[Depends(require_token)])


def sample_rows(total: int, limit: int) -> np.ndarray:
    """Which of ``total`` rows the map draws: all, or ``limit`` evenly spaced."""
    if total <= limit:
        return np.arange(total)
    return np.unique(np.linspace(0, total - 1, limit).round().astype(np.int64))


def key_sample(db: Any, limit: int) -> tuple[int, list[tuple[str, str]], np.ndarray]:
    """How many pairs the store holds, the sampled (key, value) pairs and their keys' unit vectors.

    A :class:`~fuzzykv.database.Database` lends the directions its attention compares, read under its
    lock (no re-embedding); a sharded store's keys are embedded here.
    """
    if isinstance(db, Database):
        with db._synced.reading() as pairs:
            rows = sample_rows(len(pairs), limit)
            chosen = [(pairs.row_keys[row], pairs.row_values[row]) for row in rows.tolist()]
            return len(pairs), chosen, np.asarray(pairs.key_units[rows], dtype=np.float64)
    every = list(db.items())
    chosen = [every[row] for row in sample_rows(len(every), limit).tolist()]
    vectors = units(db, [key for key, _ in chosen]) if chosen else np.zeros((0, db.embeddings.dim))
    return len(every), chosen, vectors


def units(db: Any, texts: list[str]) -> np.ndarray:
    """The texts' unit vectors, embedded as a query embeds them (keys the store holds land where they attend from)."""
    vectors = np.asarray(db._embed_queries(texts).vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    units: np.ndarray = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return units


def principal_axes(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean, the two principal axes (2, dim) and their shares of the variance.

    From the (dim, dim) covariance's eigenvectors: at 5,000 x 50 that is far cheaper than an SVD of
    the sample. Each axis's sign is fixed (its largest loading positive), so the map does not flip.
    """
    dim = vectors.shape[1]
    mean = vectors.mean(axis=0) if len(vectors) else np.zeros(dim)
    centred = vectors - mean
    if len(vectors) < 2:
        return mean, np.eye(2, dim), np.zeros(2)
    variances, vectors_of = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(variances)[::-1][:2]
    axes = vectors_of[:, order].T
    signs = np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])
    axes *= np.where(signs == 0, 1.0, signs)[:, None]
    total = float(variances.clip(min=0).sum())
    shares = variances[order].clip(min=0) / total if total > 0 else np.zeros(2)
    if axes.shape[0] < 2:  # a one-dimensional store
        axes = np.vstack([axes, np.zeros((2 - axes.shape[0], dim))])
        shares = np.append(shares, np.zeros(2 - len(shares)))
    return mean, axes, shares


@router.get("/map", response_model=MapAnswer)
def draw_map(
    db: ServedDatabase,
    limit: Annotated[int, Query(ge=1, le=MAX_MAP_KEYS, description="The most keys to draw.")] = MAX_MAP_KEYS,
    text: Annotated[str | None, Query(min_length=1, max_length=LIMITS.max_text_chars,
                                      description="Also place this text (a query).")] = None,
) -> MapAnswer:
    """The keys in two dimensions (PCA of their unit vectors), each with its value, and the projection used."""
    total, chosen, vectors = key_sample(db, limit)
    mean, axes, shares = principal_axes(vectors)
    xy = (vectors - mean) @ axes.T
    placed = None
    if text is not None:
        x, y = (units(db, [text])[0] - mean) @ axes.T
        placed = Placed(text=text, x=float(x), y=float(y))
    return MapAnswer(
        total=total, sampled=len(chosen), explained=[float(s) for s in shares],
        projection=Projection(mean=[float(m) for m in mean], axes=[[float(a) for a in axis] for axis in axes]),
        points=[MapPoint(key=key, value=value, x=float(p[0]), y=float(p[1])) for (key, value), p in zip(chosen, xy)],
        query=placed,
    )


@router.post("/map:place", response_model=PlaceAnswer)
def place(body: PlaceBody, db: ServedDatabase) -> PlaceAnswer:
    """Where texts land on a map drawn by ``GET /v1/map`` (pass back its ``projection``)."""
    dim = db.embeddings.dim
    if len(body.projection.mean) != dim or [len(axis) for axis in body.projection.axes] != [dim, dim]:
        raise InvalidOptionError(
            f"the projection has mean of length {len(body.projection.mean)} and axes of lengths "
            f"{[len(axis) for axis in body.projection.axes]}; this store's vectors have {dim} dimensions: "
            "pass back the projection GET /v1/map answered"
        )
    mean = np.asarray(body.projection.mean, dtype=np.float64)
    axes = np.asarray(body.projection.axes, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        xy = (units(db, list(body.texts)) - mean) @ axes.T
    if not np.isfinite(xy).all():
        raise InvalidOptionError("the projection's numbers overflow; pass back the projection GET /v1/map answered")
    return PlaceAnswer(points=[Placed(text=text, x=float(p[0]), y=float(p[1])) for text, p in zip(body.texts, xy)])
