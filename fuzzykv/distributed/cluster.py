"""Joining Ray, and checking that every shard actor agrees on how the store answers."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import ray

from ..embed.vectors import Embeddings
from ..errors import StoreSettingsError
from ..settings import Settings


def connect(address: str | None) -> dict[str, str]:
    """Use the Ray running in this process, else start a local one (``address=None``) or join
    ``address`` (``"auto"``, ``"ray://host:port"``). Returns the environment shard actors need:
    the cache folder, so they map the same converted vectors as this process.
    """
    env = {"FUZZYKV_CACHE": os.environ["FUZZYKV_CACHE"]} if "FUZZYKV_CACHE" in os.environ else {}
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False if address is None else None,
                 runtime_env={"env_vars": env}, log_to_driver=False)
    return env


def agreed(described: Sequence[dict[str, Any]], embeddings: Embeddings) -> Settings:
    """The settings every shard reports, once they and the driver's embeddings all agree.

    :raises StoreSettingsError: naming the first shard that disagrees with shard 0.
    """
    first = described[0]
    for number, found in enumerate(described[1:], start=1):
        if found["settings"] != first["settings"] or found["fingerprint"] != first["fingerprint"]:
            raise StoreSettingsError(
                f"shard {number} has settings {found['settings'].saved()} and embeddings {found['embeddings']!r}, but "
                f"shard 0 has {first['settings'].saved()} and {first['embeddings']!r}; every shard must agree "
                "(open each shard file alone to see which one was changed)"
            )
    if first["fingerprint"] != embeddings.fingerprint:
        raise StoreSettingsError(
            f"the shard actors loaded the embeddings {first['embeddings']!r} and this process {embeddings.name!r}; "
            "pass embeddings= that both can load (a path every machine sees)"
        )
    settings: Settings = first["settings"]
    return settings
