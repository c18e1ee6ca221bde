"""Where fuzzykv keeps what it derives once and maps on every later start: one versioned layout."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

#: Bump when the files below change shape; older layouts are then ignored, never misread.
CACHE_VERSION = 1


@dataclass(frozen=True)
class CacheLayout:
    """The cache folder's layout, version ``CACHE_VERSION``.

    ``<root>/v1/glove-6b-50d/``   the default vectors in gensim's native format (``vectors.kv`` plus
                                  its ``.npy`` array, loaded with ``mmap="r"``) and ``fingerprint``
    ``<root>/v1/annoy/<fp>.ann``  annoy indexes over a vocabulary; ``<fp>`` fingerprints the vectors,
                                  the vocabulary size and the index settings
    """

    root: Path

    @classmethod
    def default(cls) -> CacheLayout:
        """``$FUZZYKV_CACHE`` if set, else the user's cache folder (``~/.cache/fuzzykv`` on Linux)."""
        configured = os.environ.get("FUZZYKV_CACHE")
        return cls(Path(configured) if configured else Path(platformdirs.user_cache_dir("fuzzykv")))

    @property
    def versioned(self) -> Path:
        return self.root / f"v{CACHE_VERSION}"

    @property
    def default_vectors_dir(self) -> Path:
        return self.versioned / "glove-6b-50d"

    @property
    def default_vectors_file(self) -> Path:
        return self.default_vectors_dir / "vectors.kv"

    @property
    def default_fingerprint_file(self) -> Path:
        return self.default_vectors_dir / "fingerprint"

    def annoy_file(self, fingerprint: str) -> Path:
        return self.versioned / "annoy" / f"{fingerprint}.ann"


def publish_dir(final: Path, fill: Callable[[Path], None]) -> None:
    """Fill a fresh temporary folder beside ``final``, then rename it into place in one step.

    A reader sees the whole folder or none of it; when two processes race, the first rename wins
    and the loser's copy is discarded.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; the cache is readable like any other
        fill(staging)
        try:
            os.rename(staging, final)
        except OSError:
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish_file(final: Path, fill: Callable[[Path], None]) -> None:
    """Write a temporary file beside ``final`` with ``fill``, then rename it into place atomically."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    staging = Path(name)
    try:
        fill(staging)
        os.replace(staging, final)
    finally:
        staging.unlink(missing_ok=True)
