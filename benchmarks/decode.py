"""One query's decode on the realistic workload: fuzzykv against gensim, on the same blended vectors.

    python benchmarks/decode.py            # writes results/decode.json

The peer is gensim's KeyedVectors.similar_by_vector, which a user of GloVe already has. Stores and
queries come from benchmarks/workload.py (whole vocabulary, distinct values, no query repeated);
each query is timed once (a first pass), every contender in turn on it, so load hits them alike.
fuzzykv is timed two ways: its decoders alone on the bare blended vector, and a whole
`Database.query` (its decode also gets the store's hints), through the default index (HNSW), through
annoy (``index="annoy"``) and exactly. A warm repeat of the default `db.query`, the same queries
again, is reported beside it, labelled so.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import numpy as np
from common import summary, write
from workload import blends, interleaved_ms, overlap, workload

from fuzzykv import Database, Settings

K = 5
STORES = (6, 1_000, 100_000)
QUERIES = 150  # per store


def measure(n: int) -> tuple[dict[str, list[float]], dict[str, float], bool]:
    """One store of ``n`` pairs: first-pass times, recall@5 against exact decode, exact == gensim."""
    pairs, texts = workload(n, QUERIES + 2)
    db = Database(pairs)
    with_annoy = Database(pairs, settings=Settings(index="annoy"))
    index, annoy_index = db._pipeline.index, with_annoy._pipeline.index
    assert index is not None and annoy_index is not None
    hnsw, annoy, exact = index.approximate(), annoy_index.approximate(), index.exact()
    kv = index.embeddings.keyed_vectors
    kv.fill_norms()
    vectors = blends(db, texts)
    items = list(zip(texts, vectors))
    calls: dict[str, Callable[[tuple[str, np.ndarray]], object]] = {
        "gensim_similar_by_vector": lambda item: kv.similar_by_vector(item[1], topn=K),
        "fuzzykv_query_hnsw": lambda item: db.query(item[0], k=K),
        "fuzzykv_query_annoy": lambda item: with_annoy.query(item[0], k=K),
        "fuzzykv_query_exact": lambda item: db.query(item[0], k=K, exact=True),
        "fuzzykv_exact_decoder_alone": lambda item: exact.search(item[1][None, :], K),
        "fuzzykv_hnsw_decoder_alone": lambda item: hnsw.search(item[1][None, :], K),
        "fuzzykv_annoy_decoder_alone": lambda item: annoy.search(item[1][None, :], K),
    }
    times = interleaved_ms(calls, items)
    times |= interleaved_ms({"fuzzykv_query_hnsw_warm_repeat": lambda item: db.query(item[0], k=K)}, items, warmup=0)
    words = index.words
    truth = [db.query(t, k=K, exact=True) for t in texts]
    recall = {
        "query_hnsw": overlap([db.query(t, k=K) for t in texts], truth),
        "query_annoy": overlap([with_annoy.query(t, k=K) for t in texts], truth),
        "hnsw_decoder_alone": overlap([[words[i] for i in hnsw.search(v[None, :], K)[0][0]] for v in vectors], truth),
        "annoy_decoder_alone": overlap([[words[i] for i in annoy.search(v[None, :], K)[0][0]] for v in vectors], truth),
    }
    same = all(t == [w for w, _ in kv.similar_by_vector(v, topn=K)] for v, t in zip(vectors, truth))
    print(n, {name: round(statistics.median(v), 3) for name, v in times.items()}, recall, flush=True)
    return times, recall, same


def main() -> dict[str, Any]:
    times: dict[str, list[float]] = {}
    recall_rows: dict[int, dict[str, float]] = {}
    equals_gensim = True
    for n in STORES:
        measured, recall_rows[n], same = measure(n)
        equals_gensim &= same
        for name, values in measured.items():
            times.setdefault(name, []).extend(values)
    rows = {name: summary(values) for name, values in times.items()}
    gensim = rows["gensim_similar_by_vector"]["median_ms"]
    for row in rows.values():
        row["vs_gensim"] = gensim / row["median_ms"]
    for name in ("query_hnsw", "query_annoy", "hnsw_decoder_alone", "annoy_decoder_alone"):
        rows[f"fuzzykv_{name}"]["recall@5"] = min(r[name] for r in recall_rows.values())
    rows["fuzzykv_query_exact"]["equals_gensim"] = equals_gensim
    report = {"queries": len(times["gensim_similar_by_vector"]), "k": K, "stores": list(STORES),
              "workload": "benchmarks/workload.py", "recall@5_by_store": recall_rows, "rows": rows}
    write("decode", report)
    for name, row in rows.items():
        print(f"{name:34s} {row['median_ms']:7.3f} ms median {row['p99_ms']:7.3f} p99"
              f"  {row['vs_gensim']:5.1f}x gensim"
              + (f"  recall@5 {row['recall@5']:.3f}" if "recall@5" in row else ""))
    return report


if __name__ == "__main__":
    main()
