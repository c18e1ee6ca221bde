"""Annoy recall against exact decode as n_trees and search_k vary; the basis of the defaults.

    python benchmarks/annoy_recall.py      # writes benchmarks/results/annoy_recall.json

The decoded vectors are the blends of random stores of frequent words, both attention modes, made
through the public API: what the decoder sees in use. Times are per query, next to exact decode
and gensim's similar_by_vector of the same vectors, measured in the same run.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from fuzzykv import Database
from fuzzykv.cache import CacheLayout
from fuzzykv.index import IndexSettings, VocabularyIndex

N_TREES = (10, 20, 40)
SEARCH_K = (1_000, 3_000, 10_000, 30_000)


def blended_vectors(stores: int = 100, seed: int = 1) -> np.ndarray:
    rng = random.Random(seed)
    db = Database({})
    common = db.embeddings.words[100:50_000]
    vectors = []
    for _ in range(stores):
        n = rng.randint(3, 30)
        words = rng.sample(common, 2 * n + 5)
        pairs = dict(zip(words[:n], words[n : 2 * n]))
        for similarity in ("cosine", "dot"):
            store = Database(pairs, similarity=similarity)
            vectors.extend(store.search(q, exact=True, attention_k=1).vector for q in words[2 * n :])
    return np.stack(vectors)


def per_query_ms(search, vectors: np.ndarray, k: int) -> float:
    times = []
    for vector in vectors:
        start = time.perf_counter()
        search(vector, k)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main(out: Path = Path(__file__).parent / "results" / "annoy_recall.json") -> dict:
    vectors = blended_vectors()
    embeddings = Database({}).embeddings
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        exact = VocabularyIndex(embeddings, IndexSettings(), CacheLayout(Path(folder))).exact()
        truth, _ = exact.search(vectors, 10)
        exact_ms = per_query_ms(lambda v, k: exact.search(v[None, :], k), vectors[:300], 10)
        kv = embeddings.keyed_vectors
        kv.fill_norms()
        gensim_ms = per_query_ms(lambda v, k: kv.similar_by_vector(v, topn=k), vectors[:300], 10)
        for n_trees in N_TREES:
            for search_k in SEARCH_K:
                index = VocabularyIndex(embeddings, IndexSettings(None, n_trees, search_k), CacheLayout(Path(folder)))
                start = time.perf_counter()
                decoder = index.approximate()
                ready_s = time.perf_counter() - start
                found, _ = decoder.search(vectors, 10)
                rows.append({
                    "n_trees": n_trees,
                    "search_k": search_k,
                    "recall@5": float(np.mean([len(set(f[:5]) & set(t[:5])) / 5 for f, t in zip(found, truth)])),
                    "recall@10": float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])),
                    "ms_per_query": per_query_ms(lambda v, k: decoder.search(v[None, :], k), vectors[:300], 10),
                    "build_or_load_s": ready_s,
                    "index_mb": index.annoy_path().stat().st_size / 1e6,
                })
                print(rows[-1])
    report = {"cores": os.cpu_count(), "queries": len(vectors), "exact_ms_per_query": exact_ms,
              "gensim_ms_per_query": gensim_ms, "rows": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"exact {exact_ms:.2f} ms/query, gensim similar_by_vector {gensim_ms:.2f} ms/query")
    return report


if __name__ == "__main__":
    main()
