"""The errors fuzzykv raises: one base class, each subclass also the builtin a caller would catch.

Each class states its HTTP form once: ``http_status`` (the service answers it) and ``error_type``
(the name in the body ``{"error": {"type": ..., "message": ...}}``; the class name unless stated).
The service's error handler (:mod:`fuzzykv.serve.errors`) and the remote client's mapping back
(:func:`error_class`) both read these, so adding an error is one edit here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

#: error_type -> class, filled as classes are defined (see FuzzyKVError.__init_subclass__).
_BY_TYPE: dict[str, type[FuzzyKVError]] = {}


class FuzzyKVError(Exception):
    """Base class of every error fuzzykv raises on purpose."""

    #: The HTTP status the service answers this error with (inherited unless a class states its own).
    http_status: ClassVar[int] = 500
    #: The error's name in the service's error body; the class name unless a class states another.
    error_type: ClassVar[str] = "FuzzyKVError"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "error_type" not in cls.__dict__:
            cls.error_type = cls.__name__
        _BY_TYPE.setdefault(cls.error_type, cls)

    def http_fields(self) -> dict[str, Any]:
        """Fields beyond ``type`` and ``message`` that the service sends, enough to rebuild the error."""
        return {}

    @classmethod
    def from_http(cls, message: str, fields: Mapping[str, Any]) -> FuzzyKVError:
        """The error a client raises for the service's body (``message`` plus :meth:`http_fields`)."""
        return cls(message)


def error_class(error_type: str) -> type[FuzzyKVError] | None:
    """The class the service names ``error_type``, if fuzzykv defines one."""
    return _BY_TYPE.get(error_type)


def http_statuses() -> dict[int, list[str]]:
    """Each HTTP status the service answers with an error class, with the classes' type names."""
    out: dict[int, list[str]] = {}
    for name, kind in _BY_TYPE.items():
        out.setdefault(kind.http_status, []).append(name)
    return dict(sorted(out.items()))


_BY_TYPE[FuzzyKVError.error_type] = FuzzyKVError


class UnknownWordError(FuzzyKVError, LookupError):
    """Text whose words are missing from the embedding vocabulary."""

    http_status = 400

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

    def http_fields(self) -> dict[str, Any]:
        """The text, its unknown words, the vocabulary size and ``every_word``, so that a client rebuilds this error."""
        return {"text": self.text, "words": list(self.words), "vocabulary_size": self.vocabulary_size,
                "every_word": self.every_word}

    @classmethod
    def from_http(cls, message: str, fields: Mapping[str, Any]) -> FuzzyKVError:
        """The error the service sent; an :class:`InvalidOptionError` with its message if the body lacks the words."""
        if not isinstance(fields.get("words"), list):
            return InvalidOptionError(message)
        return cls(str(fields.get("text", "")), [str(w) for w in fields["words"]], int(fields.get("vocabulary_size", 0)),
                   bool(fields.get("every_word", True)))


class EmptyTextError(FuzzyKVError, ValueError):
    """Text that is empty or only white space."""

    http_status = 400


class NotTextError(FuzzyKVError, TypeError):
    """A key, value or query that is not a string."""

    http_status = 400


class InvalidOptionError(FuzzyKVError, ValueError):
    """An option outside the values it accepts."""

    http_status = 400


class EmptyDatabaseError(FuzzyKVError, LookupError):
    """A query against a store that holds no pairs."""

    http_status = 400


class EmbeddingsError(FuzzyKVError, OSError):
    """Embeddings that could not be found, read or downloaded."""


class PairsFileError(FuzzyKVError, ValueError):
    """A pairs file (JSON object or two-column TSV) that could not be read."""

    http_status = 400


class StoreError(FuzzyKVError, OSError):
    """A store file that could not be opened, read or written."""


class StorePathError(StoreError, ValueError):
    """A store path that no file can have (a NUL byte)."""

    http_status = 400


class NotAStoreError(StoreError):
    """A file that is not a fuzzykv store; it is left as it was."""


class StoreVersionError(StoreError):
    """A store written by a newer fuzzykv, in a format this one does not read."""


class ReadOnlyStoreError(StoreError, PermissionError):
    """A write to a store that is read-only (its file, or how it was opened)."""

    http_status = 403


class StoreFullError(StoreError):
    """The disk holding a store is full; the write did not happen."""

    http_status = 507


class StoreClosedError(FuzzyKVError, ValueError):
    """A call on a store after ``close()``."""

    http_status = 503


class StoreSettingsError(FuzzyKVError, ValueError):
    """Options or embeddings that disagree with the ones a store was made with."""

    http_status = 409


class IndexFallbackWarning(UserWarning):
    """The approximate vocabulary index could not be built or loaded; exact search answers instead."""


class IndexBuildingWarning(IndexFallbackWarning):
    """The vocabulary index is being built for the first time (in the background): this answer came
    from the other index, already built, or from exact search, as ``answered_by`` says.
    """

    def __init__(self, message: str, answered_by: str = "exact") -> None:
        super().__init__(message)
        self.answered_by = answered_by


class EncoderOutputError(FuzzyKVError, ValueError):
    """An encoder that returned what is not a usable vector (NaN, infinity, too large, not numbers); nothing was stored."""

    http_status = 400


class NotAPairError(FuzzyKVError, ValueError):
    """An element of the pairs given that is not a (key, value) pair (a ValueError, as dict raises)."""

    http_status = 400


class CacheError(FuzzyKVError, OSError):
    """A cached file that is damaged or missing and could not be rebuilt (for example, a read-only cache)."""


class ShardUnavailableError(FuzzyKVError, RuntimeError):
    """A shard of a sharded store that died, is restarting, or lost its pairs: no answer is made from
    a partial set of shards. Retry when it is back.
    """

    http_status = 503


# -- errors of the HTTP service and its client (fuzzykv.serve, fuzzykv.client) ------------------


class MissingKeyError(FuzzyKVError, KeyError):
    """No pair has this exact key (404); the remote client raises a plain ``KeyError(key)``, as a dict."""

    http_status = 404
    error_type = "KeyError"

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"no pair has the key {self.key!r}"

    def http_fields(self) -> dict[str, Any]:
        """The key, so that a client raises ``KeyError(key)`` as a dict would."""
        return {"key": self.key}

    @classmethod
    def from_http(cls, message: str, fields: Mapping[str, Any]) -> FuzzyKVError:
        """The error the service sent, for the key it names (the message, if it names none)."""
        return cls(str(fields.get("key", message)))


class RequestSchemaError(InvalidOptionError):
    """A request the service's schema refuses (a wrong type, a missing or unknown field, over a limit): 422."""

    http_status = 422
    error_type = "ValidationError"


class AuthenticationError(FuzzyKVError, PermissionError):
    """The service needs a token and the request had none, or a wrong one (401)."""

    http_status = 401


class RequestTooLargeError(FuzzyKVError, ValueError):
    """A request body over the service's ``--max-body`` (413)."""

    http_status = 413


class ServiceUnavailableError(FuzzyKVError, ConnectionError):
    """The service could not be reached, did not answer in time, or is still warming up (503)."""

    http_status = 503
