"""Single-query decode of the same blended vectors: fuzzykv's annoy and exact decode, gensim, numpy.

    python benchmarks/decode.py            # writes results/decode.json

The peer is gensim's KeyedVectors.similar_by_vector, which a user of GloVe already has; a numpy
brute force (matrix-vector product and argpartition) is the plain baseline. Also end to end:
Database.query on the write-up's store, annoy and exact.
"""

from __future__ import annotations

import numpy as np
from common import blended_vectors, summary, timings_ms, write

from fuzzykv import Database

K = 5


def recall(found: list[list[int]], truth: list[list[int]]) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth)]))


def main() -> dict:
    db = Database({"one": "number", "cat": "animal", "dog": "animal", "ball": "toy", "sphere": "shape", "male": "gender"})
    embeddings = db.embeddings
    vectors = blended_vectors(stores=40, seed=2)[:400]
    index = db._index  # the decoder a store uses, as it uses it
    annoy = index.approximate()
    exact = index.exact()
    kv = embeddings.keyed_vectors
    kv.fill_norms()
    unit = embeddings.unit_vectors

    def brute(vector: np.ndarray) -> np.ndarray:
        scores = unit @ (vector / np.linalg.norm(vector))
        top = np.argpartition(-scores, K)[:K]
        return top[np.argsort(-scores[top])]

    truth = [exact.search(v[None, :], K)[0][0].tolist() for v in vectors]
    timed = {
        "gensim_similar_by_vector": timings_ms(lambda v: kv.similar_by_vector(v, topn=K), vectors),
        "numpy_brute_force": timings_ms(brute, vectors),
        "fuzzykv_exact": timings_ms(lambda v: exact.search(v[None, :], K), vectors),
        "fuzzykv_annoy": timings_ms(lambda v: annoy.search(v[None, :], K), vectors),
    }
    rows = {name: summary(times) for name, times in timed.items()}
    gensim = rows["gensim_similar_by_vector"]["median_ms"]
    for row in rows.values():
        row["vs_gensim"] = gensim / row["median_ms"]
    rows["fuzzykv_annoy"]["recall@5"] = recall([annoy.search(v[None, :], K)[0][0].tolist() for v in vectors], truth)
    rows["fuzzykv_exact"]["equals_gensim"] = all(
        [embeddings.words[i] for i in t] == [w for w, _ in kv.similar_by_vector(v, topn=K)] for v, t in zip(vectors, truth)
    )
    queries = ["rhombus", "parabola", "female", "seven", "seventy", "cylinder"] * 40
    rows["query_end_to_end_annoy"] = summary(timings_ms(lambda t: db.query(t), queries))
    rows["query_end_to_end_exact"] = summary(timings_ms(lambda t: db.query(t, exact=True), queries))
    report = {"vectors": len(vectors), "k": K, "rows": rows}
    write("decode", report)
    for name, row in rows.items():
        print(f"{name:26s} {row['median_ms']:7.3f} ms median {row['p99_ms']:7.3f} p99  {row.get('vs_gensim', float('nan')):5.1f}x gensim")
    return report


if __name__ == "__main__":
    main()
