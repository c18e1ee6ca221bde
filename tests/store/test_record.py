"""What a store records of its embeddings: enough to refuse the wrong ones, never a thing to load."""

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors

from fuzzykv import Database, StoreSettingsError
from fuzzykv.embed.vectors import Embeddings


def trigrams(texts: list[str]) -> np.ndarray:
    out = np.zeros((len(texts), 32), dtype=np.float32)
    for row, text in enumerate(texts):
        for i in range(len(text) + 2):
            out[row, int(hashlib.md5(f" {text} "[i : i + 3].encode()).hexdigest(), 16) % 32] += 1.0
    return out


def test_a_store_of_your_own_encoder_lives_on_disk_and_checks_the_encoder(tmp_path: Path) -> None:
    path = tmp_path / "own.fkv"
    with Database.open(path, encoder=trigrams) as db:
        db.update({"colour": "british", "color": "american"})
        before = db.query("colours", k=1)
    with Database.open(path, encoder=trigrams) as again:
        assert again.query("colours", k=1) == before == ["british"]
        assert again.settings.answers == "values"

    def other(texts: list[str]) -> np.ndarray:
        return trigrams(texts) * 2 + 1

    with pytest.raises(StoreSettingsError, match="embeds the probe texts .* differently"):
        Database.open(path, encoder=other)
    with pytest.raises(StoreSettingsError, match="made with your own encoder"):
        Database.open(path)


def test_opening_never_loads_what_a_store_names(glove: Embeddings, tmp_path: Path) -> None:
    """A crafted store naming a pickle must not run it: the embeddings come from the caller only."""
    marker = tmp_path / "ran"
    payload = tmp_path / "evil.kv"
    payload.write_bytes(b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")  # a pickle that runs a command
    path = tmp_path / "crafted.fkv"
    Database.open(path).close()
    with sqlite3.connect(path) as connection:
        (saved,) = connection.execute("SELECT value FROM fuzzykv_meta WHERE name = 'settings'").fetchone()
        record = json.loads(saved)
        record["embeddings"], record["fingerprint"] = str(payload), "0" * 24
        connection.execute("UPDATE fuzzykv_meta SET value = ? WHERE name = 'settings'", (json.dumps(record),))
    for read_only in (False, True):
        with pytest.raises(StoreSettingsError, match="pass the same embeddings"):
            Database.open(path, read_only=read_only)
    assert not marker.exists()


def test_embeddings_given_on_reopen_must_be_the_same_vectors(small_vectors: KeyedVectors, glove_file: Path,
                                                             tmp_path: Path) -> None:
    path = tmp_path / "small.fkv"
    with Database.open(path, embeddings=glove_file) as db:
        db["the"] = "of"
    with Database.open(path, embeddings=small_vectors) as again:  # the same vectors, given another way
        assert again["the"] == "of"
    changed = KeyedVectors(small_vectors.vector_size)
    changed.add_vectors(small_vectors.index_to_key, small_vectors.vectors + 1)
    with pytest.raises(StoreSettingsError, match="fingerprint"):
        Database.open(path, embeddings=changed)
    with pytest.raises(StoreSettingsError, match="pass the same embeddings"):
        Database.open(path)
    assert os.path.exists(path)
