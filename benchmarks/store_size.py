"""Store size from 10 to 1,000,000 keys: query time, memory per key, time to build the store;
and, at 1,000,000 keys, attention="topk" against full attention (speed-up and agreement).

    python benchmarks/store_size.py        # writes results/store_size.json and store_size.png

Keys are words, then two-word phrases (benchmarks/common.py). The peer is the write-up's 6-key
store, queried in the same run.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from common import make_pairs, plot, summary, timings_ms, write

from fuzzykv import Database

SIZES = (10, 100, 1_000, 10_000, 100_000, 1_000_000)
QUERIES = ["rhombus", "seven", "female", "azure", "kitten", "guitar", "monday", "river", "doctor", "pencil"] * 10
AGREEMENT_QUERIES = 200


def memory_per_key(db: Database) -> float:
    """Bytes the pairs take in memory: vector arrays (with their spare capacity), maps, strings."""
    pairs = db._pairs
    arrays = pairs._key_vectors.nbytes + pairs._value_vectors.nbytes + pairs._key_norms.nbytes
    maps = sys.getsizeof(pairs._values) + sys.getsizeof(pairs._row_of) + sys.getsizeof(pairs.row_keys)
    strings = sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in pairs.items())
    return (arrays + maps + strings) / max(len(pairs), 1)


def main(sizes: tuple[int, ...] = SIZES) -> dict:
    writeup = Database({"one": "number", "cat": "animal", "dog": "animal", "ball": "toy", "sphere": "shape", "male": "gender"})
    baseline = summary(timings_ms(lambda t: writeup.query(t), QUERIES))
    rows = []
    for n in sizes:
        pairs = make_pairs(n)
        start = time.perf_counter()
        db = Database(pairs)
        build_s = time.perf_counter() - start
        query = summary(timings_ms(lambda t: db.query(t), QUERIES))
        row = {"keys": n, "build_s": build_s, "memory_bytes_per_key": memory_per_key(db), **query,
               "vs_6_keys": query["median_ms"] / baseline["median_ms"]}
        if n >= 100_000:
            row["topk"] = topk_against_full(pairs, db, query["median_ms"])
        rows.append(row)
        print(row, flush=True)
        del db, pairs
    report = {"baseline_6_keys": baseline, "rows": rows}
    write("store_size", report)

    def draw(axes) -> None:
        axes.plot([r["keys"] for r in rows], [r["median_ms"] for r in rows], marker="o", label="query, full attention")
        big = [r for r in rows if "topk" in r]
        axes.plot([r["keys"] for r in big], [r["topk"]["median_ms"] for r in big], marker="s", label='query, attention="topk"')
        axes.axhline(baseline["median_ms"], color="grey", linestyle=":", label="the write-up's 6-key store")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("keys in the store")
        axes.set_ylabel("median ms per query (annoy decode)")
        axes.set_title("query time against store size")
        axes.legend()

    plot("store_size", draw)
    return report


def topk_against_full(pairs: dict[str, str], full: Database, full_ms: float) -> dict:
    """Speed-up of attention="topk" and its agreement with full attention (exact decode for both)."""
    topk = Database(pairs, attention="topk")
    start = time.perf_counter()
    topk.query("seven")  # builds the key index
    index_s = time.perf_counter() - start
    query = summary(timings_ms(lambda t: topk.query(t), QUERIES))
    texts = [w for w in full.embeddings.words[1_000:60_000:250] if w.isalpha()][:AGREEMENT_QUERIES]
    a = full.query_batch(texts, k=5, exact=True)
    b = topk.query_batch(texts, k=5, exact=True)
    return {
        **query,
        "speedup": full_ms / query["median_ms"],
        "key_index_build_s": index_s,
        "top1_agreement": float(np.mean([x[0] == y[0] for x, y in zip(a, b)])),
        "top5_overlap": float(np.mean([len(set(x) & set(y)) / 5 for x, y in zip(a, b)])),
        "candidates": topk._mode.candidates,
    }


if __name__ == "__main__":
    main(tuple(int(a) for a in sys.argv[1:]) or SIZES)
