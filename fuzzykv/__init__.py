"""fuzzykv: a fuzzy semantic key-value store over word vectors."""

from .database import Database
from .embeddings import Embeddings, load_embeddings
from .errors import (
    EmbeddingsError,
    EmptyDatabaseError,
    EmptyTextError,
    FuzzyKVError,
    IndexFallbackWarning,
    InvalidOptionError,
    NotAStoreError,
    NotTextError,
    PairsFileError,
    ReadOnlyStoreError,
    StoreClosedError,
    StoreError,
    StoreFullError,
    StoreSettingsError,
    StoreVersionError,
    UnknownWordError,
)
from .results import Classification, Neighbour, QueryResult

__version__ = "0.1.0"

__all__ = [
    "Classification",
    "Database",
    "Embeddings",
    "EmbeddingsError",
    "EmptyDatabaseError",
    "EmptyTextError",
    "FuzzyKVError",
    "IndexFallbackWarning",
    "InvalidOptionError",
    "Neighbour",
    "NotAStoreError",
    "NotTextError",
    "PairsFileError",
    "QueryResult",
    "ReadOnlyStoreError",
    "StoreClosedError",
    "StoreError",
    "StoreFullError",
    "StoreSettingsError",
    "StoreVersionError",
    "UnknownWordError",
    "load_embeddings",
]
