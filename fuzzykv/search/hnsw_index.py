"""faiss HNSW, the graph index over the vocabulary: one way to build it, its cache file, and its decoder.

The graph (``IndexHNSWFlat``, inner product over unit vectors, so inner product is cosine) is
built once per vocabulary and parameters, on one thread, in chunks, so that the same vectors give
the same file byte for byte and a build can show its progress and stop between chunks. Like every
cache file it is published with a whole-file digest, checked before faiss maps it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from tqdm.auto import tqdm

from ..cache import ensure_checked
from .exact import ExactDecoder, Hints

#: Rows added per step: a build reports progress and can stop between steps.
CHUNK = 20_000
#: The level generator's seed: faiss seeds every HNSW's generator with 12345 (recorded in the manifest).
HNSW_SEED = 12345
#: Bump when the file's layout or the way it is built changes.
FORMAT = 1


class BuildCancelled(Exception):
    """A background build was asked to stop (the process is exiting); nothing was published."""


def build_hnsw(unit_vectors: np.ndarray, m: int, ef_construction: int, *, description: str | None = None,
               stop: threading.Event | None = None, progress: Callable[[int], None] | None = None) -> faiss.IndexHNSWFlat:
    """An ``IndexHNSWFlat`` (inner product) over the rows of ``unit_vectors`` (item i is row i).

    Built on one thread in chunks of ``CHUNK`` rows: deterministic (faiss' parallel insertion is
    not), and it leaves the other cores to the queries that run meanwhile.

    :param description: show a progress bar on stderr (when it is a terminal) with this label.
    :param stop: checked between chunks; when set, the build raises :class:`BuildCancelled`.
    :param progress: called with the rows added so far after each chunk.
    """
    n_items, dim = unit_vectors.shape
    index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    threads = faiss.omp_get_max_threads()
    # NOTE: OpenMP's thread count is per calling thread (libgomp's nthreads-var), so this neither
    # slows nor races the caller's own faiss searches; it is restored for this thread afterwards.
    faiss.omp_set_num_threads(1)
    try:
        with tqdm(total=n_items, desc=description, unit="word", leave=False, mininterval=0.5,
                  disable=True if description is None else None) as bar:
            for start in range(0, n_items, CHUNK):
                if stop is not None and stop.is_set():
                    raise BuildCancelled("the HNSW build was stopped before it finished")
                chunk = np.ascontiguousarray(unit_vectors[start : start + CHUNK], dtype=np.float32)
                index.add(chunk)
                bar.update(len(chunk))
                if progress is not None:
                    progress(start + len(chunk))
    finally:
        faiss.omp_set_num_threads(threads)
    return index


def hnsw_meta(n_items: int, dim: int, m: int, ef_construction: int) -> dict[str, Any]:
    """What a published HNSW file must be: its manifest's ``meta``, compared exactly before faiss maps it."""
    return {"kind": "hnsw", "format": FORMAT, "n_items": n_items, "dim": dim, "m": m,
            "ef_construction": ef_construction, "seed": HNSW_SEED, "metric": "inner_product"}


def ensure_hnsw(path: Path, unit_vectors: np.ndarray, m: int, ef_construction: int, *,
                description: str | None = "fuzzykv: indexing vocabulary (hnsw)",
                stop: threading.Event | None = None, progress: Callable[[int], None] | None = None) -> Path:
    """The HNSW file at ``path`` verified whole, else built and published first (one call before mapping).

    :raises CacheError: it is missing or damaged and the cache cannot be written.
    :raises BuildCancelled: ``stop`` was set during the build.
    """
    n_items, dim = unit_vectors.shape

    def build(staging: Path) -> None:
        index = build_hnsw(unit_vectors, m, ef_construction, description=description, stop=stop, progress=progress)
        faiss.write_index(index, str(staging))

    return ensure_checked(path, build, **hnsw_meta(n_items, dim, m, ef_construction))


def load_checked(path: Path, unit_vectors: np.ndarray, m: int, ef_construction: int, *,
                 description: str | None = "fuzzykv: indexing vocabulary (hnsw)",
                 stop: threading.Event | None = None,
                 progress: Callable[[int], None] | None = None) -> faiss.IndexHNSWFlat:
    """The HNSW index at ``path`` over ``unit_vectors``, verified whole (xxh3 of every byte) and then
    mapped (``IO_FLAG_MMAP_IFC``: the vectors and the graph's neighbour lists stay in the page cache,
    shared between processes); built and published first if it is missing or damaged.

    NOTE: faiss trusts the bytes it reads (a garbled neighbour list is an out-of-bounds read in
    C++), so nothing unverified reaches it.
    """
    ensure_hnsw(path, unit_vectors, m, ef_construction, description=description, stop=stop, progress=progress)
    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    _check_loaded(index, unit_vectors, m)
    assert isinstance(index, faiss.IndexHNSWFlat)
    return index


def _check_loaded(index: faiss.Index, unit_vectors: np.ndarray, m: int) -> None:
    """A loaded index must be the graph it is named after: its type, metric, count and sampled rows."""
    n_items, dim = unit_vectors.shape
    if not isinstance(index, faiss.IndexHNSWFlat) or index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise ValueError(f"the file holds a {type(index).__name__}, not an inner-product IndexHNSWFlat")
    if index.ntotal != n_items or index.d != dim:
        raise ValueError(f"the HNSW index holds {index.ntotal} x {index.d} vectors, expected {n_items} x {dim}")
    links = int(index.hnsw.nb_neighbors(0))  # type: ignore[attr-defined]  # NOTE: faiss' stubs lag its API
    if links != 2 * m:
        raise ValueError(f"the HNSW index has M={links // 2}, expected {m}")
    storage = faiss.downcast_index(index.storage)
    for item in np.linspace(0, n_items - 1, num=min(n_items, 16), dtype=np.int64):
        if not np.array_equal(storage.reconstruct(int(item)), unit_vectors[item].astype(np.float32)):
            raise ValueError(f"HNSW index row {item} does not match the vocabulary it is named after")


class HNSWDecoder:
    """Approximate cosine search through the HNSW graph (``ef_search`` candidates kept), re-scored
    exactly as the exact decoder scores them, so every returned score is the true cosine.
    """

    kind = "hnsw"

    def __init__(self, index: faiss.IndexHNSWFlat, unit_vectors: np.ndarray, ef_search: int,
                 exact: ExactDecoder | None = None) -> None:
        self._index = index
        self._unit = unit_vectors
        self._ef_search = ef_search
        self._exact = exact or ExactDecoder(unit_vectors)

    def neighbours(self, vectors: np.ndarray, n: int, ef_search: int) -> np.ndarray:
        """The graph's ``n`` nearest rows of each vector (-1 where it found fewer): a bounded cost per vector."""
        queries = _unit_rows(vectors)
        params = faiss.SearchParametersHNSW(efSearch=max(ef_search, n))  # type: ignore[attr-defined]
        _, ids = self._index.search(queries, n, params=params)
        return np.asarray(ids, dtype=np.int64)

    def search(self, vectors: np.ndarray, k: int, hints: Hints | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The graph's ``k`` nearest of each vector, and its hinted rows, re-scored exactly; best first."""
        k = min(k, len(self._unit))
        queries = _unit_rows(vectors)
        found_all = self.neighbours(queries, k, self._ef_search)
        ids = np.empty((len(vectors), k), dtype=np.int64)
        sims = np.empty((len(vectors), k), dtype=np.float32)
        for row, found in enumerate(found_all):
            if hints is not None and len(hints[row]):
                found = np.unique(np.concatenate((found, hints[row])))
            found = found[found >= 0]
            if len(found) < k:  # a graph search can come back short; never answer short
                exact_ids, exact_sims = self._exact.search(vectors[row : row + 1], k)
                ids[row], sims[row] = exact_ids[0], exact_sims[0]
                continue
            found_sims = self._unit[found] @ queries[row]
            order = np.argsort(-found_sims, kind="stable")[:k]
            ids[row] = found[order]
            sims[row] = found_sims[order]
        return ids, sims


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    rows = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", rows, rows))[:, None]
    out: np.ndarray = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
    return out
