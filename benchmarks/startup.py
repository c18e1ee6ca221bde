"""Start-up: a fresh process to its first answer, cache warm and cold, against bare imports.

    python benchmarks/startup.py           # writes results/startup.json

The peer is a fresh process that only runs `import torch, gensim, annoy`: the libraries fuzzykv
stands on, which it cannot start faster than.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import write

PEER = "import torch, gensim, annoy"
FIRST_ANSWER = (
    "from fuzzykv import Database; "
    "print(Database({'one': 'number', 'sphere': 'shape', 'male': 'gender'}).query('rhombus'))"
)
RUNS = 7


def seconds(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> dict:
    env = dict(os.environ)
    seconds(FIRST_ANSWER, env)  # the shared cache is warm from here on
    peer, warm = [], []
    for _ in range(RUNS):  # interleaved, so both see the same machine
        peer.append(seconds(PEER, env))
        warm.append(seconds(FIRST_ANSWER, env))
    cold = []
    for _ in range(2):
        with tempfile.TemporaryDirectory() as folder:
            cold.append(seconds(FIRST_ANSWER, {**env, "FUZZYKV_CACHE": folder}))
    report = {
        "bare_imports_s": statistics.median(peer),
        "first_answer_warm_s": statistics.median(warm),
        "first_answer_warm_p99_s": max(warm),
        "first_answer_cold_s": statistics.median(cold),
        "warm_vs_bare_imports": statistics.median(warm) / statistics.median(peer),
        "runs": RUNS,
    }
    write("startup", report)
    print(report)
    return report


if __name__ == "__main__":
    main()
