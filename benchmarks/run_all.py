"""The speed benchmarks, one command; writes benchmarks/results/*.json and *.png, and summary.json,
then docs/benchmarks.md's figures (and README.md's headline figures) from every results file.

    python benchmarks/run_all.py

Three longer ones run on their own and are read from their results files: categories.py (answer
quality, about 8 minutes), serve.py (the HTTP service, about 3) and distributed.py (1,000,000 keys
on Ray, about 5).

Each timing is a ratio against a peer measured in the same run, so the figures hold on a noisy
machine. The speed targets are read from the results files (report.targets): these scripts', and
index_recall.py's, lean.py's and peers.py's, which run on their own too.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import annoy_recall
import batch
import decode
import misspellings
import report
import startup
import store
import store_size
from common import write


def main() -> dict:
    began = time.perf_counter()
    results = {}
    runs: list[tuple[str, Callable[[], dict]]] = [
        ("decode", decode.main), ("annoy_recall", annoy_recall.main), ("batch", batch.main),
        ("store_size", store_size.main), ("startup", lambda: startup.main(1_000_000)),
        ("misspellings", misspellings.main), ("store", store.main)]
    for name, run in runs:
        start = time.perf_counter()
        print(f"== {name}", flush=True)
        results[name] = run()
        print(f"== {name}: {time.perf_counter() - start:.0f} s", flush=True)

    total = time.perf_counter() - began
    summary = {"seconds": total}
    write("summary", summary)
    report.update_pages()
    print(f"\nall benchmarks: {total:.0f} s\n")
    print("| target | goal | measured | met |\n|---|---|---|---|")
    for t in report.targets():
        print(f"| {t['target']} | {t['goal']} | {t['measured']} | {report.met(t)} |")
    return summary


if __name__ == "__main__":
    main()
