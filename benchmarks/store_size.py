"""Store size from 10 to 1,000,000 keys: query time, memory per key, time to build the store;
attention alone against a bare numpy matrix-vector product over the same key matrix (the
memory-bandwidth floor); and, from 10,000 keys, attend_to="index" against full attention
(speed-up, and agreement of the exact decode's answers).

    python benchmarks/store_size.py        # writes results/store_size.json and store_size.png

Pairs and queries are the realistic workload (benchmarks/workload.py): the whole vocabulary,
distinct values, queries never repeated, each timed once (a first pass). The peer is a 6-pair store
of the same workload, queried in the same run, by turns with each size. The decode alone (annoy,
on the same blends) is timed beside each store, to show its share of the query.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from common import plot, summary, write
from workload import blends, interleaved_ms, workload

from fuzzykv import Database
from fuzzykv.pairs import ARRAYS
from fuzzykv.search.threads import one_torch_thread

SIZES = (10, 100, 1_000, 10_000, 100_000, 1_000_000)
QUERIES = 100
AGREEMENT_QUERIES = 200


def memory_per_key(db: Database) -> float:
    """Bytes the pairs take in memory: vector arrays (with their spare capacity), maps, strings."""
    with db._synced.reading() as pairs:
        arrays = sum(getattr(pairs, name).nbytes for name in ARRAYS)
        maps = sum(sys.getsizeof(v) for v in vars(pairs).values() if isinstance(v, (dict, list)))
        strings = sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in pairs.items())
        strings += sum(sys.getsizeof(row) for row in pairs._row_of.values() if row > 256)  # ints past the cached ones
        return (arrays + maps + strings) / max(len(pairs), 1)


def one_thread_product(keys: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """The floor as a single query below 262,144 keys runs it: one thread (numpy's product uses both cores)."""
    with one_torch_thread():
        return torch.mv(keys, query)


def measure(n: int, writeup: Database) -> tuple[dict[str, Any], list[float]]:
    """A store of ``n`` pairs against the 6-pair store, by turns: its row, and the 6-pair store's times."""
    pairs, texts = workload(n, 2 * QUERIES + 2)
    start = time.perf_counter()
    db = Database(pairs)
    build_s = time.perf_counter() - start
    index = writeup._pipeline.index
    assert index is not None
    decoder = index.approximate()
    vectors = blends(db, texts[QUERIES:])
    queries = db._embed_queries(texts[QUERIES:]).vectors
    with db._synced.reading() as held:
        key_matrix = held.key_units  # the (n, 50) float32 matrix full attention reads first
    key_tensor, query_tensors = torch.from_numpy(key_matrix), torch.from_numpy(queries)
    calls: dict[str, Callable[[int], object]] = {
        "six": lambda i: writeup.query(texts[i]),
        "store": lambda i: db.query(texts[QUERIES + 1 + i]),
        "decode": lambda i: decoder.search(vectors[i + 1][None, :], 5),
        "attention": lambda i: db._parts(queries[i + 1][None, :], 2),
        "floor": lambda i: key_matrix @ queries[i + 1],
        "one_thread_floor": lambda i: one_thread_product(key_tensor, query_tensors[i + 1]),
    }
    times = interleaved_ms(calls, list(range(QUERIES + 1)), warmup=1)
    query, six, decode = summary(times["store"]), summary(times["six"]), summary(times["decode"])
    attention, floor, one_thread = summary(times["attention"]), summary(times["floor"]), summary(times["one_thread_floor"])
    row: dict[str, Any] = {
        "keys": n, "build_s": build_s, "memory_bytes_per_key": memory_per_key(db), **query,
        "vs_6_keys": query["median_ms"] / six["median_ms"], "six_keys_median_ms": six["median_ms"],
        "decode_alone_median_ms": decode["median_ms"], "decode_share": decode["median_ms"] / query["median_ms"],
        "attention_median_ms": attention["median_ms"], "numpy_floor_median_ms": floor["median_ms"],
        "attention_vs_floor": attention["median_ms"] / floor["median_ms"],
        "one_thread_floor_median_ms": one_thread["median_ms"],
        "attention_vs_one_thread_floor": attention["median_ms"] / one_thread["median_ms"],
    }
    if n >= 10_000:
        row["topk"] = topk_against_full(pairs, texts[:QUERIES], db, query["median_ms"])
    print({k: v for k, v in row.items() if k != "topk"}, flush=True)
    return row, times["six"]


def main(sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    small_pairs, _ = workload(6)
    writeup = Database(small_pairs)
    baseline_times: list[float] = []
    rows = []
    for n in sizes:
        row, six = measure(n, writeup)
        rows.append(row)
        baseline_times += six
    baseline = summary(baseline_times)
    report = {"baseline_6_keys": baseline, "rows": rows}
    write("store_size", report)

    def draw(axes: Any) -> None:
        axes.plot([r["keys"] for r in rows], [r["median_ms"] for r in rows], marker="o", label="query, full attention")
        big = [r for r in rows if "topk" in r]
        axes.plot([r["keys"] for r in big], [r["topk"]["median_ms"] for r in big], marker="s",
                  label='query, attend_to="index"')
        axes.axhline(baseline["median_ms"], color="grey", linestyle=":", label="the write-up's 6-key store")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("keys in the store")
        axes.set_ylabel("median ms per query (annoy decode)")
        axes.set_title("query time against store size")
        axes.legend()

    try:
        plot("store_size", draw)
    except ImportError:  # matplotlib is optional: the JSON holds every figure
        print("matplotlib is not installed: no plot")
    return report


def topk_against_full(pairs: dict[str, str], texts: list[str], full: Database, full_ms: float) -> dict[str, Any]:
    """Speed-up of attend_to="index" and its agreement with full attention (exact decode for both)."""
    topk = Database(pairs, attend_to="index")
    start = time.perf_counter()
    topk.query(texts[0])  # builds the key index
    index_s = time.perf_counter() - start
    query = summary([ms for ms in interleaved_ms({"topk": topk.query}, texts, warmup=1)["topk"]])
    texts = texts[:AGREEMENT_QUERIES]
    a = full.query_batch(texts, k=5, exact=True)
    b = topk.query_batch(texts, k=5, exact=True)
    return {
        **query,
        "speedup": full_ms / query["median_ms"],
        "key_index_build_s": index_s,
        "top1_agreement": float(np.mean([x[0] == y[0] for x, y in zip(a, b)])),
        "top5_overlap": float(np.mean([len(set(x) & set(y)) / 5 for x, y in zip(a, b)])),
        "candidates": topk.settings.attend_top,
    }


if __name__ == "__main__":
    main(tuple(int(a) for a in sys.argv[1:]) or SIZES)
