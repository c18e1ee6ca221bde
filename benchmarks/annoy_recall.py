"""Annoy recall against exact decode as n_trees and search_k vary; build time, size and load time.

    python benchmarks/annoy_recall.py      # writes results/annoy_recall.json and recall_vs_speed.png

Times are per single query, in the same run as gensim's similar_by_vector of the same vectors.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from common import blended_vectors, plot, summary, timings_ms, write

from fuzzykv import Database
from fuzzykv.cache import CacheLayout
from fuzzykv.decode import DEFAULT_N_TREES, DEFAULT_SEARCH_K, IndexSettings, VocabularyIndex

N_TREES = (10, 20, 40, 80)
SEARCH_K = (1_000, 3_000, 10_000, 30_000)


def recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found.tolist(), truth.tolist())]))


def main() -> dict:
    vectors = blended_vectors()
    timed = vectors[:300]
    embeddings = Database({}).embeddings
    kv = embeddings.keyed_vectors
    kv.fill_norms()
    gensim = summary(timings_ms(lambda v: kv.similar_by_vector(v, topn=10), timed))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        layout = CacheLayout(Path(folder))
        truth, _ = VocabularyIndex(embeddings, IndexSettings(), layout).exact().search(vectors, 10)
        for n_trees in N_TREES:
            start = time.perf_counter()
            VocabularyIndex(embeddings, IndexSettings(None, n_trees), layout).approximate()
            build_s = time.perf_counter() - start
            for search_k in SEARCH_K:
                index = VocabularyIndex(embeddings, IndexSettings(None, n_trees, search_k), layout)
                start = time.perf_counter()
                decoder = index.approximate()
                load_s = time.perf_counter() - start
                found, _ = decoder.search(vectors, 10)
                speed = summary(timings_ms(lambda v: decoder.search(v[None, :], 10), timed))
                rows.append({
                    "n_trees": n_trees, "search_k": search_k,
                    "recall@5": recall(found, truth, 5), "recall@10": recall(found, truth, 10),
                    **speed, "vs_gensim": gensim["median_ms"] / speed["median_ms"],
                    "build_s": build_s, "load_s": load_s, "index_mb": index.annoy_path().stat().st_size / 1e6,
                })
                print(rows[-1], flush=True)
    report = {"queries": len(vectors), "gensim_similar_by_vector": gensim,
              "default": {"n_trees": DEFAULT_N_TREES, "search_k": DEFAULT_SEARCH_K}, "rows": rows}
    write("annoy_recall", report)

    def draw(axes) -> None:
        for n_trees in N_TREES:
            mine = [r for r in rows if r["n_trees"] == n_trees]
            axes.plot([r["median_ms"] for r in mine], [r["recall@5"] for r in mine], marker="o", label=f"{n_trees} trees")
            for r in mine:
                axes.annotate(f"{r['search_k']:,}", (r["median_ms"], r["recall@5"]), fontsize=7, alpha=0.7)
        axes.axhline(0.95, color="grey", linestyle="--", linewidth=1)
        axes.axvline(gensim["median_ms"], color="red", linestyle=":", label="gensim similar_by_vector")
        axes.set_xscale("log")
        axes.set_xlabel("median ms per query (labels: search_k)")
        axes.set_ylabel("recall@5 against exact decode")
        axes.set_title("annoy over GloVe 6B 50d (400,000 words)")
        axes.legend()

    plot("recall_vs_speed", draw)
    return report


if __name__ == "__main__":
    main()
