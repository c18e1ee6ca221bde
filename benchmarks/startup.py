"""Start-up: a fresh process to its first answer, cache warm and cold, against a bare `import torch`.

    python benchmarks/startup.py            # writes results/startup.json
    python benchmarks/startup.py 1000000    # also a store file of that many pairs (built once, in a temp folder)

Each fresh process prints the wall-clock time of its first answer; the figure is that time minus the
moment the process was spawned (what a user waits for). The peers, in the same interleaved run:
a fresh process that only runs `import torch` (the issue's yardstick), and one that runs
`import torch, gensim, annoy` (what fuzzykv stood on before the lean path).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import write

PEERS = {"import_torch": "import torch", "import_torch_gensim_annoy": "import torch, gensim, annoy"}
SIX_KEYS = (
    "import time; from fuzzykv import Database; "
    "answer = Database({'one': 'number', 'sphere': 'shape', 'male': 'gender'}).query('rhombus'); "
    "print(time.time(), answer)"
)
STORE_FILE = (
    "import sys, time; from fuzzykv import Database; db = Database.open(sys.argv[1], read_only=True); "
    "answer = db.query('scarlet'); print(time.time(), answer)"
)
RUNS = 7


def seconds(code: str, env: dict[str, str], *args: str) -> float:
    """Spawn to first answer (the time the process prints first), or to exit when it prints none."""
    start = time.time()
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, check=True, capture_output=True, text=True)
    first = done.stdout.split(maxsplit=1)
    try:
        return float(first[0]) - start
    except (IndexError, ValueError):
        return time.time() - start


def build_store(folder: Path, n: int) -> Path:
    """A store file of ``n`` pairs of the realistic workload, closed (so its pairs file is written)."""
    from workload import workload

    from fuzzykv import Database

    pairs, _ = workload(n, 10)
    path = folder / "big.fkv"
    with Database.open(path) as db:
        db.update(pairs)
    return path


def main(big: int | None = None) -> dict:
    env = dict(os.environ)
    seconds(SIX_KEYS, env)  # the shared cache is warm from here on
    with tempfile.TemporaryDirectory() as folder:
        store = build_store(Path(folder), big) if big else None
        if store is not None:
            seconds(STORE_FILE, env, str(store))  # its pages in the OS cache, as for the warm six-key store
        times: dict[str, list[float]] = {name: [] for name in [*PEERS, "six_keys", "store_file"]}
        for _ in range(RUNS):  # interleaved, so all see the same machine
            for name, code in PEERS.items():
                times[name].append(seconds(code, env))
            times["six_keys"].append(seconds(SIX_KEYS, env))
            if store is not None:
                times["store_file"].append(seconds(STORE_FILE, env, str(store)))
    cold = []
    for _ in range(2):
        with tempfile.TemporaryDirectory() as folder:
            cold.append(seconds(SIX_KEYS, {**env, "FUZZYKV_CACHE": folder}))
    median = {name: statistics.median(values) for name, values in times.items() if values}
    report = {
        "bare_import_torch_s": median["import_torch"],
        "bare_imports_s": median["import_torch_gensim_annoy"],
        "first_answer_warm_s": median["six_keys"],
        "first_answer_warm_p99_s": max(times["six_keys"]),
        "first_answer_cold_s": statistics.median(cold),
        "warm_vs_import_torch": median["six_keys"] / median["import_torch"],
        "warm_vs_bare_imports": median["six_keys"] / median["import_torch_gensim_annoy"],
        "runs": RUNS,
    }
    if big:
        report.update({"store_file_pairs": big, "store_file_first_answer_s": median["store_file"],
                       "store_file_beyond_six_keys_s": median["store_file"] - median["six_keys"]})
    write("startup", report)
    print(report)
    return report


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else None)
