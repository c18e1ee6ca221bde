"""What a service is started with: its store, its limits and its token, declared once.

The ``serve`` command builds a :class:`ServeConfig`; with several uvicorn workers each worker
process rebuilds it from the environment (:meth:`ServeConfig.to_env`, :meth:`ServeConfig.from_env`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: The environment variable a worker process reads its configuration from (the token excepted).
CONFIG_VARIABLE = "FUZZYKV_SERVE_CONFIG"
#: The environment variable that holds the bearer token (``--token-file`` is the other way).
TOKEN_VARIABLE = "FUZZYKV_TOKEN"
DEFAULT_MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; over a limit is a 422 (413 for the body). Shown by ``/v1/info``."""

    max_text_chars: int = 1_000
    max_k: int = 100
    max_batch: int = 1_000
    max_page: int = 1_000
    max_body_bytes: int = DEFAULT_MAX_BODY


#: The limits the request models check (``--max-body`` changes only ``max_body_bytes``).
LIMITS = Limits()


@dataclass(frozen=True)
class ServeConfig:
    """One service: the store file it opens (once per worker process) and how it guards it.

    :ivar store: the store file (created if missing, unless ``read_only``).
    :ivar read_only: refuse every write with 403, and open the store read-only.
    :ivar token: when set, every ``/v1`` request needs ``Authorization: Bearer <token>``.
    :ivar max_body: the largest request body accepted, in bytes (413 beyond).
    :ivar embeddings: the vectors file the store was made with (``None``: the default GloVe).
    """

    store: Path
    read_only: bool = False
    token: str | None = field(default=None, repr=False)
    max_body: int = DEFAULT_MAX_BODY
    shards: int | None = None
    ray_address: str | None = None
    embeddings: str | None = None

    def open_store(self) -> Any:
        """The store this configuration names: a store file, or (with ``shards``) a sharded store's folder on Ray."""
        if self.shards is None:
            from ..database import Database

            return Database.open(self.store, read_only=self.read_only, embeddings=self.embeddings)
        if self.read_only:
            raise ValueError("--read-only is not available with --shards yet; serve the shards without it")
        from ..distributed import ShardedDatabase

        return ShardedDatabase.open(self.store, shards=self.shards, address=self.ray_address, embeddings=self.embeddings)

    @property
    def limits(self) -> Limits:
        """The limits the service enforces and ``/v1/info`` reports: the defaults, with this ``max_body``."""
        return Limits(max_body_bytes=self.max_body) if self.max_body != LIMITS.max_body_bytes else LIMITS

    def to_env(self) -> dict[str, str]:
        """Environment variables that :meth:`from_env` reads back in a worker process."""
        settings = {key: str(value) if isinstance(value, Path) else value for key, value in asdict(self).items()}
        del settings["token"]
        env = {CONFIG_VARIABLE: json.dumps(settings)}
        if self.token is not None:
            env[TOKEN_VARIABLE] = self.token
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ServeConfig:
        """The configuration the ``serve`` command left in the environment for its workers."""
        if CONFIG_VARIABLE not in environ:
            raise RuntimeError(
                f"{CONFIG_VARIABLE} is not set: start the service with `fuzzykv serve STORE`, "
                "or build the app yourself with fuzzykv.serve.app.create_app(ServeConfig(...))"
            )
        settings = json.loads(environ[CONFIG_VARIABLE])
        return cls(
            store=Path(settings["store"]),
            read_only=bool(settings["read_only"]),
            token=environ.get(TOKEN_VARIABLE) or None,
            max_body=int(settings["max_body"]),
            shards=settings.get("shards"),
            ray_address=settings.get("ray_address"),
            embeddings=settings.get("embeddings"),
        )


def read_token(path: Path) -> str:
    """The token in a file (surrounding white space dropped). ``ValueError`` if it is empty."""
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise ValueError(f"the token file {str(path)!r} is empty; put a long random token in it")
    return token
