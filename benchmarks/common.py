"""Shared by the benchmarks: timing, the decoded-vector workload, results files and plots."""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from fuzzykv import Database

RESULTS = Path(__file__).parent / "results"


def timings_ms(call: Callable[[Any], object], items: Iterable[Any], warmup: int = 3) -> list[float]:
    """Milliseconds per call, one call per item, after a few warm-up calls."""
    items = list(items)
    for item in items[:warmup]:
        call(item)
    times = []
    for item in items:
        start = time.perf_counter()
        call(item)
        times.append((time.perf_counter() - start) * 1e3)
    return times


def summary(times: list[float]) -> dict[str, float]:
    """Median and 99th percentile, the figures every benchmark reports."""
    return {"median_ms": statistics.median(times), "p99_ms": float(np.percentile(times, 99)), "n": len(times)}


def random_stores(stores: int = 100, seed: int = 1) -> list[tuple[Database, list[str]]]:
    """Stores of 3 to 30 random frequent words (both attention modes), each with 5 queries of others."""
    rng = random.Random(seed)
    common = Database({}).embeddings.words[100:50_000]
    out = []
    for _ in range(stores):
        n = rng.randint(3, 30)
        words = rng.sample(common, 2 * n + 5)
        pairs = dict(zip(words[:n], words[n : 2 * n]))
        for similarity in ("cosine", "dot"):
            out.append((Database(pairs, similarity=similarity), words[2 * n :]))
    return out


def blended_vectors(stores: int = 100, seed: int = 1) -> np.ndarray:
    """What the decoder sees in use: the blended value vectors of queries to random stores."""
    stores_and_queries = random_stores(stores, seed)
    return np.stack([db.search(q, exact=True, attention_k=1).vector for db, queries in stores_and_queries for q in queries])


def make_pairs(n: int, seed: int = 0) -> dict[str, str]:
    """Word keys first, then two-word phrases; values are common words."""
    rng = random.Random(seed)
    words = Database({}).embeddings.words
    vocabulary = [w for w in words[100:200_000] if w.isalpha()]
    values = vocabulary[:5_000]
    keys = vocabulary[: min(n, len(vocabulary))]
    seen = set(keys)
    while len(keys) < n:
        phrase = f"{rng.choice(vocabulary)} {rng.choice(vocabulary)}"
        if phrase not in seen:
            seen.add(phrase)
            keys.append(phrase)
    return {key: rng.choice(values) for key in keys}


def write(name: str, report: dict) -> Path:
    """benchmarks/results/<name>.json, with the machine's core count."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"cores": os.cpu_count(), **report}, indent=2) + "\n")
    return path


def plot(name: str, draw: Callable[[Any], None]) -> Path:
    """benchmarks/results/<name>.png, drawn by ``draw(axes)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=110)
    draw(axes)
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.png"
    figure.savefig(path)
    plt.close(figure)
    return path
