"""query_batch throughput against batch size, annoy and exact decode; gensim per query as the peer.

    python benchmarks/batch.py             # writes results/batch.json and batch_throughput.png
"""

from __future__ import annotations

import time

import numpy as np
from common import plot, summary, timings_ms, write

from fuzzykv import Database

SIZES = (1, 10, 100, 1_000)


def main() -> dict:
    db = Database({"one": "number", "cat": "animal", "dog": "animal", "ball": "toy", "sphere": "shape", "male": "gender"})
    embeddings = db.embeddings
    texts = [w for w in embeddings.words[1_000:30_000] if w.isalpha()][:1_000]
    kv = embeddings.keyed_vectors
    kv.fill_norms()
    blends = [db.search(t, exact=True, attention_k=1).vector for t in texts[:200]]
    gensim = summary(timings_ms(lambda v: kv.similar_by_vector(v, topn=5), blends))
    rows = []
    for exact in (False, True):
        for size in SIZES:
            batches = [texts[i : i + size] for i in range(0, len(texts), size)][: max(3, 1_000 // size)]
            db.query_batch(batches[0], exact=exact)
            start = time.perf_counter()
            for batch in batches:
                db.query_batch(batch, exact=exact)
            per_query = (time.perf_counter() - start) * 1e3 / sum(len(b) for b in batches)
            rows.append({"decode": "exact" if exact else "annoy", "batch": size, "ms_per_query": per_query,
                         "queries_per_s": 1e3 / per_query, "vs_gensim": gensim["median_ms"] / per_query})
            print(rows[-1], flush=True)
    report = {"gensim_similar_by_vector": gensim, "rows": rows}
    write("batch", report)

    def draw(axes) -> None:
        for decode in ("annoy", "exact"):
            mine = [r for r in rows if r["decode"] == decode]
            axes.plot([r["batch"] for r in mine], [r["queries_per_s"] for r in mine], marker="o", label=f"query_batch, {decode}")
        axes.axhline(1e3 / gensim["median_ms"], color="red", linestyle=":", label="gensim similar_by_vector, one by one")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("batch size")
        axes.set_ylabel("queries per second")
        axes.set_title("fuzzykv query_batch throughput (decode only for gensim)")
        axes.legend()

    plot("batch_throughput", draw)
    return report


if __name__ == "__main__":
    main()
