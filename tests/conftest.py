"""Shared fixtures: the real default GloVe, cached once per test run, and gensim's small GloVe slice."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from fuzzykv import Database, Embeddings, load_embeddings
from fuzzykv.pairs import HeldPairs

WRITEUP_PAIRS = {"one": "number", "cat": "animal", "dog": "animal", "ball": "toy", "sphere": "shape", "male": "gender"}


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh cache folder for the run, where the default caches are built once, for real, ahead
    of the tests (as `fuzzykv warm` builds them), so that no query waits on a first build.

    ``FUZZYKV_TEST_CACHE=<folder>`` keeps and reuses a folder between runs instead (for targeted runs
    while developing; CI leaves it unset and builds everything fresh).
    """
    from fuzzykv.cli.warm import warm

    kept = os.environ.get("FUZZYKV_TEST_CACHE")
    root = Path(kept) if kept else tmp_path_factory.mktemp("fuzzykv-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FUZZYKV_CACHE", str(root))
        warm()
        yield root
    if not kept:
        shutil.rmtree(root, ignore_errors=True)  # about 400 MB of vectors and indexes


@pytest.fixture(scope="session")
def glove(session_cache: Path) -> Embeddings:
    """The default GloVe 6B 50d (400,000 words), converted into the session cache."""
    return load_embeddings()


@pytest.fixture(scope="session")
def writeup_db(glove: Embeddings) -> Database:
    return Database(WRITEUP_PAIRS)


@pytest.fixture(scope="session")
def ray_session(session_cache: Path, glove: Embeddings) -> Iterator[None]:
    """One local Ray for the whole run (the sharded store's tests and docs); its workers share the session's cache folder."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"FUZZYKV_CACHE": str(session_cache)}})
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def glove_file() -> Path:
    """gensim's real 50-d GloVe slice (a GloVe text file without a header line)."""
    return Path(datapath("test_glove.txt"))


@pytest.fixture(scope="session")
def small_vectors(glove_file: Path) -> KeyedVectors:
    return KeyedVectors.load_word2vec_format(str(glove_file), no_header=True)


def whole_vocabulary_blends(glove: Embeddings, stores: int, keys: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Blends of random stores of keys and values from the whole vocabulary (as benchmarks/workload.py
    draws them), and each blend's two heaviest values."""
    rng = np.random.default_rng(seed)
    unit = torch.from_numpy(glove.unit_vectors)
    blends, heaviest = [], []
    for _ in range(stores):
        rows = rng.choice(len(glove), size=2 * keys + 10, replace=False)
        key_vectors, values, queries = unit[rows[:keys]], unit[rows[keys : 2 * keys]], unit[rows[2 * keys :]]
        weights = torch.softmax(queries @ key_vectors.T / 0.05, dim=-1)
        blends.append((weights @ values).numpy())
        heaviest.append(values[torch.topk(weights, 2, dim=-1).indices].numpy())
    return np.concatenate(blends), np.concatenate(heaviest)


def store_like(operations: list[tuple[bool, list[str]]], dim: int, from_file: bool = True) -> tuple[HeldPairs, dict[str, int]]:
    """Pairs set (True) and deleted (False) as a store does it: a new key takes the next rowid, a
    changed one keeps its own (``from_file=False``: no rowids, as in memory). Returns the pairs and
    each held key's rowid."""
    pairs, rowid_of, rng, next_rowid = HeldPairs(dim), {}, np.random.default_rng(0), 1
    for setting, keys in operations:
        if not setting:
            pairs.delete_many(keys)
            for key in keys:
                rowid_of.pop(key, None)
            continue
        for key in keys:
            if key not in rowid_of:
                rowid_of[key], next_rowid = next_rowid, next_rowid + 1
        vectors = rng.normal(size=(len(keys), dim)).astype(np.float32)
        pairs.set_many(keys, [f"{key[::-1]}@{next_rowid}" for key in keys], vectors, -vectors,
                       rowids=[rowid_of[k] for k in keys] if from_file else None)
    return pairs, rowid_of
