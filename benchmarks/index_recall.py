"""The vocabulary index: HNSW (faiss) against annoy, chosen on some stores and reported on others.

    FUZZYKV_CACHE=/tmp/bench-cache python benchmarks/index_recall.py   # results/index_recall.json

1. Builds: each HNSW (M, efConstruction) over the 400,000 GloVe words as fuzzykv builds it (one
   thread, in chunks), and annoy at its default trees: build time, file size, mapped load time.
2. Tuning, on the blends of the realistic workload's stores (benchmarks/workload.py, seeds from 12:
   sixty 6-key stores with 5 queries each, and a 100,000-key store with 300): recall@10 against
   exact decode for every HNSW efSearch and annoy search_k (annoy through whole queries, as its
   hints need them). Each index takes its fastest setting whose recall@10 is at least 0.99 on both
   kinds of store (annoy: its best if none reaches it).
3. Report, on other stores (seeds from 13): whole ``db.query(text, k=10)`` per index as chosen, timed in
   turns by blocks against gensim's ``similar_by_vector`` of the same blend; recall@10 of the
   whole query's words against ``db.query(text, k=10, exact=True)``.
4. A fresh machine: a new process on an empty cache, from start to its first answer (the index is
   built in the background meanwhile), and until the index is ready.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np
from common import summary, write
from workload import blends, interleaved_ms, overlap, workload

from fuzzykv import Database, Embeddings
from fuzzykv.search.decode import IndexSettings, VocabularyIndex
from fuzzykv.search.hnsw_index import HNSWDecoder

BUILT = ((16, 40), (32, 40))  # (M, efConstruction): built and timed
# M=16 stays below recall@10 0.97 on 6-key stores even at efSearch 512 (tuned once, then left out).
GRAPHS = ((32, 40),)
# NOTE: faiss' search keeps its candidates in a heap whose pop is a linear scan, so a query costs
# about efSearch squared beyond a few hundred (measured: 1 ms at 256, 16-30 ms at 512-1024).
EF_SEARCH = (128, 192, 256, 320, 384)
SEARCH_K = (30_000, 100_000)  # search_k 10,000 (the default) reaches 0.92 on 6-key stores
SMALL_STORES, SMALL_QUERIES = 60, 5  # many 6-key stores: one store's six values are too narrow a sample
BIG_QUERIES = 300
TUNE_SEED, REPORT_SEED = 12, 13
TIMED = 150
GOAL = 0.99


def stores(seed: int) -> dict[str, list[tuple[dict[str, str], list[str]]]]:
    """The realistic workload's stores: many 6-key stores with a few queries each, one 100,000-key store."""
    return {"6-key": [workload(6, SMALL_QUERIES, seed=seed * 1_000 + i) for i in range(SMALL_STORES)],
            "100,000-key": [workload(100_000, BIG_QUERIES, seed=seed)]}


def exact_words(db: Database, texts: list[str]) -> list[list[str]]:
    return [db.query(t, k=10, exact=True) for t in texts]


def main() -> dict[str, Any]:
    embeddings = Database({}).embeddings
    assert isinstance(embeddings, Embeddings)
    kv = embeddings.keyed_vectors
    kv.fill_norms()
    report: dict[str, Any] = {"workload": "benchmarks/workload.py", "builds": [],
                              "stores": {"6-key": f"{SMALL_STORES} stores x {SMALL_QUERIES} queries",
                                         "100,000-key": f"1 store x {BIG_QUERIES} queries"}}

    # 1. builds
    for m, ef_construction in BUILT:
        index = VocabularyIndex(embeddings, IndexSettings(hnsw_m=m, hnsw_ef_construction=ef_construction))
        path = index.hnsw_path()
        built = path.exists()
        start = time.perf_counter()
        index.approximate()
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        VocabularyIndex(embeddings, IndexSettings(hnsw_m=m, hnsw_ef_construction=ef_construction)).approximate()
        report["builds"].append({"index": "hnsw", "m": m, "ef_construction": ef_construction,
                                 "build_s": None if built else seconds, "load_s": time.perf_counter() - start,
                                 "mb": path.stat().st_size / 1e6})
        print(report["builds"][-1], flush=True)
    annoy = VocabularyIndex(embeddings, IndexSettings(index="annoy"))
    built = annoy.annoy_path().exists()
    start = time.perf_counter()
    annoy.approximate()
    report["builds"].append({"index": "annoy", "n_trees": annoy.settings.n_trees,
                             "build_s": None if built else time.perf_counter() - start,
                             "mb": annoy.annoy_path().stat().st_size / 1e6})
    print(report["builds"][-1], flush=True)

    # 2. tuning
    tune: list[dict[str, Any]] = []
    for size, chosen_stores in stores(TUNE_SEED).items():
        dbs = [(Database(pairs), texts) for pairs, texts in chosen_stores]
        vectors = np.concatenate([blends(db, texts) for db, texts in dbs])
        truth, _ = VocabularyIndex(embeddings, IndexSettings()).exact().search(vectors, 10)
        timed = list(vectors[:: max(1, len(vectors) // TIMED)][:TIMED])
        for m, ef_construction in GRAPHS:
            for ef in EF_SEARCH:
                settings = IndexSettings(hnsw_m=m, hnsw_ef_construction=ef_construction, hnsw_ef_search=ef)
                decoder = VocabularyIndex(embeddings, settings).approximate()
                assert isinstance(decoder, HNSWDecoder)
                found, _ = decoder.search(vectors, 10)
                times = interleaved_ms({"gensim": lambda v: kv.similar_by_vector(v, topn=10),
                                        "hnsw": lambda v, d=decoder: d.search(v[None, :], 10)}, timed)
                tune.append({"store": size, "index": "hnsw", "m": m, "ef_construction": ef_construction, "ef_search": ef,
                             "recall@10": overlap(found.tolist(), truth.tolist()),
                             "decode_ms": statistics.median(times["hnsw"]),
                             "vs_gensim": statistics.median(times["gensim"]) / statistics.median(times["hnsw"])})
                print(tune[-1], flush=True)
        items = [(i, t) for i, (_, texts) in enumerate(dbs) for t in texts]
        exact = [dbs[i][0].query(t, k=10, exact=True) for i, t in items]
        for search_k in SEARCH_K:
            annoy_dbs = [Database(pairs, index="annoy", search_k=search_k) for pairs, _ in chosen_stores]
            found_words = [annoy_dbs[i].query(t, k=10) for i, t in items]
            tune.append({"store": size, "index": "annoy", "search_k": search_k, "recall@10": overlap(found_words, exact)})
            print(tune[-1], flush=True)
    report["tune"] = tune

    def worst(rows: list[dict[str, Any]]) -> float:
        return min(r["recall@10"] for r in rows)

    def hnsw_rows(m: int, ef_construction: int, ef: int) -> list[dict[str, Any]]:
        key = (m, ef_construction, ef)
        return [r for r in tune if r["index"] == "hnsw" and (r["m"], r["ef_construction"], r["ef_search"]) == key]

    # Among the settings at the goal on both stores, the fastest by its ratio to gensim in the same
    # run (steadier than milliseconds on a shared machine).
    reaching_graphs = [(m, c, ef) for m, c in GRAPHS for ef in EF_SEARCH if worst(hnsw_rows(m, c, ef)) >= GOAL]
    chosen_hnsw = (max(reaching_graphs, key=lambda g: statistics.mean(r["vs_gensim"] for r in hnsw_rows(*g)))
                   if reaching_graphs else (*GRAPHS[0], EF_SEARCH[-1]))
    annoy_rows = {k: [r for r in tune if r["index"] == "annoy" and r["search_k"] == k] for k in SEARCH_K}
    reaching = [k for k in SEARCH_K if worst(annoy_rows[k]) >= GOAL]
    chosen_k = reaching[0] if reaching else max(SEARCH_K, key=lambda k: worst(annoy_rows[k]))
    report["chosen"] = {"hnsw": dict(zip(("m", "ef_construction", "ef_search"), chosen_hnsw)), "annoy": {"search_k": chosen_k},
                        "annoy_reaches_goal": bool(reaching)}
    print(report["chosen"], flush=True)

    # 3. report, on other stores
    m, ef_construction, ef = chosen_hnsw
    rows = []
    for size, chosen_stores in stores(REPORT_SEED).items():
        kinds: dict[str, list[Database]] = {
            "hnsw": [Database(p, index="hnsw", hnsw_m=m, hnsw_ef_construction=ef_construction, hnsw_ef_search=ef)
                     for p, _ in chosen_stores],
            "annoy": [Database(p, index="annoy", search_k=chosen_k) for p, _ in chosen_stores]}
        items = [(i, t) for i, (_, texts) in enumerate(chosen_stores) for t in texts]
        exact = [kinds["hnsw"][i].query(t, k=10, exact=True) for i, t in items]
        by_item = {item: blends(kinds["hnsw"][item[0]], [item[1]])[0] for item in items}
        recall = {name: overlap([dbs[i].query(t, k=10) for i, t in items], exact) for name, dbs in kinds.items()}
        recall["exact"] = 1.0
        calls: dict[str, Any] = {name: (lambda item, d=dbs: d[item[0]].query(item[1], k=10)) for name, dbs in kinds.items()}
        calls["exact"] = lambda item, d=kinds["hnsw"]: d[item[0]].query(item[1], k=10, exact=True)
        calls["gensim"] = lambda item, b=by_item: kv.similar_by_vector(b[item], topn=10)
        timed_items = items[:: max(1, len(items) // TIMED)][:TIMED]
        times = interleaved_ms(calls, timed_items)
        gensim = statistics.median(times["gensim"])
        for name in ("hnsw", "annoy", "exact"):
            rows.append({"store": size, "index": name, "recall@10": recall[name], **summary(times[name]),
                         "vs_gensim": gensim / statistics.median(times[name]), "gensim_ms": gensim})
            print(rows[-1], flush=True)
    report["report"] = rows
    report["fresh_machine"] = fresh_machine()
    print(report["fresh_machine"], flush=True)
    write("index_recall", report)
    return report


FRESH = """
import time, warnings
start = time.perf_counter()
from fuzzykv import Database
db = Database({"one": "number", "cat": "animal", "dog": "animal", "ball": "toy", "sphere": "shape", "male": "gender"})
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    words = db.query("kitten")
first = time.perf_counter() - start
index = db._pipeline.index
index.current()  # starts the graph's build if no query needed it yet (a 6-key store's lists answer most)
index.wait()
print(json.dumps({"first_answer_s": first, "index_ready_s": time.perf_counter() - start, "words": words,
                  "answered_by": [getattr(w.message, "answered_by", None) for w in caught]}))
"""


def fresh_machine() -> dict[str, Any]:
    """A new process on an empty cache: seconds to its first answer, and until the index is ready."""
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "FUZZYKV_CACHE": folder}
        done = subprocess.run([sys.executable, "-c", "import json" + FRESH], env=env, capture_output=True, text=True,
                              check=True)
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--fresh":
        print(fresh_machine())
    else:
        main()
