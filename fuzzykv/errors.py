"""The errors fuzzykv raises: one base class, each subclass also the builtin a caller would catch."""

from __future__ import annotations

from collections.abc import Sequence


class FuzzyKVError(Exception):
    """Base class of every error fuzzykv raises on purpose."""


class UnknownWordError(FuzzyKVError, LookupError):
    """Text whose words are missing from the embedding vocabulary."""

    def __init__(self, text: str, words: Sequence[str], vocabulary_size: int, every_word: bool = True) -> None:
        super().__init__(text, tuple(words), vocabulary_size, every_word)
        self.text = text
        self.words = tuple(words)
        self.vocabulary_size = vocabulary_size
        self.every_word = every_word

    def __str__(self) -> str:
        listed = ", ".join(repr(w) for w in self.words)
        where = f"the embedding vocabulary ({self.vocabulary_size:,} words)"
        if self.every_word:
            return f"{self.text!r} has no word in {where}: {listed}; check the spelling or use other words"
        return (
            f"{self.text!r} has words that are not in {where}: {listed}; every word of a stored key or "
            "value needs a vector: check the spelling or use other words"
        )


class EmptyTextError(FuzzyKVError, ValueError):
    """Text that is empty or only white space."""


class NotTextError(FuzzyKVError, TypeError):
    """A key, value or query that is not a string."""


class InvalidOptionError(FuzzyKVError, ValueError):
    """An option outside the values it accepts."""


class EmptyDatabaseError(FuzzyKVError, LookupError):
    """A query against a store that holds no pairs."""


class EmbeddingsError(FuzzyKVError, OSError):
    """Embeddings that could not be found, read or downloaded."""


class PairsFileError(FuzzyKVError, ValueError):
    """A pairs file (JSON object or two-column TSV) that could not be read."""


class StoreError(FuzzyKVError, OSError):
    """A store file that could not be opened, read or written."""


class NotAStoreError(StoreError):
    """A file that is not a fuzzykv store; it is left as it was."""


class StoreVersionError(StoreError):
    """A store written by a newer fuzzykv, in a format this one does not read."""


class ReadOnlyStoreError(StoreError, PermissionError):
    """A write to a store that is read-only (its file, or how it was opened)."""


class StoreFullError(StoreError):
    """The disk holding a store is full; the write did not happen."""


class StoreClosedError(FuzzyKVError, ValueError):
    """A call on a store after ``close()``."""


class StoreSettingsError(FuzzyKVError, ValueError):
    """Options or embeddings that disagree with the ones a store was made with."""


class IndexFallbackWarning(UserWarning):
    """The approximate vocabulary index could not be built or loaded; exact search answers instead."""


class IndexBuildingWarning(IndexFallbackWarning):
    """The vocabulary index is being built for the first time (in the background): this answer came
    from the other index, already built, or from exact search, as ``answered_by`` says."""

    def __init__(self, message: str, answered_by: str = "exact") -> None:
        super().__init__(message)
        self.answered_by = answered_by


class EncoderOutputError(FuzzyKVError, ValueError):
    """An encoder that returned non-finite vectors (NaN or infinity); nothing was stored."""


class NotAPairError(FuzzyKVError, ValueError):
    """An element of the pairs given that is not a (key, value) pair (a ValueError, as dict raises)."""


class CacheError(FuzzyKVError, OSError):
    """A cached file that is damaged or missing and could not be rebuilt (for example, a read-only cache)."""


class ShardUnavailableError(FuzzyKVError, RuntimeError):
    """A shard of a sharded store that died, is restarting, or lost its pairs: no answer is made from
    a partial set of shards. Retry when it is back."""
