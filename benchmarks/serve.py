"""The HTTP service against the same queries in process: queries per second and p50/p99 latency.

    python benchmarks/serve.py          # writes benchmarks/results/serve.json

A store of 10,000 pairs drawn from the vocabulary; every query is a distinct vocabulary word of
frequency rank 1,000 to 50,000 (fixed seed), never repeated across measurements, so no cache helps.
Over HTTP: one keep-alive ``httpx.Client`` sending one query at a time (latency), then four
client threads at once (throughput), against ``fuzzykv serve`` with 1 and 2 worker processes.
Targets: HTTP adds at most 1 ms to p50; one worker serves at least 70% of the in-process rate.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from common import make_pairs, summary, timings_ms, write

from fuzzykv import Database

PAIRS = 10_000
PER_RUN = 300
THREADS = 4


def distinct_queries(n: int, seed: int = 7) -> list[str]:
    from fuzzykv import load_embeddings

    words = [w for w in load_embeddings().words[1_000:50_000] if w.isalpha()]
    return random.Random(seed).sample(words, n)


def throughput(call: object, queries: list[str], threads: int) -> float:
    """Queries per second with ``threads`` callers at once."""
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(call, queries))  # type: ignore[arg-type]
    return len(queries) / (time.perf_counter() - start)


def start_server(store: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "fuzzykv.serve", str(store), "--port", str(port), "--workers", str(workers),
               "--no-access-log", "--log-level", "warning"]
    process = subprocess.Popen(command, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                time.sleep(3 if workers > 1 else 0)  # let every worker finish starting
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError("the service did not start in 120 s")


def over_http(url: str, sequential: list[str], concurrent: list[str]) -> dict[str, float]:
    clients = [httpx.Client(base_url=url, timeout=30) for _ in range(THREADS)]

    def ask(client: httpx.Client, text: str) -> None:
        client.post("/v1/query", json={"text": text, "k": 5}).raise_for_status()

    times = timings_ms(lambda text: ask(clients[0], text), sequential)
    per_thread = [concurrent[i::THREADS] for i in range(THREADS)]
    start = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda i: [ask(clients[i], t) for t in per_thread[i]], range(THREADS)))  # type: ignore[func-returns-value]
    rate = len(concurrent) / (time.perf_counter() - start)
    for client in clients:
        client.close()
    return {**summary(times), "qps_one_client": 1e3 / statistics.mean(times), f"qps_{THREADS}_clients": rate}


def main() -> None:
    queries = distinct_queries(PER_RUN * 6 + 20)
    runs = [queries[i * PER_RUN : (i + 1) * PER_RUN] for i in range(6)]
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "bench.fkv"
        with Database.open(store) as db:
            db.update(make_pairs(PAIRS))
            local_times = timings_ms(lambda text: db.query(text, k=5), runs[0])
            in_process = {**summary(local_times), "qps_one_thread": 1e3 / statistics.mean(local_times),
                          f"qps_{THREADS}_threads": throughput(lambda text: db.query(text, k=5), runs[1], THREADS)}
        report: dict[str, object] = {"pairs": PAIRS, "queries_per_run": PER_RUN, "in_process": in_process}
        for workers, (sequential, concurrent) in ((1, (runs[2], runs[3])), (2, (runs[4], runs[5]))):
            process, url = start_server(store, workers)
            try:
                report[f"http_{workers}_worker{'s' if workers > 1 else ''}"] = over_http(url, sequential, concurrent)
            finally:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=60)
    one = report["http_1_worker"]
    assert isinstance(one, dict)
    added = one["median_ms"] - in_process["median_ms"]
    report["targets"] = {
        "http_added_p50_ms": added,
        "p50_added_at_most_1ms": added <= 1.0,
        "one_worker_share_of_in_process_rate": one["qps_one_client"] / in_process["qps_one_thread"],
        "one_worker_at_least_70_percent": one["qps_one_client"] >= 0.7 * in_process["qps_one_thread"],
    }
    path = write("serve", report)
    print(path.read_text())


if __name__ == "__main__":
    main()
