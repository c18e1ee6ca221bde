"""One shard: a Ray actor holding one :class:`~fuzzykv.Database` over its part of the keys.

A file-backed shard reopens its store file when Ray restarts it, so every write it acknowledged
is still there. An in-memory shard that Ray restarts has lost its pairs: it then refuses every
call (:class:`ShardUnavailableError`) rather than answer from part of them.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import ray

from ..database import Database
from ..embed.loading import EmbeddingsSpec
from ..errors import ShardUnavailableError
from ..results import Neighbour
from ..search.pipeline import Part
from ..settings import Settings

Stamp = tuple[str, int]  # (this incarnation of the actor, its write count): changes whenever its keys may have


class Shard:
    """A shard's pairs and the calls the driver makes on them; each call serves a whole batch.

    :param path: the shard's store file, or ``None`` for a shard in memory (it starts empty).
    :param settings: the store's settings (in memory), or ``None`` to take the file's.
    :param options: options given explicitly when opening a file (checked against the file's).
    """

    def __init__(self, number: int, path: str | None, embeddings: EmbeddingsSpec | None,
                 settings: Settings | None, options: Mapping[str, Any]) -> None:
        self.number = number
        self.stamp: Stamp = (uuid.uuid4().hex, 0)
        self.words: tuple[Stamp, frozenset[str]] | None = None
        with warnings.catch_warnings():  # Ray 2.60 warns about its own deprecated call inside this property
            warnings.simplefilter("ignore", DeprecationWarning)
            restarted = ray.get_runtime_context().was_current_actor_reconstructed
        self.lost = path is None and restarted
        self.failure: Exception | None = None  # raised by every call, so the driver sees the real error class
        self.db: Database | None = None
        try:
            if path is None:
                self.db = Database({}, settings=settings, embeddings=embeddings)
            else:
                self.db = Database.open(path, settings=settings, embeddings=embeddings, **options)
        except Exception as error:  # noqa: BLE001 - kept and raised by the next call, with its own class
            self.failure = error

    def _db(self) -> Database:
        if self.failure is not None:
            raise self.failure
        if self.lost:
            raise ShardUnavailableError(
                f"shard {self.number} kept its pairs in memory and Ray restarted its actor after a crash, so they are "
                "lost and it will not answer from part of the store; build the ShardedDatabase again, or use "
                "ShardedDatabase.open(folder, ...) for shards that survive restarts"
            )
        assert self.db is not None
        return self.db

    def _wrote(self) -> None:
        self.stamp = (self.stamp[0], self.stamp[1] + 1)

    # -- state -------------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """Settings and embeddings identity (the driver checks every shard agrees), and the process id."""
        db = self._db()
        return {"settings": db.settings, "embeddings": db.embeddings.name,
                "fingerprint": getattr(db.embeddings, "fingerprint", ""), "pid": os.getpid()}

    def key_words(self, known: Stamp | None) -> tuple[Stamp, frozenset[str] | None]:
        """The lower-cased words of this shard's keys (spelling correction prefers them); ``None``
        when the driver's copy, made at ``known``, is still current.
        """
        db = self._db()
        if known == self.stamp:
            return self.stamp, None
        if self.words is None or self.words[0] != self.stamp:
            self.words = (self.stamp, frozenset(word.lower() for key in db for word in key.split()))
        return self.stamp, self.words[1]

    def distinct_values(self, known: Stamp | None) -> tuple[Stamp, tuple[list[str], np.ndarray] | None]:
        """This shard's distinct values and their directions (``answers="values"`` decodes against
        every shard's); ``None`` when the driver's copy, made at ``known``, is still current.
        """
        db = self._db()
        return (self.stamp, None) if known == self.stamp else (self.stamp, db._distinct_values())

    def close(self) -> None:
        """Close this shard's store (a large file-backed one may write its pairs file first); the driver kills the actor next."""
        if self.db is not None:
            self.db.close()

    # -- reads (idempotent: Ray retries them on a restarted actor) -----------------------------------

    def part(self, vectors: np.ndarray, top: int) -> Part | None:
        """This shard's attention for a batch of query vectors; ``None`` while it holds no pairs."""
        db = self._db()
        # NOTE: arrays from Ray's object store are read-only, and torch warns on those: copy (b x dim only)
        return db._parts(np.array(vectors, dtype=np.float32), top)[0] if len(db) else None

    def nearest(self, vector: np.ndarray, k: int) -> list[Neighbour]:
        """The ``k`` keys of this shard nearest to ``vector`` by cosine, nearest first."""
        return self._db()._nearest_to(np.array(vector, dtype=np.float32), k)

    def get(self, key: str) -> tuple[bool, str]:
        """``(True, value)`` for a key this shard holds, else ``(False, "")``: one call, where ``in`` then ``[]`` would be two."""
        db = self._db()
        return (True, db[key]) if key in db else (False, "")

    def contains(self, key: str) -> bool:
        """Whether this shard holds exactly ``key``."""
        return key in self._db()

    def length(self) -> int:
        """How many pairs this shard holds."""
        return len(self._db())

    def keys(self) -> list[str]:
        """This shard's keys, in its insertion order."""
        return list(self._db())

    def items(self) -> list[tuple[str, str]]:
        """This shard's pairs, in its insertion order, as of one moment."""
        return list(self._db().items())

    # -- writes (not retried by Ray: the driver says a failed write may or may not have landed) ------

    @ray.method(max_task_retries=0)
    def update(self, pairs: dict[str, str]) -> None:
        """One transaction on this shard: durable when it returns, for a file-backed shard."""
        self._db().update(pairs)
        self._wrote()

    @ray.method(max_task_retries=0)
    def delete(self, key: str) -> bool:
        """``False`` when the key is not here."""
        db = self._db()
        try:
            del db[key]
        except KeyError:
            return False
        self._wrote()
        return True

    @ray.method(max_task_retries=0)
    def clear(self) -> None:
        """Delete every pair of this shard."""
        self._db().clear()
        self._wrote()


ShardActor: Any = ray.remote(Shard)
