"""The persistent store: write rate, bulk import rate and open time for 10k, 100k and 1M pairs.

    python benchmarks/store.py [SIZES...]     # writes benchmarks/results/store.json

Peers measured in the same run: single writes against a bare SQLite insert-and-commit with the
same durability (WAL, synchronous=FULL), the machine's limit for a durable write; opening a store
against building the same store in memory, which embeds every pair again. A store of 50,000 pairs
or more writes its pairs file when the importing handle closes (that close is timed), and opens
from it; the same open with the file moved aside (every pair read from SQLite) is timed beside it.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import make_pairs, write

from fuzzykv import Database
from fuzzykv.store import snapshot as mapped_pairs

SIZES = (10_000, 100_000, 1_000_000)
SINGLE_WRITES = 300


def single_write_ms(path: Path, pairs: list[tuple[str, str]]) -> list[float]:
    times = []
    with Database.open(path) as db:
        for key, value in pairs:
            start = time.perf_counter()
            db[key] = value
            times.append(time.perf_counter() - start)
    return [t * 1e3 for t in times]


def bare_sqlite_write_ms(path: Path, pairs: list[tuple[str, str]]) -> list[float]:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("CREATE TABLE t (key TEXT PRIMARY KEY, value TEXT, vector BLOB)")
    times = []
    blob = bytes(400)  # the two 50-d float32 vectors fuzzykv keeps with each pair
    for key, value in pairs:
        start = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT OR REPLACE INTO t VALUES (?, ?, ?)", (key, value, blob))
        connection.execute("COMMIT")
        times.append(time.perf_counter() - start)
    connection.close()
    return [t * 1e3 for t in times]


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def open_to_first_answer(path: Path, n: int, read_only: bool = False) -> float:
    start = time.perf_counter()
    with Database.open(path, read_only=read_only) as db:
        assert len(db) == n
        db.query("scarlet", exact=True)
        took = time.perf_counter() - start
    return took


def measure(n: int, folder: Path) -> dict:
    pairs = make_pairs(n)
    path = folder / f"store-{n}.fkv"
    start = time.perf_counter()
    db = Database.open(path)
    db.update(pairs)
    import_s = time.perf_counter() - start
    start = time.perf_counter()
    db.close()  # writes the pairs file of a large store
    close_s = time.perf_counter() - start
    pairs_file = mapped_pairs.path_for(path)
    file_mb = pairs_file.stat().st_size / 1e6 if pairs_file.exists() else 0.0

    open_s = open_to_first_answer(path, n)
    if pairs_file.exists():  # the same open without the pairs file: every pair read from SQLite
        aside = pairs_file.with_name(pairs_file.name + ".aside")
        pairs_file.rename(aside)
        open_from_store_s = open_to_first_answer(path, n, read_only=True)  # read-only: writes no new file
        aside.rename(pairs_file)
    else:
        open_from_store_s = open_s

    start = time.perf_counter()
    in_memory = Database(pairs)
    in_memory.query("scarlet", exact=True)
    rebuild_s = time.perf_counter() - start
    del in_memory

    fresh = list(make_pairs(n + SINGLE_WRITES, seed=1).items())[-SINGLE_WRITES:]
    writes = single_write_ms(path, fresh)
    bare = bare_sqlite_write_ms(folder / f"bare-{n}.db", fresh)
    row = {
        "pairs": n,
        "bulk_import_s": import_s,
        "bulk_import_pairs_per_s": n / import_s,
        "close_s": close_s,
        "pairs_file_mb": file_mb,
        "open_s": open_s,
        "open_from_store_s": open_from_store_s,
        "rebuild_in_memory_s": rebuild_s,
        "open_vs_rebuild": rebuild_s / open_s,
        "file_mb": path.stat().st_size / 1e6,
        "bytes_per_pair": path.stat().st_size / n,
        "write_ms_median": statistics.median(writes),
        "write_ms_p99": p99(writes),
        "bare_sqlite_write_ms_median": statistics.median(bare),
        "write_vs_bare_sqlite": statistics.median(writes) / statistics.median(bare),
    }
    print(json.dumps(row), flush=True)
    return row


def main(sizes: tuple[int, ...] = SIZES) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        rows = [measure(n, Path(folder)) for n in sizes]
    report = {"single_writes": SINGLE_WRITES, "rows": rows}
    write("store", report)
    print("| pairs | bulk import | pairs/s | close | open | open from SQLite | rebuild by re-embedding | write median (p99) "
          "| bare SQLite write | file |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['pairs']:,} | {r['bulk_import_s']:.1f} s | {r['bulk_import_pairs_per_s']:,.0f} | {r['close_s']:.2f} s "
            f"| {r['open_s']:.2f} s | {r['open_from_store_s']:.2f} s "
            f"| {r['rebuild_in_memory_s']:.2f} s ({r['open_vs_rebuild']:.1f}x the open) | {r['write_ms_median']:.2f} ms "
            f"({r['write_ms_p99']:.2f}) | {r['bare_sqlite_write_ms_median']:.2f} ms | {r['file_mb']:.0f} MB |"
        )
    return report


if __name__ == "__main__":
    main(tuple(int(a) for a in sys.argv[1:]) or SIZES)
