"""Annoy recall against exact decode as n_trees and search_k vary; build time, size and load time.
(benchmarks/index_recall.py sets annoy against the HNSW graph.)

    python benchmarks/annoy_recall.py      # writes results/annoy_recall.json and recall_vs_speed.png

Vectors are blends of the realistic workload (benchmarks/workload.py: stores of 6, 1,000 and
100,000 pairs from the whole vocabulary). Times are per single query, in the same run as gensim's
similar_by_vector of the same vectors, taking turns by blocks.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from common import plot, summary, write
from workload import blends, interleaved_ms, workload

from fuzzykv import Database, Embeddings
from fuzzykv.cache import CacheLayout
from fuzzykv.search.decode import DEFAULT_N_TREES, DEFAULT_SEARCH_K, IndexSettings, VocabularyIndex
from fuzzykv.search.exact import Decoder

N_TREES = (10, 20, 40, 80)
SEARCH_K = (1_000, 3_000, 10_000, 30_000)


def search_one(decoder: Decoder, vector: np.ndarray) -> object:
    return decoder.search(vector[None, :], 10)


def recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found.tolist(), truth.tolist())]))


def workload_blends(per_store: int = 200) -> np.ndarray:
    """Blends of first-pass queries to realistic stores, small to big."""
    out = []
    for n in (6, 1_000, 100_000):
        pairs, texts = workload(n, per_store)
        out.append(blends(Database(pairs), texts))
    return np.concatenate(out)


def main() -> dict[str, Any]:
    vectors = workload_blends()
    timed = list(vectors[::4][:150])
    embeddings = Database({}).embeddings
    assert isinstance(embeddings, Embeddings)
    kv = embeddings.keyed_vectors
    kv.fill_norms()
    gensim_times: list[float] = []
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        layout = CacheLayout(Path(folder))
        truth, _ = VocabularyIndex(embeddings, IndexSettings(), layout).exact().search(vectors, 10)
        for n_trees in N_TREES:
            start = time.perf_counter()
            VocabularyIndex(embeddings, IndexSettings(None, n_trees, index="annoy"), layout).approximate()
            build_s = time.perf_counter() - start
            for search_k in SEARCH_K:
                index = VocabularyIndex(embeddings, IndexSettings(None, n_trees, search_k, index="annoy"), layout)
                start = time.perf_counter()
                decoder = index.approximate()
                load_s = time.perf_counter() - start
                found, _ = decoder.search(vectors, 10)
                times = interleaved_ms({"gensim": lambda v: kv.similar_by_vector(v, topn=10),
                                        "annoy": partial(search_one, decoder)}, timed)
                gensim_times += times["gensim"]
                speed = summary(times["annoy"])
                peer = statistics.median(times["gensim"])
                rows.append({
                    "n_trees": n_trees, "search_k": search_k,
                    "recall@5": recall(found, truth, 5), "recall@10": recall(found, truth, 10),
                    **speed, "vs_gensim": peer / speed["median_ms"],
                    "build_s": build_s, "load_s": load_s, "index_mb": index.annoy_path().stat().st_size / 1e6,
                })
                print(rows[-1], flush=True)
    gensim = summary(gensim_times)
    report = {"queries": len(vectors), "workload": "benchmarks/workload.py", "gensim_similar_by_vector": gensim,
              "default": {"n_trees": DEFAULT_N_TREES, "search_k": DEFAULT_SEARCH_K}, "rows": rows}
    write("annoy_recall", report)

    def draw(axes: Any) -> None:
        for n_trees in N_TREES:
            mine = [r for r in rows if r["n_trees"] == n_trees]
            axes.plot([r["median_ms"] for r in mine], [r["recall@5"] for r in mine], marker="o",
                      label=f"{n_trees} trees")
            for r in mine:
                axes.annotate(f"{r['search_k']:,}", (r["median_ms"], r["recall@5"]), fontsize=7, alpha=0.7)
        axes.axhline(0.95, color="grey", linestyle="--", linewidth=1)
        axes.axvline(gensim["median_ms"], color="red", linestyle=":", label="gensim similar_by_vector")
        axes.set_xscale("log")
        axes.set_xlabel("median ms per query (labels: search_k)")
        axes.set_ylabel("recall@5 against exact decode")
        axes.set_title("annoy over GloVe 6B 50d (400,000 words)")
        axes.legend()

    try:
        plot("recall_vs_speed", draw)
    except ImportError:  # matplotlib is optional: the JSON holds every figure
        print("matplotlib is not installed: no plot")
    return report


if __name__ == "__main__":
    main()
