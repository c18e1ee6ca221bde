"""One query's decode: fuzzykv against gensim and a numpy brute force, on the same blended vectors.

    python benchmarks/decode.py            # writes results/decode.json

The peer is gensim's KeyedVectors.similar_by_vector, which a user of GloVe already has; a numpy
brute force (matrix-vector product and argpartition) is the plain baseline. Queries go to random
stores (benchmarks/common.py). fuzzykv is timed two ways: its decoders alone on the bare blended
vector, and a whole `Database.query`, whose decode also has the hints the store gives it.
"""

from __future__ import annotations

import numpy as np
from common import random_stores, summary, timings_ms, write

K = 5


def overlap(found: list[list[str]], truth: list[list[str]]) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth)]))


def main() -> dict:
    cases = [(db, q) for db, queries in random_stores(stores=40, seed=2) for q in queries][:400]
    db0 = cases[0][0]
    embeddings, index = db0.embeddings, db0._index
    blends = [db.search(q, exact=True, attention_k=1).vector for db, q in cases]
    annoy, exact = index.approximate(), index.exact()
    kv = embeddings.keyed_vectors
    kv.fill_norms()
    unit = embeddings.unit_vectors

    def brute(vector: np.ndarray) -> np.ndarray:
        scores = unit @ (vector / np.linalg.norm(vector))
        top = np.argpartition(-scores, K)[:K]
        return top[np.argsort(-scores[top])]

    timed = {
        "gensim_similar_by_vector": timings_ms(lambda v: kv.similar_by_vector(v, topn=K), blends),
        "numpy_brute_force": timings_ms(brute, blends),
        "fuzzykv_exact_decoder_alone": timings_ms(lambda v: exact.search(v[None, :], K), blends),
        "fuzzykv_annoy_decoder_alone": timings_ms(lambda v: annoy.search(v[None, :], K), blends),
        "fuzzykv_query_annoy": timings_ms(lambda c: c[0].query(c[1], k=K), cases),
        "fuzzykv_query_exact": timings_ms(lambda c: c[0].query(c[1], k=K, exact=True), cases),
    }
    rows = {name: summary(times) for name, times in timed.items()}
    gensim = rows["gensim_similar_by_vector"]["median_ms"]
    for row in rows.values():
        row["vs_gensim"] = gensim / row["median_ms"]
    words = embeddings.words
    truth = [c[0].query(c[1], k=K, exact=True) for c in cases]
    rows["fuzzykv_query_annoy"]["recall@5"] = overlap([c[0].query(c[1], k=K) for c in cases], truth)
    rows["fuzzykv_annoy_decoder_alone"]["recall@5"] = overlap(
        [[words[i] for i in annoy.search(v[None, :], K)[0][0]] for v in blends], truth)
    rows["fuzzykv_query_exact"]["equals_gensim"] = all(
        t == [w for w, _ in kv.similar_by_vector(v, topn=K)] for v, t in zip(blends, truth))
    report = {"queries": len(cases), "k": K, "rows": rows}
    write("decode", report)
    for name, row in rows.items():
        print(f"{name:30s} {row['median_ms']:7.3f} ms median {row['p99_ms']:7.3f} p99  {row['vs_gensim']:5.1f}x gensim"
              + (f"  recall@5 {row['recall@5']:.3f}" if "recall@5" in row else ""))
    return report


if __name__ == "__main__":
    main()
