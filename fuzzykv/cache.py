"""Where fuzzykv keeps what it derives once and maps on every later start: one versioned layout."""

from __future__ import annotations

import json
import mmap
import os
import shutil
import stat as stat_module
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import xxhash

from .errors import CacheError

#: Bump when the files below change shape; older layouts are then ignored, never misread.
CACHE_VERSION = 1


@dataclass(frozen=True)
class CacheLayout:
    """The cache folder's layout, version ``CACHE_VERSION``.

    ``<root>/v1/glove-6b-50d/``   the default vectors in gensim's native format (``vectors.kv`` plus
                                  its ``.npy`` array, loaded with ``mmap="r"``) and ``fingerprint``
    ``<root>/v1/annoy/<fp>.ann``  annoy indexes over a vocabulary; ``<fp>`` fingerprints the vectors,
                                  the vocabulary size and the index settings
    ``<root>/v1/hnsw/<fp>.faiss`` faiss HNSW graphs over a vocabulary, named the same way
    """

    root: Path

    @classmethod
    def default(cls) -> CacheLayout:
        """``$FUZZYKV_CACHE`` if set, else the user's cache folder (``~/.cache/fuzzykv`` on Linux)."""
        configured = os.environ.get("FUZZYKV_CACHE")
        return cls(Path(configured) if configured else Path(platformdirs.user_cache_dir("fuzzykv")))

    @property
    def versioned(self) -> Path:
        """``<root>/v<CACHE_VERSION>``: everything of this layout; a new version starts an empty folder beside it."""
        return self.root / f"v{CACHE_VERSION}"

    @property
    def default_vectors_dir(self) -> Path:
        """The default GloVe vectors, converted once from the package's files to gensim's native format."""
        return self.versioned / "glove-6b-50d"

    @property
    def default_vectors_file(self) -> Path:
        """The gensim ``KeyedVectors`` file of the default vectors (its ``.npy`` array lies beside it)."""
        return self.default_vectors_dir / "vectors.kv"

    @property
    def default_fingerprint_file(self) -> Path:
        """The default vectors' fingerprint, written at conversion so that a later start need not hash
        the 80 MB of vectors again.
        """
        return self.default_vectors_dir / "fingerprint"

    def annoy_file(self, fingerprint: str) -> Path:
        """The annoy index named ``fingerprint`` (of the vectors, vocabulary size and index settings)."""
        return self.versioned / "annoy" / f"{fingerprint}.ann"

    def hnsw_file(self, fingerprint: str) -> Path:
        """The faiss HNSW graph named ``fingerprint`` (of the vectors, vocabulary size and graph settings)."""
        return self.versioned / "hnsw" / f"{fingerprint}.faiss"


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


# -- checked files -----------------------------------------------------------------------------
# C libraries (annoy, numpy's mmap) trust the bytes they map: a garbled annoy file aborts the
# process. So every file fuzzykv caches is published with a manifest that records its whole-file
# digest, and is checked whole before it is mapped. Checking only reads: a read-only cache shared
# between users is used as it is.

#: The manifest layout below; a manifest of another version is treated as missing (rebuild).
MANIFEST_VERSION = 1
#: Name of the manifest inside a published folder; beside a file it is ``<name>.manifest.json``.
FOLDER_MANIFEST = "manifest.json"
_ALGORITHM = "xxh3_128"
_MANIFEST_LIMIT = 1 << 20  # a manifest larger than this is garbage, not read
# A file modified this recently may still change within the same mtime tick, so its check is
# not remembered (git's "racily clean" rule).
_RACY_SECONDS = 2.0


@dataclass(frozen=True)
class CacheManifest:
    """What a published file or folder must be before it is mapped: JSON beside the file (or in the folder).

    ``files`` maps each file's name, relative to the manifest's folder, to its size and whole-file
    ``xxh3_128`` digest (hex); ``meta`` holds what the builder said the file is (for example an annoy
    index's item count, dimension, trees and seed), which a reader must expect exactly.
    """

    version: int
    algorithm: str
    files: dict[str, tuple[int, str]]
    meta: dict[str, object]

    def to_json(self) -> str:
        """The manifest as JSON with sorted keys, as :meth:`from_json` reads it back."""
        return json.dumps({"version": self.version, "algorithm": self.algorithm,
                           "files": {name: list(entry) for name, entry in self.files.items()}, "meta": self.meta},
                          sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CacheManifest:
        """:raises ValueError: text that is not a manifest of this version."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION or data.get("algorithm") != _ALGORITHM:
            raise ValueError("not a fuzzykv cache manifest of version 1")
        files, meta = data.get("files"), data.get("meta")
        if not isinstance(files, dict) or not isinstance(meta, dict) or not files:
            raise ValueError("a manifest needs files and meta objects")
        checked: dict[str, tuple[int, str]] = {}
        for name, entry in files.items():
            if (not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], int)
                    or not isinstance(entry[1], str) or "/" in name or name in {"", ".", ".."}):
                raise ValueError(f"bad manifest entry for {name!r}")
            checked[name] = (entry[0], entry[1])
        return cls(MANIFEST_VERSION, _ALGORITHM, checked, meta)


def manifest_path(path: Path) -> Path:
    """Where the manifest of a published file (beside it) or folder (inside it) lives."""
    return path / FOLDER_MANIFEST if path.is_dir() else path.with_name(f"{path.name}.manifest.json")


def digest_of(path: Path) -> str:
    """The whole-file ``xxh3_128`` digest (hex) of ``path``: about 20-50 ms for 190 MB from the page cache."""
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return xxhash.xxh3_128(b"").hexdigest()
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return xxhash.xxh3_128(mapped).hexdigest()


_verified_lock = threading.Lock()
_verified: set[tuple[str, int, int, int, int, str]] = set()


def _identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def _file_matches(path: Path, size: int, digest: str) -> bool:
    """Whole-file check, remembered per file identity (device, inode, size, mtime) for this process."""
    stat = path.stat()
    if not stat_module.S_ISREG(stat.st_mode) or stat.st_size != size:
        return False
    key = (str(path.resolve()), *_identity(stat), digest)
    with _verified_lock:
        if key in _verified:
            return True
    if digest_of(path) != digest:
        return False
    if time.time() - stat.st_mtime_ns / 1e9 > _RACY_SECONDS:
        with _verified_lock:
            _verified.add(key)
    return True


def verified(path: str | Path, **expected_meta: object) -> bool:
    """True when ``path`` (a file or folder published by :func:`publish_checked`) is whole and as expected.

    The manifest must be present and of this version, its ``meta`` must hold ``expected_meta``
    exactly (compared as JSON), and every file it lists must have its recorded size and digest.
    Only reads; never raises on a missing, garbled or foreign file or manifest: that is ``False``.
    """
    path = Path(path)
    try:
        with open(manifest_path(path), "rb") as handle:
            raw = handle.read(_MANIFEST_LIMIT + 1)
        if len(raw) > _MANIFEST_LIMIT:
            return False
        manifest = CacheManifest.from_json(raw.decode("utf-8"))
        wanted = json.loads(json.dumps(expected_meta, sort_keys=True))
        if any(manifest.meta.get(name) != value or name not in manifest.meta for name, value in wanted.items()):
            return False
        folder = path if path.is_dir() else path.parent
        if not path.is_dir() and set(manifest.files) != {path.name}:
            return False
        return all(_file_matches(folder / name, size, digest) for name, (size, digest) in manifest.files.items())
    except (OSError, ValueError, TypeError, RecursionError):
        return False


def publish_checked(final: str | Path, fill: Callable[[Path], None], **meta: object) -> None:
    """Build a file with ``fill(staging)``, make it durable, record its digest and ``meta``, publish both.

    The file is renamed into place first, then its manifest: a reader that looks in between sees
    a manifest that does not match and rebuilds, never a file it trusts wrongly.

    :raises CacheError: the cache folder cannot be written (the file stays as it was).
    """
    final = Path(final)
    staging: Path | None = None
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
        staging = Path(name)
        fill(staging)
        staging.chmod(0o644)  # mkstemp makes it private; a cache may be shared between users
        fsync_file(staging)
        manifest = CacheManifest(MANIFEST_VERSION, _ALGORITHM, {final.name: (staging.stat().st_size, digest_of(staging))},
                            json.loads(json.dumps(meta, sort_keys=True)))
        os.replace(staging, final)
        staging = None
        _write_durably(manifest_path(final), manifest.to_json())
        fsync_file(final.parent)
    except OSError as error:
        raise _cache_error(final, error) from error
    finally:
        if staging is not None:
            staging.unlink(missing_ok=True)


def publish_checked_dir(final: str | Path, fill: Callable[[Path], None], **meta: object) -> None:
    """Fill a fresh folder, record every file's digest and ``meta`` in it, rename it into place.

    A damaged folder already at ``final`` is replaced; a whole one (published by a racing process)
    is kept and this copy discarded.

    :raises CacheError: the cache folder cannot be written.
    """
    final = Path(final)
    staging: Path | None = None
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        staging.chmod(0o755)
        fill(staging)
        files: dict[str, tuple[int, str]] = {}
        for entry in sorted(staging.iterdir()):
            if entry.name == FOLDER_MANIFEST or not entry.is_file():
                raise CacheError(f"a checked cache folder holds plain files only, got {entry.name!r}")
            entry.chmod(0o644)
            fsync_file(entry)
            files[entry.name] = (entry.stat().st_size, digest_of(entry))
        manifest = CacheManifest(MANIFEST_VERSION, _ALGORITHM, files, json.loads(json.dumps(meta, sort_keys=True)))
        _write_durably(staging / FOLDER_MANIFEST, manifest.to_json())
        fsync_file(staging)
        if final.exists() and not verified(final, **meta):
            stale = Path(tempfile.mkdtemp(prefix=f".{final.name}.stale.", dir=final.parent))
            try:
                os.rename(final, stale / "old")  # out of the way in one step; removed below
            except FileNotFoundError:
                pass  # a racing process moved it first
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(staging, final)
            staging = None
        except OSError:
            if not verified(final, **meta):
                raise
        fsync_file(final.parent)
    except OSError as error:
        raise _cache_error(final, error) from error
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def ensure_checked(final: str | Path, fill: Callable[[Path], None], *, folder: bool = False, **meta: object) -> Path:
    """``final`` verified as it is, else (re)built with ``fill`` and published: the one call before mapping.

    :raises CacheError: it is missing or damaged and the cache cannot be written (a read-only cache
        is used as it is when it is whole).
    """
    final = Path(final)
    if verified(final, **meta):
        return final
    (publish_checked_dir if folder else publish_checked)(final, fill, **meta)
    if not verified(final, **meta):
        raise CacheError(f"{str(final)!r} changed while it was being published; retry")
    return final


def _cache_error(final: Path, error: OSError) -> CacheError:
    return CacheError(
        f"cannot write the cache file {str(final)!r} ({error}); it is missing or damaged and must be rebuilt: "
        "make its folder writable, or set FUZZYKV_CACHE to a writable folder"
    )


def _write_durably(path: Path, text: str) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    staging = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        staging.chmod(0o644)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def fsync_file(path: Path) -> None:
    """Make a file's (or a folder's) contents durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
