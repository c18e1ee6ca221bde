"""Annoy, the approximate nearest-neighbour index: one way to build it, one seed, and its decoder.

Both annoy indexes of fuzzykv (over the vocabulary, for decoding; over a store's keys, for
attention through the key index) are built by :func:`build_angular`. Annoy maps its files with
mmap and crashes on a damaged one, so a cached file is checked whole before annoy may load it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from annoy import AnnoyIndex
from tqdm.auto import tqdm

from ..cache import ensure_checked
from .exact import ExactDecoder, Hints

#: The one seed of every annoy index fuzzykv builds: the same vectors give the same trees.
ANNOY_SEED = 20240611

def build_angular(vectors: np.ndarray, n_trees: int, *, description: str | None = None,
                  metric: Literal["angular", "dot"] = "angular") -> AnnoyIndex:
    """An annoy index (angular, or ``"dot"`` for the largest inner products) over the rows of
    ``vectors`` (item i is row i), seeded with ANNOY_SEED.

    :param description: show a progress bar on stderr (when it is a terminal) with this label.
    """
    n_items, dim = vectors.shape
    index = AnnoyIndex(dim, metric)
    index.set_seed(ANNOY_SEED)
    with tqdm(total=n_items, desc=description, unit="row", leave=False, mininterval=0.5,
              disable=True if description is None else None) as bar:
        step = 10_000
        for start in range(0, n_items, step):
            for item in range(start, min(start + step, n_items)):
                index.add_item(item, vectors[item])
            bar.update(min(step, n_items - start))
    if description is not None:
        # NOTE: annoy builds its trees in C++ with no progress callback: say so instead of a bar stuck at 100%.
        with tqdm(total=n_trees, desc=f"{description}: building {n_trees} trees (no progress from annoy)",
                  leave=False, disable=None, bar_format="{desc} {elapsed}") as bar:
            index.build(n_trees, n_jobs=-1)
            bar.update(n_trees)
    else:
        index.build(n_trees, n_jobs=-1)
    return index


def annoy_meta(n_items: int, dim: int, n_trees: int) -> dict[str, Any]:
    """What a published annoy file must be: its manifest's ``meta``, compared exactly before annoy maps it."""
    return {"kind": "annoy", "n_items": n_items, "dim": dim, "n_trees": n_trees, "seed": ANNOY_SEED}


def load_checked(path: Path, unit_vectors: np.ndarray, n_trees: int) -> AnnoyIndex:
    """The annoy index at ``path`` over ``unit_vectors``, verified whole (xxh3 of every byte, once per
    file identity) before annoy maps it; built and published first if it is missing or damaged.

    NOTE: annoy aborts the process on a damaged file, so nothing unverified reaches it.
    """
    n_items, dim = unit_vectors.shape

    def build(staging: Path) -> None:
        index = build_angular(unit_vectors, n_trees, description="fuzzykv: indexing vocabulary")
        index.save(str(staging))
        index.unload()

    ensure_checked(path, build, **annoy_meta(n_items, dim, n_trees))
    index = AnnoyIndex(dim, "angular")
    index.load(str(path))  # mmap: shared between processes, nothing read up front
    _check_loaded(index, unit_vectors)
    return index


def _check_loaded(index: AnnoyIndex, unit_vectors: np.ndarray) -> None:
    """A loaded index must hold the vocabulary it was built from: its count and sampled rows.

    NOTE: the tree count is checked through the manifest only; annoy re-derives it on load by
    scanning for nodes that span every item, which over-counts on small indexes.
    """
    n_items = len(unit_vectors)
    if index.get_n_items() != n_items:
        raise ValueError(f"annoy index holds {index.get_n_items()} items, expected {n_items}")
    for item in np.linspace(0, n_items - 1, num=min(n_items, 16), dtype=np.int64):
        if not np.allclose(index.get_item_vector(int(item)), unit_vectors[item], atol=1e-5):
            raise ValueError(f"annoy index row {item} does not match the vocabulary it is named after")


class AnnoyDecoder:
    """Approximate cosine search through an annoy angular index, re-scored exactly.

    Annoy proposes ``k`` rows by searching ``search_k`` tree nodes; their similarities are then
    computed exactly, so every returned score is the true cosine.
    """

    def __init__(self, index: AnnoyIndex, unit_vectors: np.ndarray, search_k: int,
                 exact: ExactDecoder | None = None) -> None:
        self._index = index
        self._unit = unit_vectors
        self._search_k = search_k
        self._exact = exact or ExactDecoder(unit_vectors)

    def neighbours(self, vectors: np.ndarray, n: int, search_k: int) -> list[np.ndarray]:
        """Annoy's ``n`` nearest rows of each vector, searching ``search_k`` nodes: a bounded cost per vector."""
        nns = self._index.get_nns_by_vector
        return [np.asarray(nns(vector, n, search_k=max(search_k, n)), dtype=np.int64) for vector in vectors]

    def search(self, vectors: np.ndarray, k: int, hints: Hints | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Annoy's ``k`` nearest of each vector, and its hinted rows, re-scored exactly; best first."""
        k = min(k, len(self._unit))
        search_k = max(self._search_k, k)
        nns = self._index.get_nns_by_vector
        ids = np.empty((len(vectors), k), dtype=np.int64)
        sims = np.empty((len(vectors), k), dtype=np.float32)
        for row, vector in enumerate(vectors):
            found = np.asarray(nns(vector, k, search_k=search_k), dtype=np.int64)
            if hints is not None and len(hints[row]):
                found = np.unique(np.concatenate((found, hints[row])))
            if len(found) < k:  # annoy may come back short on a tiny search; never answer short
                exact_ids, exact_sims = self._exact.search(vector[None, :], k)
                ids[row], sims[row] = exact_ids[0], exact_sims[0]
                continue
            found_sims = self._unit[found] @ _unit(vector)
            order = np.argsort(-found_sims, kind="stable")[:k]
            ids[row] = found[order]
            sims[row] = found_sims[order]
        return ids, sims


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.sqrt(vector @ vector))
    return vector / norm if norm > 0 else vector
