"""The speed benchmarks, one command; writes benchmarks/results/*.json and *.png, and summary.json,
then docs/benchmarks.md's figures (and README.md's headline figures) from every results file.

    python benchmarks/run_all.py

Three longer ones run on their own and are read from their results files: categories.py (answer
quality, about 8 minutes), serve.py (the HTTP service, about 3) and distributed.py (1,000,000 keys
on Ray, about 5).

Each timing is a ratio against a peer measured in the same run, so the figures hold on a noisy
machine. The summary holds each speed target of the project against what was measured.
"""

from __future__ import annotations

import time

import annoy_recall
import batch
import decode
import misspellings
import report
import startup
import store
import store_size
from common import write

from fuzzykv.search.decode import DEFAULT_N_TREES, DEFAULT_SEARCH_K


def main() -> dict:
    began = time.perf_counter()
    results = {}
    for name, module in [("decode", decode), ("annoy_recall", annoy_recall), ("batch", batch),
                         ("store_size", store_size), ("startup", startup), ("misspellings", misspellings),
                         ("store", store)]:
        start = time.perf_counter()
        print(f"== {name}", flush=True)
        results[name] = module.main()
        print(f"== {name}: {time.perf_counter() - start:.0f} s", flush=True)

    rows = results["decode"]["rows"]
    default_annoy = next(r for r in results["annoy_recall"]["rows"]
                         if (r["n_trees"], r["search_k"]) == (DEFAULT_N_TREES, DEFAULT_SEARCH_K))
    batch_1000 = next(r for r in results["batch"]["rows"] if r["decode"] == "exact" and r["batch"] == 1_000)
    by_size = {r["keys"]: r for r in results["store_size"]["rows"]}
    annoy_query, exact_query = rows["fuzzykv_query_annoy"], rows["fuzzykv_query_exact"]
    targets = [
        {"target": "single query (whole `db.query`), annoy decode, vs gensim similar_by_vector of the same vector",
         "goal": ">= 20x at recall@5 >= 0.95", "measured": annoy_query["vs_gensim"], "recall@5": annoy_query["recall@5"],
         "met": annoy_query["vs_gensim"] >= 20 and annoy_query["recall@5"] >= 0.95},
        {"target": "single query (whole `db.query`), exact decode, vs gensim", "goal": ">= 3x",
         "measured": exact_query["vs_gensim"], "met": exact_query["vs_gensim"] >= 3},
        {"target": "query_batch(exact=True) of 1,000, per query, vs gensim", "goal": ">= 20x",
         "measured": batch_1000["vs_gensim"], "met": batch_1000["vs_gensim"] >= 20},
    ]
    if 100_000 in by_size:
        targets.append({"target": "100,000-key store vs the 6-key store, single query", "goal": "<= 3x",
                        "measured": by_size[100_000]["vs_6_keys"], "met": by_size[100_000]["vs_6_keys"] <= 3})
        ratio = by_size[100_000]["attention_vs_floor"]
        targets.append({"target": "full attention at 100,000 keys vs a bare numpy matrix-vector product over its key matrix",
                        "goal": "<= 1.5x", "measured": ratio, "met": ratio <= 1.5,
                        "against_one_thread": by_size[100_000]["attention_vs_one_thread_floor"]})
    if 1_000_000 in by_size:
        million = by_size[1_000_000]
        targets.append({"target": "1,000,000-key store vs the 6-key store, single query; memory per key",
                        "goal": "<= 5x, <= 600 B",
                        "measured": million["vs_6_keys"], "bytes_per_key": million["memory_bytes_per_key"],
                        "met": million["vs_6_keys"] <= 5 and million["memory_bytes_per_key"] <= 600})
    opened = {r["pairs"]: r for r in results["store"]["rows"]}
    if 1_000_000 in opened:
        targets.append({"target": "open a 1,000,000-pair store to its first answer, seconds", "goal": "<= 1 s",
                        "measured": opened[1_000_000]["open_s"], "unit": "s", "met": opened[1_000_000]["open_s"] <= 1})
    targets.append({"target": "fresh process to first answer vs bare `import torch, gensim, annoy`", "goal": "<= 1.6x",
                    "measured": results["startup"]["warm_vs_bare_imports"],
                    "met": results["startup"]["warm_vs_bare_imports"] <= 1.6})
    for keys, row in by_size.items():  # what attention="auto" would need of the key index
        if "topk" in row:
            topk = row["topk"]
            targets.append({"target": f'attend_to="index" at {keys:,} keys: speed-up over full attention, agreement',
                            "goal": ">= 0.99 top-1, >= 0.95 top-5 for auto", "measured": topk["speedup"],
                            "top1_agreement": topk["top1_agreement"], "top5_overlap": topk["top5_overlap"],
                            "met": topk["top1_agreement"] >= 0.99 and topk["top5_overlap"] >= 0.95})
    total = time.perf_counter() - began
    summary = {"seconds": total, "default_annoy": default_annoy, "targets": targets}
    write("summary", summary)
    report.update_pages()
    print(f"\nall benchmarks: {total:.0f} s\n")
    print("| target | goal | measured | met |\n|---|---|---|---|")
    for t in targets:
        print(f"| {t['target']} | {t['goal']} | {report.measured(t)} | {report.met(t)} |")
    return summary


if __name__ == "__main__":
    main()
