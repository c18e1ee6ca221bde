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
    NotTextError,
    PairsFileError,
    UnknownWordError,
)
from .results import Neighbour, QueryResult

__version__ = "0.1.0"

__all__ = [
    "Database",
    "Embeddings",
    "EmbeddingsError",
    "EmptyDatabaseError",
    "EmptyTextError",
    "FuzzyKVError",
    "IndexFallbackWarning",
    "InvalidOptionError",
    "Neighbour",
    "NotTextError",
    "PairsFileError",
    "QueryResult",
    "UnknownWordError",
    "load_embeddings",
]
