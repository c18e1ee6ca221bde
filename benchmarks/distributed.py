"""ShardedDatabase over 1, 2 and 4 shard actors against one Database holding the same pairs.

    python benchmarks/distributed.py                  # 1,000,000 keys; writes results/distributed.json
    python benchmarks/distributed.py --keys 200000    # a quicker run

Per store: build time, per-query latency (``query``, annoy decode), batch throughput
(``query_batch`` of 32), resident memory of each shard actor, and how many answers equal one
Database's. On a 2-core machine the shards share the two cores with the driver, so this measures
the cost of sharding (messages, merge), not its speed-up; the README works the cluster case on paper.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import ray
from common import make_pairs, summary, timings_ms, write

from fuzzykv import Database
from fuzzykv.distributed import ShardedDatabase

BATCH = 32
SINGLE = 60
BATCHES = 6


def rss_mb(pid: int) -> float:
    """Resident memory of a process on this machine (Linux), in MiB."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(store: Any, queries: list[str]) -> dict[str, Any]:
    """Latency of single queries and throughput of batches, annoy decode (the default)."""
    single = summary(timings_ms(lambda q: store.query(q), queries[:SINGLE]))
    batches = [queries[i : i + BATCH] for i in range(0, BATCH * BATCHES, BATCH)]
    store.query_batch(batches[0])
    start = time.perf_counter()
    for batch in batches:
        store.query_batch(batch)
    seconds = time.perf_counter() - start
    return {"query": single, "queries_per_s_single": 1e3 / single["median_ms"],
            "queries_per_s_batch": BATCH * len(batches) / seconds}


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4])
    keys = parser.parse_args().keys
    shard_counts = parser.parse_args().shards
    pairs = make_pairs(keys)
    words = [w for w in Database({}).embeddings.words[1_000:30_000] if w.isalpha()]
    queries = words[:: max(1, len(words) // (SINGLE + BATCH * BATCHES))][: SINGLE + BATCH * BATCHES]
    rows: list[dict[str, Any]] = []

    before = rss_mb(os.getpid())
    start = time.perf_counter()
    db = Database(pairs)
    built = time.perf_counter() - start
    reference = db.query_batch(queries[:BATCH])
    row = {"store": "Database", "shards": 0, "build_s": built, "memory_mb": [rss_mb(os.getpid()) - before],
           **measure(db, queries)}
    rows.append(row)
    print(row, flush=True)

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {k: v for k, v in os.environ.items() if k == "FUZZYKV_CACHE"}})
    for shards in shard_counts:
        start = time.perf_counter()
        sharded = ShardedDatabase(pairs, shards=shards)
        built = time.perf_counter() - start
        pids = [d["pid"] for d in ray.get([a.describe.remote() for a in sharded.actors])]
        same = sum(a == b for a, b in zip(reference, sharded.query_batch(queries[:BATCH])))
        row = {"store": "ShardedDatabase", "shards": shards, "build_s": built,
               "memory_mb": [rss_mb(pid) for pid in pids], "same_answers": f"{same}/{BATCH}", **measure(sharded, queries)}
        rows.append(row)
        print(row, flush=True)
        sharded.close()
    ray.shutdown()
    report = {"keys": keys, "batch": BATCH, "decode": "annoy", "rows": rows}
    write("distributed", report)
    return report


if __name__ == "__main__":
    main()
