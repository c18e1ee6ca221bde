"""A store's pairs as one file beside it (``<store>-pairs``), mapped when the store opens instead of re-read.

Reading a million pairs out of SQLite takes seconds: every row's text and vectors become Python
objects before they are copied into arrays. The same arrays written once as a plain file are
checked (every byte, xxh3_128) and mapped in a fraction of that. The file is a snapshot of the
store at one position (epoch, seq). It is named by a random token that the store records in its
meta table in the same transaction that puts the file in place (:meth:`Store.mark_pairs`), so
only a store whose history went through that position carries the token: a store that was copied
over, restored from a backup or replaced never adopts pairs it does not hold, and the file is
refused (and left as it is). What was written after the position comes from the store by the usual
catch-up.

Layout, version ``LAYOUT`` (little-endian; a file of another layout is refused, and a read-write
handle writes it again in this one on close):

- bytes 0-7: ``MAGIC``; 8-11: the header's length h (uint32); 12-(12+h): the header, UTF-8 JSON
  (``layout``, ``token``, ``epoch``, ``seq``, ``pairs`` n, ``dim``, ``text_bytes``, ``digest``:
  xxh3_128 hex of the body); zeros up to ``HEADER_BYTES``.
- the body, rows in the store's insertion order: rowids int64[n], key directions float32[n, dim],
  value directions float32[n, dim], key lengths float32[n], value lengths float32[n]; the int8
  copies of the directions (:mod:`fuzzykv.search.two_pass`): key codes int8[n, dim], value codes
  int8[n, dim], key scales, key error bounds, value scales, value error bounds float32[n] each;
  then the keys and then the values, UTF-8, each followed by one NUL.

Layout 1 (before the int8 copies) had no codes.
"""

from __future__ import annotations

import glob
import json
import mmap
import os
import stat
import struct
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import xxhash

from ..pairs import CODE_ARRAYS, HeldPairs

LAYOUT = 2
MAGIC = b"FKVPAIRS"
HEADER_BYTES = 4096
#: Stores of fewer pairs are read from SQLite (a tenth of a second or less) and get no file.
MAPPED_PAIRS = 50_000
#: A temporary pairs file untouched for this long was left by a killed writer.
ABANDONED_SECONDS = 3600
_CHUNK_ROWS = 1 << 16
_ROWID = np.dtype("<i8")
_FLOAT = np.dtype("<f4")
_CODE = np.dtype("i1")


@dataclass(frozen=True)
class Mark:
    """What the store says its pairs file is: the file's token and the position it holds the store at."""

    token: str
    epoch: int
    seq: int

    @property
    def position(self) -> tuple[int, int]:
        """(epoch, seq): the store's state the pairs file holds, to compare with the store's own position."""
        return self.epoch, self.seq


@dataclass(frozen=True)
class Header:
    """The file's first ``HEADER_BYTES``: which store state it holds, its sizes and the body's digest."""

    token: str
    epoch: int
    seq: int
    pairs: int
    dim: int
    text_bytes: int
    digest: str

    @property
    def body_bytes(self) -> int:
        """How long the body after the header must be: every array and the texts."""
        return sum(int(np.prod(shape)) * dtype.itemsize for dtype, shape in _body_arrays(self.pairs, self.dim)) + self.text_bytes

    def names(self, mark: Mark, dim: int) -> bool:
        """Is this the file ``mark`` names, for vectors of ``dim``?"""
        return (self.token, self.epoch, self.seq, self.dim) == (mark.token, mark.epoch, mark.seq, dim)

    def to_bytes(self) -> bytes:
        """The header as written: ``MAGIC``, the JSON's length, then the JSON (the file pads it to ``HEADER_BYTES``)."""
        raw = json.dumps({"layout": LAYOUT, **asdict(self)}, sort_keys=True).encode("utf-8")
        return MAGIC + struct.pack("<I", len(raw)) + raw

    @classmethod
    def parse(cls, head: bytes) -> Header | None:
        """The header in ``head`` (the file's first ``HEADER_BYTES``); ``None`` for anything else (another layout, garbage)."""
        start = len(MAGIC) + 4
        if len(head) < start or head[: len(MAGIC)] != MAGIC:
            return None
        (length,) = struct.unpack_from("<I", head, len(MAGIC))
        if length > HEADER_BYTES - start or any(head[start + length : HEADER_BYTES]):  # every byte counts: zeros after
            return None
        try:
            found = json.loads(head[start : start + length].decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None
        if not isinstance(found, dict) or found.pop("layout", None) != LAYOUT or set(found) != set(cls.__dataclass_fields__):
            return None
        counts = [found[name] for name in ("epoch", "seq", "pairs", "dim", "text_bytes")]
        if not all(type(c) is int and 0 <= c < 1 << 62 for c in counts) or not all(
                isinstance(found[name], str) for name in ("token", "digest")):
            return None
        return cls(**found)


def _body_arrays(n: int, dim: int) -> list[tuple[np.dtype[np.generic], tuple[int, ...]]]:
    """The body's arrays in file order: (type, shape) each, before the text."""
    vectors, rows = (n, dim), (n,)
    return [(_ROWID, rows), (_FLOAT, vectors), (_FLOAT, vectors), (_FLOAT, rows), (_FLOAT, rows),
            (_CODE, vectors), (_CODE, vectors), (_FLOAT, rows), (_FLOAT, rows), (_FLOAT, rows), (_FLOAT, rows)]


def path_for(store_path: Path) -> Path:
    """Where the pairs file of the store at ``store_path`` lives: beside it, as SQLite's ``-wal`` does."""
    return store_path.with_name(store_path.name + "-pairs")


def load(path: Path, mark: Mark, dim: int) -> HeldPairs | None:
    """The pairs in the file at ``path`` when it is whole and the one ``mark`` names, else ``None``.

    Every byte is checked before numpy maps it; the mapping is private, so changes to the pairs
    in memory never reach the file. A file that does not pass is left as it is.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO put there must not hang the open
    except OSError:
        return None
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_size < HEADER_BYTES:
            return None
        size = found.st_size
        # NOTE: no MAP_POPULATE: on a writable private mapping it faults pages in for writing (4x slower).
        mapped = mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    header = Header.parse(mapped[:HEADER_BYTES])
    if header is None or not header.names(mark, dim) or size != HEADER_BYTES + header.body_bytes:
        return None
    if xxhash.xxh3_128(memoryview(mapped)[HEADER_BYTES:]).hexdigest() != header.digest:
        return None
    return _matrix(mapped, header.pairs, dim, header.text_bytes)


def write(path: Path, token: str, position: tuple[int, int], pairs: HeldPairs) -> Path | None:
    """Write ``pairs`` (the store's state at ``position``) to a temporary file beside ``path``.

    Returns the temporary file, for the caller to rename into place when the store records the
    token; ``None`` when these pairs cannot be written (a key or value holding a NUL, a pair
    without a rowid). Not synced to disk: a file torn by a power cut fails its check and is not used.
    """
    rowids = pairs.rowids
    if not len(pairs) or bool((rowids < 0).any()):
        return None
    pairs.ensure_codes()
    order = np.argsort(rowids, kind="stable")
    rows = order.tolist()
    keys = [pairs.row_keys[row] for row in rows]
    text = "\0".join(keys) + "\0" + "\0".join([pairs.row_values[row] for row in rows]) + "\0"
    if text.count("\0") != 2 * len(keys):
        return None  # a NUL inside a key or value: the text cannot be split again
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (a store refuses them; pairs in memory may hold one)
        return None
    _remove_abandoned(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    staging = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.seek(HEADER_BYTES)
            digest = xxhash.xxh3_128()
            for piece in _pieces(pairs, order, encoded):
                digest.update(piece)
                handle.write(piece)
            header = Header(token, *position, len(keys), pairs.dim, len(encoded), digest.hexdigest())
            handle.seek(0)
            handle.write(header.to_bytes())
        staging.chmod(0o644)  # mkstemp makes it private; the file is as readable as a store
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return staging


def _remove_abandoned(path: Path) -> None:
    """Remove temporary pairs files that a killed process left beside ``path`` (untouched for an hour:
    no writer takes that long, so none is in use).
    """
    now = time.time()
    for left in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if now - left.stat().st_mtime > ABANDONED_SECONDS:
                left.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: left as it is


def _pieces(pairs: HeldPairs, order: np.ndarray, text: bytes) -> Iterator[memoryview]:
    """The body's bytes in file order, a chunk of rows at a time (gathered into insertion order)."""
    for source, dtype in ((pairs.rowids, _ROWID), (pairs.key_units, _FLOAT), (pairs.value_units, _FLOAT),
                          (pairs.key_norms, _FLOAT), (pairs.value_norms, _FLOAT), (pairs.key_codes, _CODE),
                          (pairs.value_codes, _CODE), (pairs.key_scales, _FLOAT), (pairs.key_errors, _FLOAT),
                          (pairs.value_scales, _FLOAT), (pairs.value_errors, _FLOAT)):
        for start in range(0, len(order), _CHUNK_ROWS):
            chunk = np.ascontiguousarray(source[order[start : start + _CHUNK_ROWS]], dtype=dtype)
            yield memoryview(chunk.tobytes())
    yield memoryview(text)


def _codes_agree(key_units: np.ndarray, value_units: np.ndarray, codes: dict[str, np.ndarray]) -> bool:
    """The int8 copies must be what :func:`~fuzzykv.pairs.quantise` makes of the directions: checked
    exactly on a sample of rows (every byte already passed the digest; this catches a writer's bug).
    """
    from ..pairs import quantise

    n = len(key_units)
    sample = np.unique(np.linspace(0, n - 1, num=min(n, 64), dtype=np.int64))
    for units, prefix in ((key_units, "_key"), (value_units, "_value")):
        made = quantise(units[sample])
        held = (codes[f"{prefix}_codes"][sample], codes[f"{prefix}_scales"][sample], codes[f"{prefix}_errors"][sample])
        if not all(np.array_equal(a, b) for a, b in zip(made, held)):
            return False
    return True


def _matrix(mapped: mmap.mmap, n: int, dim: int, text_bytes: int) -> HeldPairs | None:
    """The arrays as views of the mapping, and the keys and values as text; ``None`` if they do not fit together."""
    offset = HEADER_BYTES
    arrays = []
    for dtype, shape in _body_arrays(n, dim):
        count = int(np.prod(shape))
        arrays.append(np.frombuffer(mapped, dtype=dtype, count=count, offset=offset).reshape(shape))
        offset += count * dtype.itemsize
    try:
        texts = mapped[offset : offset + text_bytes].decode("utf-8").split("\0")
    except UnicodeDecodeError:
        return None
    rowids, key_units, value_units, key_norms, value_norms = arrays[:5]
    codes = dict(zip(CODE_ARRAYS, arrays[5:]))
    if len(texts) != 2 * n + 1 or texts[-1] or (n > 1 and not bool((np.diff(rowids) > 0).all())):
        return None
    if not _codes_agree(key_units, value_units, codes):
        return None
    try:
        return HeldPairs.adopt(texts[:n], texts[n : 2 * n], key_units, key_norms, value_units, value_norms, rowids,
                                codes)
    except ValueError:  # a key that repeats
        return None
