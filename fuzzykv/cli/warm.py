"""Every cache fuzzykv derives, built ahead of time: for images, CI and a first query that does not wait.

``fuzzykv warm`` calls :func:`warm`. Each cache is built as a first query would build it (the same
files, checked the same way), so a process started afterwards maps them at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..cache import CacheLayout
from ..embed.loading import load_embeddings
from ..search.decode import IndexSettings, vocabulary_index
from ..settings import IndexKind, Settings


@dataclass(frozen=True)
class Warmed:
    """One cache, ready: what it is, where it lives, and the seconds it took (build or check)."""

    name: str
    path: Path
    seconds: float


def warm(settings: Settings | None = None, indexes: Sequence[IndexKind] | None = None,
         report: Callable[[Warmed], None] | None = None) -> list[Warmed]:
    """Build (or check) the default vectors, the spelling index and the vocabulary indexes.

    :param settings: the stores' settings (vocabulary size, index parameters); default settings if None.
    :param indexes: which vocabulary indexes (default: the one ``settings.index`` names).
    :param report: called as each cache is ready.
    :raises CacheError: the cache folder cannot be written.
    """
    from ..embed.spelling import index_file
    from ..embed.unknown import corrector_for

    settings = settings or Settings()
    layout = CacheLayout.default()
    done: list[Warmed] = []
    start = time.perf_counter()

    def ready(name: str, path: Path) -> None:
        nonlocal start
        done.append(Warmed(name, path, time.perf_counter() - start))
        if report is not None:
            report(done[-1])
        start = time.perf_counter()

    embeddings = load_embeddings()
    ready(f"vectors ({embeddings.name})", layout.default_vectors_dir)
    corrector_for(embeddings)
    ready("spelling index", index_file(layout, embeddings.fingerprint))
    index = vocabulary_index(embeddings, IndexSettings.of(settings))
    for kind in indexes or (settings.index,):
        ready(f"{kind} index over {index.size:,} words", index.ensure_file(kind))
    return done
