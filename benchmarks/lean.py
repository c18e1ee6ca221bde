"""The lean path on the write-up's 6-key store: a whole `db.query`, and every stage but the decode.

    python benchmarks/lean.py              # writes results/lean.json

The realistic workload (benchmarks/workload.py): a 6-pair store, 1,000 distinct queries, each timed
once. "Every stage but the decode" is the same `db.query` with the vocabulary decode replaced by a
stub returning fixed rows: argument checks, embedding the text, attention, the blend, the heaviest
values for the decode's hints, and the result. gensim's `similar_by_vector` of the same blends is
the peer, interleaved in the same run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from common import summary, write
from workload import blends, interleaved_ms, workload

from fuzzykv import Database, Embeddings

QUERIES = 1_000


def main() -> dict[str, Any]:
    pairs, texts = workload(6, 2 * QUERIES + 4)
    db, stubbed = Database(pairs), Database(pairs)
    embeddings = db.embeddings
    assert isinstance(embeddings, Embeddings)
    kv = embeddings.keyed_vectors
    vectors = blends(db, texts[QUERIES + 2 :])
    words = embeddings.words

    def no_decode(blended: np.ndarray, k: int, *rest: object) -> tuple[np.ndarray, np.ndarray, list[str]]:
        return np.zeros((len(blended), k), dtype=np.int64), np.zeros((len(blended), k), dtype=np.float32), words

    stubbed._pipeline.decode = no_decode  # type: ignore[method-assign]
    calls = {
        "query": lambda i: db.query(texts[i]),
        "all_but_decode": lambda i: stubbed.query(texts[i]),
        "exact_query": lambda i: db.query(texts[i], exact=True),
        "gensim": lambda i: kv.similar_by_vector(vectors[i - 1], topn=5),
    }
    times = interleaved_ms(calls, list(range(1, QUERIES + 2)), warmup=1)
    rows = {name: summary(values) for name, values in times.items()}
    report = {
        **{f"{name}_median_us": row["median_ms"] * 1e3 for name, row in rows.items()},
        **{f"{name}_p99_us": row["p99_ms"] * 1e3 for name, row in rows.items()},
        "query_vs_gensim": rows["gensim"]["median_ms"] / rows["query"]["median_ms"],
        "exact_query_vs_gensim": rows["gensim"]["median_ms"] / rows["exact_query"]["median_ms"],
        "queries": QUERIES,
    }
    write("lean", report)
    print(report)
    return report


if __name__ == "__main__":
    main()
