"""The vocabulary index: HNSW (faiss) against annoy, chosen on some stores and reported on others.

    FUZZYKV_CACHE=/tmp/bench-cache python benchmarks/index_recall.py   # results/index_recall.json

1. Builds: each HNSW (M, efConstruction) over the 400,000 GloVe words as fuzzykv builds it (one
   thread, in chunks), and annoy at its default trees: build time, file size, mapped load time.
2. Tuning, on the blends of the realistic workload's stores (benchmarks/workload.py, seed 12: a
   6-key and a 100,000-key store): recall@10 against exact decode for every HNSW efSearch and annoy
   search_k (annoy through whole queries, as its hints need them). Each index takes its fastest
   setting whose recall@10 is at least 0.99 on both stores (annoy: its best if none reaches it).
3. Report, on other stores (seed 13): whole ``db.query(text, k=10)`` per index as chosen, timed in
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

from common import summary, write
from workload import blends, interleaved_ms, overlap, workload

from fuzzykv import Database, Embeddings
from fuzzykv.search.decode import IndexSettings, VocabularyIndex
from fuzzykv.search.hnsw_index import HNSWDecoder

GRAPHS = ((16, 40), (32, 40), (16, 80))  # (M, efConstruction)
EF_SEARCH = (16, 24, 32, 48, 64, 96, 128)
SEARCH_K = (10_000, 30_000, 100_000)
SIZES = (6, 100_000)
TUNE_SEED, REPORT_SEED = 12, 13
QUERIES = 300
TIMED = 150
GOAL = 0.99


def exact_words(db: Database, texts: list[str]) -> list[list[str]]:
    return [db.query(t, k=10, exact=True) for t in texts]


def main() -> dict[str, Any]:
    embeddings = Database({}).embeddings
    assert isinstance(embeddings, Embeddings)
    kv = embeddings.keyed_vectors
    kv.fill_norms()
    report: dict[str, Any] = {"workload": "benchmarks/workload.py", "queries_per_store": QUERIES, "builds": []}

    # 1. builds
    for m, ef_construction in GRAPHS:
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
    stores = {n: workload(n, QUERIES, seed=TUNE_SEED) for n in SIZES}
    for n, (pairs, texts) in stores.items():
        db = Database(pairs)
        vectors = blends(db, texts)
        truth, _ = VocabularyIndex(embeddings, IndexSettings()).exact().search(vectors, 10)
        timed = list(vectors[:TIMED])
        for m, ef_construction in GRAPHS:
            for ef in EF_SEARCH:
                settings = IndexSettings(hnsw_m=m, hnsw_ef_construction=ef_construction, hnsw_ef_search=ef)
                decoder = VocabularyIndex(embeddings, settings).approximate()
                assert isinstance(decoder, HNSWDecoder)
                found, _ = decoder.search(vectors, 10)
                times = interleaved_ms({"gensim": lambda v: kv.similar_by_vector(v, topn=10),
                                        "hnsw": lambda v, d=decoder: d.search(v[None, :], 10)}, timed)
                tune.append({"store": n, "index": "hnsw", "m": m, "ef_construction": ef_construction, "ef_search": ef,
                             "recall@10": overlap(found.tolist(), truth.tolist()),
                             "decode_ms": statistics.median(times["hnsw"]),
                             "vs_gensim": statistics.median(times["gensim"]) / statistics.median(times["hnsw"])})
                print(tune[-1], flush=True)
        exact = exact_words(db, texts)
        for search_k in SEARCH_K:
            annoy_db = Database(pairs, index="annoy", search_k=search_k)
            found_words = [annoy_db.query(t, k=10) for t in texts]
            times = interleaved_ms({"gensim": lambda v: kv.similar_by_vector(v, topn=10)}, timed)
            query_times = interleaved_ms({"annoy": lambda t, d=annoy_db: d.query(t, k=10)}, texts[:TIMED])
            tune.append({"store": n, "index": "annoy", "search_k": search_k, "recall@10": overlap(found_words, exact),
                         "query_ms": statistics.median(query_times["annoy"]),
                         "gensim_ms": statistics.median(times["gensim"])})
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
    for n in SIZES:
        pairs, texts = workload(n, QUERIES, seed=REPORT_SEED)
        dbs = {"hnsw": Database(pairs, index="hnsw", hnsw_m=m, hnsw_ef_construction=ef_construction, hnsw_ef_search=ef),
               "annoy": Database(pairs, index="annoy", search_k=chosen_k)}
        exact = exact_words(dbs["hnsw"], texts)
        vectors = blends(dbs["hnsw"], texts)
        by_text = dict(zip(texts, vectors))
        calls = {name: (lambda t, d=db: d.query(t, k=10)) for name, db in dbs.items()}
        calls["gensim"] = lambda t, b=by_text: kv.similar_by_vector(b[t], topn=10)
        recall = {name: overlap([db.query(t, k=10) for t in texts], exact) for name, db in dbs.items()}
        times = interleaved_ms(calls, texts[:TIMED])
        gensim = statistics.median(times["gensim"])
        for name in dbs:
            rows.append({"store": n, "index": name, "recall@10": recall[name], **summary(times[name]),
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
