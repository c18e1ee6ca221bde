"""Where a sharded store's pairs live: which shard owns a key, and the folder a file-backed one keeps.

A folder holds ``manifest.json`` (format version, shard count, the shared settings and the
embeddings' identity) and one store file per shard, ``shard-002-of-004.fkv``. A key belongs to
shard ``blake2b(utf-8 key) mod shards``: stable across processes and machines, unlike ``hash()``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import NotAStoreError, StoreSettingsError, StoreVersionError

MANIFEST = "manifest.json"
FORMAT = 1
KIND = "fuzzykv-sharded"


def shard_of(key: str, shards: int) -> int:
    """The shard that owns ``key``: the first 8 bytes of its blake2b digest, modulo ``shards``."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


@dataclass(frozen=True)
class Manifest:
    """What a sharded store's folder records about the whole store (its shards keep the rest)."""

    shards: int
    settings: dict[str, Any]
    embeddings: str
    fingerprint: str
    format: int = FORMAT
    kind: str = KIND

    def shard_path(self, folder: Path, number: int) -> Path:
        """The store file of shard ``number`` in ``folder``; the name carries the shard count, so a
        file cannot be taken for another count's.
        """
        return folder / f"shard-{number:03d}-of-{self.shards:03d}.fkv"

    def write(self, folder: Path) -> None:
        """Atomically: a crash leaves the old manifest or the new one, never half of one."""
        temporary = folder / f".{MANIFEST}.tmp"
        temporary.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(temporary, folder / MANIFEST)

    @classmethod
    def read(cls, folder: Path) -> Manifest | None:
        """The folder's manifest; ``None`` for a folder that does not exist yet or is empty.

        :raises NotAStoreError: a file, or a folder with other files and no readable manifest.
        :raises StoreVersionError: a manifest written by a newer fuzzykv.
        """
        if folder.exists() and not folder.is_dir():
            raise NotAStoreError(f"{str(folder)!r} is a file; a sharded store is a folder: pick a new or empty folder")
        path = folder / MANIFEST
        if not path.exists():
            if folder.exists() and any(folder.iterdir()):
                raise NotAStoreError(
                    f"{str(folder)!r} holds files but no {MANIFEST}, so it is not a sharded fuzzykv store; "
                    "pick a new or empty folder"
                )
            return None
        try:
            saved = json.loads(path.read_text())
            if saved.get("kind") != KIND:
                raise ValueError(f"kind {saved.get('kind')!r}")
            if int(saved["format"]) > FORMAT:
                raise StoreVersionError(
                    f"{str(path)!r} is format {saved['format']}, written by a newer fuzzykv (this one reads up to "
                    f"{FORMAT}); upgrade fuzzykv"
                )
            return cls(int(saved["shards"]), dict(saved["settings"]), str(saved["embeddings"]),
                       str(saved["fingerprint"]), int(saved["format"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise NotAStoreError(
                f"{str(path)!r} is not a readable sharded-store manifest ({error}); the folder is left as it was"
            ) from error

    def check_shards(self, asked: int | None, folder: Path) -> int:
        """The shard count to open with: the manifest's; asking for another is an error (keys would move)."""
        if asked is not None and asked != self.shards:
            raise StoreSettingsError(
                f"{str(folder)!r} was made with shards={self.shards}, not shards={asked}; every key is kept on the "
                f"shard its hash names among {self.shards}, so open it with shards={self.shards} (or leave shards out), "
                "or copy its pairs into a new folder with the shard count you want"
            )
        return self.shards
