"""fuzzykv: a fuzzy semantic key-value store over word vectors.

The names below load on first use (PEP 562), so ``import fuzzykv.errors`` or ``fuzzykv --help``
does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    CacheError,
    EmbeddingsError,
    EmptyDatabaseError,
    EmptyTextError,
    EncoderOutputError,
    FuzzyKVError,
    IndexFallbackWarning,
    InvalidOptionError,
    NotAStoreError,
    NotTextError,
    PairsFileError,
    ReadOnlyStoreError,
    ShardUnavailableError,
    StoreClosedError,
    StoreError,
    StoreFullError,
    StoreSettingsError,
    StoreVersionError,
    UnknownWordError,
)
from .settings import Settings

if TYPE_CHECKING:
    from .database import Database
    from .embed.loading import load_embeddings
    from .embed.vectors import Correction, Embeddings
    from .results import Classification, Neighbour, QueryResult

__version__ = "0.2.0"

_LAZY = {
    "Database": ".database",
    "Embeddings": ".embed.vectors",
    "Correction": ".embed.vectors",
    "load_embeddings": ".embed.loading",
    "Classification": ".results",
    "Neighbour": ".results",
    "QueryResult": ".results",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'fuzzykv' has no attribute {name!r}")


__all__ = [
    "CacheError",
    "Classification",
    "Correction",
    "Database",
    "Embeddings",
    "EmbeddingsError",
    "EmptyDatabaseError",
    "EmptyTextError",
    "EncoderOutputError",
    "FuzzyKVError",
    "IndexFallbackWarning",
    "InvalidOptionError",
    "Neighbour",
    "NotAStoreError",
    "NotTextError",
    "PairsFileError",
    "QueryResult",
    "ReadOnlyStoreError",
    "Settings",
    "ShardUnavailableError",
    "StoreClosedError",
    "StoreError",
    "StoreFullError",
    "StoreSettingsError",
    "StoreVersionError",
    "UnknownWordError",
    "load_embeddings",
]
