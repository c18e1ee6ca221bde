"""Answer quality on the labelled lookup task: top-1 of query() and lookup() per attention setting.

    python benchmarks/quality.py            # writes benchmarks/results/quality.json, prints a table
"""

from __future__ import annotations

import statistics

from common import write
from labelled import task

from fuzzykv import Database

SETTINGS: list[tuple[str, float | None]] = [("dot", None)] + [
    ("cosine", t) for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
]
SEEDS = range(5)

# The write-up's six queries, with the answers its author meant (it notes "seventy" should be "number").
WRITEUP_PAIRS = {"one": "number", "cat": "animal", "dog": "animal", "ball": "toy", "sphere": "shape", "male": "gender"}
WRITEUP_QUERIES = {
    "rhombus": "shape", "parabola": "shape", "female": "gender",
    "seven": "number", "seventy": "number", "cylinder": "shape",
}


def accuracy(db: Database, queries: list[tuple[str, str]]) -> tuple[float, float, float]:
    """(query top-1, lookup, classify) accuracy, with exact decode, the reference answers."""
    texts = [q for q, _ in queries]
    answers = db.query_batch(texts, k=1, exact=True)
    query_hits = sum(a[0] == label for a, (_, label) in zip(answers, queries))
    lookup_hits = sum(db.lookup(q) == label for q, label in queries)
    classify_hits = sum(db.classify(q, k=5).label == label for q, label in queries)
    return query_hits / len(queries), lookup_hits / len(queries), classify_hits / len(queries)


def main() -> dict:
    rows = []
    for similarity, temperature in SETTINGS:
        per_seed = []
        for seed in SEEDS:
            t = task(seed)
            per_seed.append(accuracy(Database(t.pairs, similarity=similarity, temperature=temperature), t.queries))
        writeup = Database(WRITEUP_PAIRS, similarity=similarity, temperature=temperature)
        writeup_hits = [writeup.query(q, k=1, exact=True)[0] == a for q, a in WRITEUP_QUERIES.items()]
        rows.append({
            "similarity": similarity,
            "temperature": writeup.temperature,
            "query_top1": statistics.mean(q for q, _, _ in per_seed),
            "query_top1_min": min(q for q, _, _ in per_seed),
            "lookup_top1": statistics.mean(lk for _, lk, _ in per_seed),
            "classify_top1": statistics.mean(c for _, _, c in per_seed),
            "writeup_correct": sum(writeup_hits),
        })
    t = task(0)
    report = {
        "task": {"categories": sorted(set(t.pairs.values())), "stored_pairs": len(t.pairs),
                 "queries_per_seed": len(t.queries), "seeds": len(SEEDS)},
        "rows": rows,
    }
    write("quality", report)
    for r in rows:
        name = "dot (write-up)" if r["similarity"] == "dot" else f"cosine, T={r['temperature']}"
        print(f"{name:16s} query {r['query_top1']:.3f} ({r['query_top1_min']:.3f})  lookup {r['lookup_top1']:.3f}  "
              f"classify {r['classify_top1']:.3f}  write-up {r['writeup_correct']}/6")
    return report


if __name__ == "__main__":
    main()
