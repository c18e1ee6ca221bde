"""Ray's failures -> fuzzykv's: a dead or restarting shard is a typed error, a shard's own error
reaches the caller as the same fuzzykv error class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from ..errors import ShardUnavailableError

__all__ = ["ShardUnavailableError", "gather"]


def gather(refs: Sequence[Any], actors: Sequence[Any], timeout: float | None) -> list[Any]:
    """Every shard's answer, with one ``ray.get`` over the list.

    :raises ShardUnavailableError: a shard actor died, is restarting past ``timeout`` seconds, or
        was restarted and lost its in-memory pairs.
    :raises FuzzyKVError: an error a shard raised (``UnknownWordError``, ``StoreSettingsError``, ...), re-raised
        as its own class, as are the few others a shard may raise.
    """
    try:
        return list(ray.get(list(refs), timeout=timeout))
    except RayTaskError as error:
        cause = getattr(error, "cause", None)
        if isinstance(cause, Exception):
            raise cause from error  # the shard's own error class (UnknownWordError, StoreSettingsError, ...)
        raise
    except RayActorError as error:  # also ActorDiedError and ActorUnavailableError
        raise ShardUnavailableError(
            f"{_which(error, actors)} is dead or restarting ({type(error).__name__}); nothing was answered from the "
            "other shards alone. Retry in a moment (a restarted shard reopens its store file); a write that raised this "
            "may or may not have been applied, and writing it again is safe"
        ) from error
    except GetTimeoutError as error:
        raise ShardUnavailableError(
            f"a shard did not answer within {timeout} s (restarting, or overloaded); nothing was answered from the "
            "other shards alone. Retry, or pass a longer timeout= to ShardedDatabase"
        ) from error


def _which(error: RayActorError, actors: Sequence[Any]) -> str:
    """'shard 2 of 4' when the error names one of ``actors``."""
    dead = getattr(error, "actor_id", None)
    for number, actor in enumerate(actors):
        if dead is not None and actor._actor_id.hex() == dead:
            return f"shard {number} of {len(actors)}"
    return f"a shard (of {len(actors)})"
