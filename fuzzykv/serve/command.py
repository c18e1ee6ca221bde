"""``fuzzykv serve STORE``: run the HTTP service with uvicorn.

FastAPI, uvicorn and the store load inside the command, so ``fuzzykv --help`` stays quick. The
lead's ``cli.py`` registers it with ``main.add_command(serve)``.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import click

from ..errors import FuzzyKVError
from .config import DEFAULT_MAX_BODY, TOKEN_VARIABLE, ServeConfig, read_token


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any address


@click.command("serve")
@click.argument("store", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; other than loopback only with a token.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes, each with the store open (one writer at a time).")
@click.option("--read-only", is_flag=True, help="Refuse every write (403) and open the store read-only.")
@click.option("--token-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help=f"File holding the bearer token every /v1 request must send (else ${TOKEN_VARIABLE}).")
@click.option("--max-body", default=DEFAULT_MAX_BODY, show_default=True, type=click.IntRange(1, None),
              help="Largest request body in bytes (413 beyond).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="Log every request.")
@click.option("--shards", type=click.IntRange(1, 1024), default=None,
              help="Serve a sharded store: STORE is its folder, with this many shards on Ray (pip install 'fuzzykv[ray]').")
@click.option("--ray-address", default=None, help="With --shards: join this Ray cluster ('auto', or ray://host:port).")
@click.option("--embeddings", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The GloVe or word2vec vectors file the store was made with (default: GloVe 6B 50d).")
def serve(store: Path, host: str, port: int, workers: int, read_only: bool, token_file: Path | None, max_body: int,
          log_level: str, access_log: bool, shards: int | None, ray_address: str | None, embeddings: str | None) -> None:
    """Serve the store file STORE over HTTP: JSON in and out, OpenAPI at /openapi.json, docs at /docs.

    The store is created if it does not exist (unless --read-only). The server listens at once:
    /healthz answers while the store opens and warms up, /readyz says "warming" (503) until /v1
    answers, then "ready"; a store that cannot be opened makes /readyz say "failed" with the reason.
    """
    try:
        token = read_token(token_file) if token_file is not None else os.environ.get(TOKEN_VARIABLE) or None
    except (OSError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    if token is None and not is_loopback(host):
        raise click.ClickException(
            f"refusing to serve on {host}, which other machines can reach, without a token; "
            f"pass --token-file FILE or set {TOKEN_VARIABLE}, or bind to 127.0.0.1"
        )
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401

        if shards is not None:
            import ray  # noqa: F401
    except ImportError as error:
        extra = "ray" if error.name == "ray" else "serve"
        raise click.ClickException(
            f"{'--shards' if extra == 'ray' else 'the HTTP service'} needs the {extra} extra ({error.name} is not "
            f"installed): pip install 'fuzzykv[{extra}]'"
        ) from error
    if shards is not None and workers > 1:
        raise click.ClickException("--shards serves from one process (the shards are Ray actors); drop --workers")
    config = ServeConfig(store=store, read_only=read_only, token=token, max_body=max_body, shards=shards,
                         ray_address=ray_address, embeddings=embeddings)
    if shards is None:
        _check_store(config)
    import uvicorn

    from .logs import log_config

    # NOTE: each worker process (even a single one) builds its app from the environment, so the
    # configuration reaches uvicorn's spawned workers; the token travels there as $FUZZYKV_TOKEN.
    os.environ.update(config.to_env())
    uvicorn.run(
        "fuzzykv.serve.app:app_from_env", factory=True, host=host, port=port, workers=workers,
        log_level=log_level, access_log=access_log, log_config=log_config(), server_header=False,
    )


def _check_store(config: ServeConfig) -> None:
    """Check the store file here (not its embeddings, which may take a while to load on a cold cache:
    the workers load them after they listen), so a bad file is one clean line, not a traceback from
    every worker.
    """
    from ..store.sqlite import Store

    try:
        Store.open(config.store, read_only=config.read_only).close()
    except FuzzyKVError as error:
        raise click.ClickException(str(error)) from error
