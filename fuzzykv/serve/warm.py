"""Warm the cache for a store in a child process: ``python -m fuzzykv.serve.warm CONFIG_JSON``.

On a cold cache, opening a store converts the GloVe vectors and its first query builds the
vocabulary index: seconds of Python and numpy work that, in a thread of the serving process,
would hold the GIL and slow every request, ``/healthz`` too. Done here, in another process, it
leaves the server's event loop free; the server then opens the store from the warm cache.
Whatever fails here fails again, with its clear error, when the server opens the store itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def warm(store: Path, embeddings: str | None) -> None:
    """Open ``store`` read-only and answer one query, which fills the cache (vectors, indexes)."""
    from ..database import Database

    with Database.open(store, read_only=True, embeddings=embeddings) as db:
        first = next(iter(db), None)
        if first is not None:
            db.search(first, k=1, attention_k=1)


if __name__ == "__main__":
    settings = json.loads(sys.argv[1])
    try:
        warm(Path(settings["store"]), settings.get("embeddings"))
    except Exception as error:  # the server's own open reports it
        print(f"fuzzykv: warming the cache failed ({type(error).__name__}: {error})", file=sys.stderr)
        sys.exit(1)
