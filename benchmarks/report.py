"""README.md's benchmark figures, written from benchmarks/results/*.json between two markers.

    python benchmarks/report.py            # rewrites the block; run_all.py calls it at the end
"""

from __future__ import annotations

import json
from pathlib import Path

from common import RESULTS

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


def load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def markdown() -> str:
    summary, decode, annoy, batch = load("summary"), load("decode"), load("annoy_recall"), load("batch")
    sizes, startup, quality, store = load("store_size"), load("startup"), load("quality"), load("store")
    parts = [
        f"Written by `benchmarks/run_all.py` ({summary['seconds'] / 60:.1f} minutes) on this {summary['cores']}-core "
        "machine; every ratio compares two things measured in the same run.",
        "#### Targets",
        table(["target", "goal", "measured", "met"], [
            [t["target"], t["goal"], f"{t['measured']:.1f}x" + "".join(
                f", {k.replace('_', ' ')} {t[k]:.2f}" for k in ("recall@5", "top1_agreement", "top5_overlap") if k in t),
             "n/a" if t["met"] is None else ("yes" if t["met"] else "**no**")]
            for t in summary["targets"]
        ]),
        "#### Decode, one query (`benchmarks/decode.py`)",
        table(["decoder", "median", "p99", "vs gensim"], [
            [name.replace("_", " "), f"{r['median_ms']:.2f} ms", f"{r['p99_ms']:.2f} ms",
             f"{r['vs_gensim']:.1f}x" if "vs_gensim" in r else ""]
            for name, r in decode["rows"].items()
        ]),
        f"{decode['queries']} queries to random stores. `db.query(exact=True)` equals gensim's `similar_by_vector` "
        f"on every blended vector: {decode['rows']['fuzzykv_query_exact']['equals_gensim']}. Recall@5 against "
        f"exact decode: {decode['rows']['fuzzykv_query_annoy']['recall@5']:.3f} for `db.query` (annoy with the "
        f"store's hints), {decode['rows']['fuzzykv_annoy_decoder_alone']['recall@5']:.3f} for the annoy decoder alone.",
        "#### Annoy: recall against speed (`benchmarks/annoy_recall.py`)",
        "![recall against speed](benchmarks/results/recall_vs_speed.png)",
        table(["n_trees", "search_k", "recall@5", "recall@10", "median", "vs gensim", "build", "index"], [
            [str(r["n_trees"]), f"{r['search_k']:,}", f"{r['recall@5']:.3f}", f"{r['recall@10']:.3f}",
             f"{r['median_ms']:.2f} ms", f"{r['vs_gensim']:.1f}x", f"{r['build_s']:.1f} s", f"{r['index_mb']:.0f} MB"]
            for r in annoy["rows"]
        ]),
        f"Default: {annoy['default']['n_trees']} trees, search_k {annoy['default']['search_k']:,}.",
        "#### Batches (`benchmarks/batch.py`)",
        table(["decode", "batch", "ms per query", "queries/s", "vs gensim"], [
            [r["decode"], f"{r['batch']:,}", f"{r['ms_per_query']:.3f}", f"{r['queries_per_s']:,.0f}", f"{r['vs_gensim']:.1f}x"]
            for r in batch["rows"]
        ]),
        "#### Store size (`benchmarks/store_size.py`)",
        table(["keys", "build", "memory per key", "query median", "p99", "vs 6 keys", 'attention="topk"'], [
            [f"{r['keys']:,}", f"{r['build_s']:.2f} s", f"{r['memory_bytes_per_key']:.0f} B", f"{r['median_ms']:.2f} ms",
             f"{r['p99_ms']:.2f} ms", f"{r['vs_6_keys']:.1f}x",
             f"{r['topk']['median_ms']:.2f} ms ({r['topk']['speedup']:.1f}x faster; top-1 agreement "
             f"{r['topk']['top1_agreement']:.2f}, top-5 overlap {r['topk']['top5_overlap']:.2f})" if "topk" in r else ""]
            for r in sizes["rows"]
        ]),
        "#### Start-up (`benchmarks/startup.py`)",
        f"A fresh process to its first answer: {startup['first_answer_warm_s']:.2f} s with the cache warm, "
        f"{startup['first_answer_cold_s']:.1f} s cold (converting GloVe and building the annoy index); "
        f"bare `import torch, gensim, annoy` takes {startup['bare_imports_s']:.2f} s "
        f"(ratio {startup['warm_vs_bare_imports']:.2f}).",
        "#### Answer quality (`benchmarks/quality.py`)",
        f"{quality['task']['stored_pairs']} exemplars stored, {quality['task']['queries_per_seed']} queries, "
        f"{quality['task']['seeds']} random splits, exact decode.",
        table(["attention", "query top-1 (mean, worst split)", "lookup top-1", "classify (k=5) top-1",
               "write-up queries right (of 6)"], [
            ["dot (the write-up's)" if r["similarity"] == "dot" else f"cosine, T={r['temperature']}"
             + (" (default)" if r["temperature"] == 0.05 else ""),
             f"{r['query_top1']:.3f} ({r['query_top1_min']:.3f})", f"{r['lookup_top1']:.3f}", f"{r['classify_top1']:.3f}",
             str(r["writeup_correct"])]
            for r in quality["rows"]
        ]),
        "`lookup` and `classify` use no attention, so they do not change with it.",
        "#### Misspelled queries (`benchmarks/misspellings.py`)",
        (lambda m: f"Every query word of the labelled task with one edit (a deleted, inserted, replaced or swapped "
                   f"letter) that leaves the GloVe vocabulary: {m['queries']} misspellings. With `unknown=\"chars\"`, "
                   f"`query` gives the correctly spelled word's top answer for {m['query_same_answer']:.1%} of them and "
                   f"`lookup` for {m['lookup_same_answer']:.1%}; the labelled answer is right for "
                   f"{m['query_right']:.1%} (correct spelling: {m['query_right_spelled']:.1%}). Without it, "
                   "each is an `UnknownWordError`. The CharEncoder's held-out cosine to the true GloVe vector is "
                   f"{m['held_out_cosine']:.2f}.")(load("misspellings")),
        "#### Persistent store (`benchmarks/store.py`)",
        table(["pairs", "bulk import", "open to first answer", "rebuild by re-embedding", "write median (p99)",
               "bare SQLite durable write", "file"], [
            [f"{r['pairs']:,}", f"{r['bulk_import_s']:.1f} s ({r['bulk_import_pairs_per_s']:,.0f}/s)", f"{r['open_s']:.2f} s",
             f"{r['rebuild_in_memory_s']:.2f} s", f"{r['write_ms_median']:.2f} ms ({r['write_ms_p99']:.2f})",
             f"{r['bare_sqlite_write_ms_median']:.2f} ms", f"{r['file_mb']:.0f} MB"]
            for r in store["rows"]
        ]),
    ]
    return "\n\n".join(parts)


def update_readme() -> None:
    text = README.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    README.write_text(f"{before}{START}\n{markdown()}\n{END}{after}")


if __name__ == "__main__":
    update_readme()
