"""What a store file records about how it was made, and the check that a reopening agrees.

A store keeps its settings and its embeddings' identity (name, dimension, fingerprint; for your
own encoder, its vectors for fixed probe texts), never a path or anything to load: the caller
passes the embeddings, and a mismatch is a :class:`StoreSettingsError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..embed.vectors import DEFAULT_NAME, Embeddings
from ..errors import StoreError, StoreSettingsError
from ..settings import Settings, differences

#: Texts an encoder store embeds to recognise its encoder on reopening.
PROBES = ("the", "cat", "number", "new york", "fuzzykv 42", "Ünïcode?")
_PROBE_TOLERANCE = 1e-4

if TYPE_CHECKING:  # NOTE: encoders import torch, which only a store with an encoder needs
    from ..embed.encoders import EncoderEmbeddings


@dataclass(frozen=True)
class StoreRecord:
    """A store's settings and the identity of its embeddings, as kept in the file (JSON)."""

    embeddings: str
    fingerprint: str
    dim: int
    settings: dict[str, Any]
    probes: list[list[float]] | None = None  # an encoder's vectors for PROBES
    path: Path | None = None

    def as_json(self) -> dict[str, Any]:
        """What the store file keeps (the path is not kept: it is wherever the file is)."""
        out = {"embeddings": self.embeddings, "fingerprint": self.fingerprint, "dim": self.dim, "settings": self.settings}
        if self.probes is not None:
            out["probes"] = self.probes
        return out

    @classmethod
    def from_json(cls, saved: Mapping[str, Any], path: Path) -> StoreRecord:
        """A record as :meth:`as_json` saved it, also in format 1 (three options beside the identity);
        a store saved before the ``index`` option keeps decoding with annoy.

        :raises StoreError: saved settings that cannot be read (the store is damaged).
        """
        try:
            if "settings" in saved:
                settings = dict(saved["settings"])
            else:  # format 1 kept three options beside the identity
                settings = {name: saved[name] for name in ("similarity", "temperature", "vocabulary_size")}
            # Stores saved before the index option decoded through annoy: they keep answering as they did.
            settings.setdefault("index", "annoy")
            return cls(str(saved["embeddings"]), str(saved["fingerprint"]), int(saved["dim"]), settings,
                       saved.get("probes"), path)
        except (KeyError, TypeError, ValueError) as error:
            raise StoreError(f"{str(path)!r} holds settings fuzzykv cannot read ({error!r}); the store is damaged") from error

    def reopen(self, given: StoreRecord, asked: Mapping[str, Any], asked_settings: Settings, passed: bool) -> Settings:
        """The settings to answer with, once the options asked for and the embeddings given agree.

        :param given: the record the caller's embeddings and settings would make.
        :param asked: the options the caller gave explicitly (others take the store's).
        :param passed: whether the caller passed embeddings (or an encoder), rather than taking the default.
        """
        where = str(self.path)
        for name, saved, value in differences(self.settings, asked):
            raise StoreSettingsError(
                f"{where!r} was made with {name}={saved!r}, not {name}={value!r}; "
                f"leave {name} out to use the store's, or make a new store"
            )
        if (self.probes is None) != (given.probes is None):
            made = "your own encoder" if self.probes is not None else f"the word vectors {self.embeddings!r}"
            raise StoreSettingsError(f"{where!r} was made with {made}; open it with the same (encoder= or embeddings=)")
        if self.probes is None and self.embeddings != DEFAULT_NAME and not passed:
            raise StoreSettingsError(
                f"{where!r} was made with the embeddings {self.embeddings!r} ({self.dim} dimensions), which fuzzykv "
                "never loads by itself (a store names no file to open); pass the same embeddings=..."
            )
        if given.dim != self.dim:
            raise StoreSettingsError(
                f"{where!r} holds {self.dim}-dimensional vectors from {self.embeddings!r}, but the embeddings "
                f"given, {given.embeddings!r}, are {given.dim}-dimensional; pass the store's embeddings"
            )
        if self.probes is not None and given.probes is not None:
            if not np.allclose(self.probes, given.probes, rtol=_PROBE_TOLERANCE, atol=_PROBE_TOLERANCE):
                raise StoreSettingsError(
                    f"{where!r} was made with an encoder that embeds the probe texts {PROBES!r} differently from the "
                    "encoder given; open it with the encoder (and weights) that made it"
                )
        elif given.fingerprint != self.fingerprint:
            way_out = "pass the same embeddings=..." if self.embeddings != DEFAULT_NAME else "leave embeddings out"
            raise StoreSettingsError(
                f"{where!r} was made with the embeddings {self.embeddings!r} (fingerprint {self.fingerprint}), "
                f"not {given.embeddings!r} (fingerprint {given.fingerprint}); {way_out}"
            )
        try:
            return Settings(**{**asked_settings.as_dict(), **self.settings})
        except TypeError as error:
            raise StoreError(f"{where!r} holds settings this fuzzykv does not know ({error}); upgrade fuzzykv") from error


def record_of(embeddings: Embeddings | EncoderEmbeddings, settings: Settings) -> StoreRecord:
    """The record a store made now with these embeddings and settings would keep."""
    if not isinstance(embeddings, Embeddings):  # your own encoder
        from ..embed.encoders import encode

        probes = encode(embeddings.encoder, list(PROBES))
        vocabulary = embeddings.vocabulary.fingerprint if embeddings.vocabulary is not None else "none"
        digest = hashlib.blake2b(f"{embeddings.name}:{vocabulary}".encode(), digest_size=12).hexdigest()
        return StoreRecord(embeddings.name, digest, embeddings.dim, settings.saved(), probes.round(6).tolist())
    return StoreRecord(embeddings.name, embeddings.fingerprint, embeddings.dim, settings.saved())
