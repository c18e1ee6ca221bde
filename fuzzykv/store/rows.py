"""Pairs as the store file holds them: rows read back with every column checked, and text checked
before it is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NotTextError, StoreError
from .schema import VECTOR


@dataclass(frozen=True)
class Rows:
    """Pairs read from the file, with their vectors as (n, dim) float32 matrices."""

    keys: list[str]
    values: list[str]
    key_vectors: np.ndarray
    value_vectors: np.ndarray
    #: Each pair's rowid in the file (its place in insertion order), when read from a file.
    rowids: list[int] | None = field(default=None)


@dataclass(frozen=True)
class Changes:
    """What other writers did since a position: everything (``reload``) or the pairs set and deleted."""

    position: tuple[int, int]  # (epoch, seq) after these changes
    reload: bool
    rows: Rows
    deleted: list[str]



def decode(found: list[tuple[Any, ...]], dim: int, path: Path) -> Rows:
    """Rows selected as (rowid, key, value, key_vector, value_vector) -> :class:`Rows` in rowid
    (insertion) order, every key and value checked to be text and every vector finite float32 of
    ``dim`` numbers.

    :raises StoreError: a row that is not what fuzzykv writes: the store is damaged.
    """
    found.sort(key=lambda row: row[0])
    rowids, keys, values, key_blobs, value_blobs = (list(column) for column in zip(*found)) if found else ([], [], [], [], [])
    width = dim * VECTOR.itemsize
    # Checked column by column in C (a million rows in tens of milliseconds); the loop finds the culprit.
    if not ({type(t) for t in keys} | {type(t) for t in values}) <= {str}:
        row = next(r for r in found if not (isinstance(r[1], str) and isinstance(r[2], str)))
        raise StoreError(
            f"{str(path)!r} holds a key or value that is not text ({row[1]!r}); the store is damaged: "
            "restore it from a backup or export what is readable"
        )
    if not ({type(b) for b in key_blobs} | {type(b) for b in value_blobs}) <= {bytes} or \
            not set(map(len, key_blobs)) | set(map(len, value_blobs)) <= {width}:
        row = next(r for r in found if not (isinstance(r[3], bytes) and isinstance(r[4], bytes)
                                            and len(r[3]) == len(r[4]) == width))
        raise StoreError(
            f"{str(path)!r} holds vectors that are not {dim}-dimensional float32 (key {row[1]!r}); "
            "the store is damaged: restore it from a backup"
        )
    key_vectors = np.frombuffer(b"".join(key_blobs), dtype=VECTOR).reshape(len(found), dim)
    value_vectors = np.frombuffer(b"".join(value_blobs), dtype=VECTOR).reshape(len(found), dim)
    for name, vectors in (("key", key_vectors), ("value", value_vectors)):
        finite = np.isfinite(vectors).all(axis=1)
        if not finite.all():
            bad = [keys[i] for i in np.flatnonzero(~finite)[:3].tolist()]
            raise StoreError(
                f"{str(path)!r} holds {int((~finite).sum()):,} {name} vectors that are not finite (NaN or "
                f"infinity; keys {bad!r}): the store is damaged; restore it from a backup, or set those keys again"
            )
    return Rows(keys, values, key_vectors, value_vectors, rowids)  # read-only views of the joined bytes


def as_bytes(vector: np.ndarray) -> bytes:
    """A vector as the store keeps it: float32 bytes, contiguous."""
    return np.ascontiguousarray(vector, dtype=VECTOR).tobytes()


def check_text(text: str) -> None:
    """Refuse, before writing, text that is not valid Unicode (lone surrogates cannot be stored as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise NotTextError(
            f"{text!r} holds a lone surrogate ({error.object[error.start:error.end]!r} at {error.start}), which is "
            "not text a store can keep; decode your input with errors='replace' or fix it"
        ) from error
