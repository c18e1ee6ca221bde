"""query_batch throughput against batch size, the default (HNSW) and exact decode; gensim per query as the peer.

    python benchmarks/batch.py             # writes results/batch.json and batch_throughput.png

The realistic workload (benchmarks/workload.py): a 1,000-pair store, 3,000 distinct queries;
each batch size answers new ones once (a first pass; the first batch of each is a warm-up).
gensim's similar_by_vector of the same blends is timed just before and just after each batch
size (25 fresh blends), and that median is the peer of that row: a busy moment slows both alike.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from common import plot, timings_ms, write
from workload import blends, workload

from fuzzykv import Database, Embeddings

SIZES = (1, 10, 100, 1_000)


def main() -> dict[str, Any]:
    pairs, texts = workload(1_000, 3_000)
    db = Database(pairs)
    embeddings = db.embeddings
    assert isinstance(embeddings, Embeddings)
    kv = embeddings.keyed_vectors
    kv.fill_norms()
    vectors = list(blends(db, texts[:25 * 2 * len(SIZES)]))
    gensim_times: list[float] = []
    rows: list[dict[str, Any]] = []
    for exact in (False, True):
        for size in SIZES:
            fresh = vectors[25 * len(rows) : 25 * (len(rows) + 1)]
            around = timings_ms(lambda v: kv.similar_by_vector(v, topn=5), fresh[:13])
            batches = [texts[i : i + size] for i in range(0, len(texts), size)][: 1 + max(2, min(300, 2_000 // size))]
            db.query_batch(batches[0], exact=exact)
            start = time.perf_counter()
            for batch in batches[1:]:
                db.query_batch(batch, exact=exact)
            per_query = (time.perf_counter() - start) * 1e3 / sum(len(b) for b in batches[1:])
            around += timings_ms(lambda v: kv.similar_by_vector(v, topn=5), fresh[13:])
            gensim_times += around
            rows.append({"decode": "exact" if exact else "hnsw", "batch": size, "ms_per_query": per_query,
                         "queries_per_s": 1e3 / per_query, "gensim_median_ms": statistics.median(around),
                         "vs_gensim": statistics.median(around) / per_query})
            print(rows[-1], flush=True)
    gensim = {"median_ms": statistics.median(gensim_times), "n": float(len(gensim_times))}
    report = {"workload": "benchmarks/workload.py: 1,000 pairs, 3,000 distinct queries",
              "gensim_similar_by_vector": gensim, "rows": rows}
    write("batch", report)
    for row in rows:
        print(f"{row['decode']:6s} {row['batch']:5d} {row['ms_per_query']:7.3f} ms/query"
              f" {row['vs_gensim']:5.1f}x gensim")

    def draw(axes: Any) -> None:
        for decode in ("hnsw", "exact"):
            mine = [r for r in rows if r["decode"] == decode]
            axes.plot([r["batch"] for r in mine], [r["queries_per_s"] for r in mine], marker="o",
                      label=f"query_batch, {decode}")
        axes.axhline(1e3 / gensim["median_ms"], color="red", linestyle=":",
                     label="gensim similar_by_vector, one by one")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("batch size")
        axes.set_ylabel("queries per second")
        axes.set_title("fuzzykv query_batch throughput (decode only for gensim)")
        axes.legend()

    try:
        plot("batch_throughput", draw)
    except ImportError:  # matplotlib is optional: the JSON holds every figure
        print("matplotlib is not installed: no plot")
    return report


if __name__ == "__main__":
    main()
