"""Misspelled queries: how often the spelling corrector reads a misspelling as the word meant.

    python benchmarks/misspellings.py      # writes results/misspellings.json

Two disjoint word lists, both alphabetic, length >= 3 and in the GloVe vocabulary:
``tuning``, 1,500 words of GloVe ranks 1,000-50,000 drawn with seed 0, on which the ranking
weights (the Zipf exponent, the penalty in nats for a candidate one edit farther, the chances of a
dropped letter and of an inserted neighbouring key) and the shortest length corrected at
distance 2 were chosen; and
``held_out``, the words of gensim's analogy test set (``questions-words.txt``) not in the tuning
list, which nothing was tuned on. Each word gets misspellings drawn with a fixed seed, redrawn
until they leave the vocabulary: one realistic typing error (a neighbouring key typed for or
beside a letter, a letter doubled, dropped, or swapped with the next), one random edit
(fuzzykv.embed.encoders.misspell), and for words of >= 6 letters two edits of each kind (at true
distance 2). "Intended" counts corrections to the word meant; "same answer" counts corrected
words whose top answer in the write-up's store (``Database.query(..., exact=True)``) equals the
correct spelling's (an uncorrected word counts as a miss).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import random
import resource
import shutil
import statistics
import string
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from common import write
from gensim.test.utils import datapath
from labelled import task
from rapidfuzz.distance import OSA

from fuzzykv import Database, Embeddings, load_embeddings
from fuzzykv.cache import CacheLayout
from fuzzykv.embed.encoders import default_char_encoder, encode, misspell
from fuzzykv.embed.spelling import _NEAR, Channel, Corrector, index_file

#: The ranking options tried on the tuning list (the defaults of Corrector and Channel are the best).
#: A dropped letter is tried only up to Channel.drop_double: dropping one letter of a double is the
#: same outcome from either letter, so it is at least as likely.
GRID = {"farther": (2.0, 3.0, 4.0, 5.0, math.inf), "zipf": (1.0, 1.25, 1.5), "drop": (0.1, 0.3), "near_insert": (0.25,)}
WRITEUP = {"one": "number", "cat": "animal", "dog": "animal", "ball": "toy", "sphere": "shape", "male": "gender"}
LETTERS = string.ascii_lowercase


def typing_error(word: str, rng: random.Random) -> str:
    """One realistic slip: a neighbouring key for a letter or beside it, a doubled, dropped or swapped letter."""
    i = rng.randrange(len(word))
    kind = rng.choice(("near", "near_insert", "double", "drop", "swap"))
    near = sorted(c for c in _NEAR.get(word[i], ()) if c in LETTERS) or list(LETTERS)
    if kind == "near":
        return word[:i] + rng.choice(near) + word[i + 1 :]
    if kind == "near_insert":
        return word[: i + 1] + rng.choice(near) + word[i + 1 :]
    if kind == "double":
        return word[: i + 1] + word[i] + word[i + 1 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    i = min(i, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def variants(words: Sequence[str], known: Callable[[str], bool], seed: int) -> list[tuple[str, str, str]]:
    """(category, intended, typed) for every word: out-of-vocabulary misspellings at their true distance."""
    rng = random.Random(seed)
    edits = {"typing": typing_error, "random": misspell}
    cases = []
    for word in words:
        for kind, edit in edits.items():
            for edits_wanted in (1, 2):
                if edits_wanted == 2 and len(word) < 6:
                    continue
                for _ in range(30):
                    typed = word
                    for _ in range(edits_wanted):
                        typed = edit(typed, rng)
                    if typed and not known(typed) and OSA.distance(word, typed) == edits_wanted:
                        cases.append((f"{edits_wanted}_edit_{kind}", word, typed))
                        break
    return cases


def word_lists(vocabulary: list[str]) -> dict[str, list[str]]:
    ok = [w for w in vocabulary[1_000:50_000] if w.isalpha() and w.isascii() and len(w) >= 3]
    tuning = sorted(random.Random(0).sample(ok, 1_500))
    rows = {w: i for i, w in enumerate(vocabulary)}
    taken = set(tuning)
    held: list[str] = []
    for line in Path(datapath("questions-words.txt")).read_text().splitlines():
        if line.startswith(":"):
            continue
        for w in line.lower().split():
            if w.isalpha() and len(w) >= 3 and w in rows and w not in taken:
                taken.add(w)
                held.append(w)
    return {"tuning": tuning, "held_out": held}


def evaluate(corrector: Corrector, cases: list[tuple[str, str, str]], preferred: set[str],
             answer: Callable[[str], str] | None = None) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for category in sorted({c for c, _, _ in cases}):
        chosen = [(w, t, corrector.correct(t, preferred)) for c, w, t in cases if c == category]
        row = {"cases": len(chosen),
               "intended": float(np.mean([r is not None and r.used == w for w, _, r in chosen])),
               "uncorrected": float(np.mean([r is None for _, _, r in chosen]))}
        if answer is not None:
            row["same_answer"] = float(np.mean([r is not None and answer(r.used) == answer(w) for w, _, r in chosen]))
        out[category] = row
    return out


class Memo(Corrector):
    """A corrector that looks each typed word's candidates up once (the grid re-ranks them many times)."""

    seen: dict[tuple[str, int], list[tuple[str, int]]] = {}

    def candidates(self, word: str, limit: int) -> list[tuple[str, int]]:
        if (word, limit) not in self.seen:
            self.seen[word, limit] = super().candidates(word, limit)
        return self.seen[word, limit]


def tune(corrector: Corrector, cases: list[tuple[str, str, str]], preferred: set[str]) -> dict[str, Any]:
    """Every setting of GRID on the tuning cases: the mean of the one- and two-edit "intended" rates."""
    memo = Memo(corrector.words, corrector.table)
    rows = []
    for farther, zipf, drop, near_insert in itertools.product(*GRID.values()):
        channel = dataclasses.replace(Channel(), drop=drop, near_insert=near_insert)
        found = evaluate(memo.replace(farther=farther, zipf=zipf, channel=channel), cases, preferred)
        one = statistics.mean(r["intended"] for c, r in found.items() if c.startswith("1_edit"))
        two = statistics.mean(r["intended"] for c, r in found.items() if c.startswith("2_edit"))
        rows.append({"farther": farther, "zipf": zipf, "drop": drop, "near_insert": near_insert,
                     "one_edit_intended": one, "two_edit_intended": two, "objective": (one + two) / 2})
    best = max(rows, key=lambda r: r["objective"])
    default = Channel()
    is_default = (best["farther"], best["zipf"], best["drop"], best["near_insert"]) == (
        corrector.farther, corrector.zipf, default.drop, default.near_insert)
    return {"grid": rows, "best": best, "best_is_the_default": is_default}


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def build_figures(words: list[str]) -> dict[str, float]:
    """Cold build into an empty cache folder, then a warm build from it (a new process would do the same)."""
    root = Path(tempfile.mkdtemp(prefix="fkv-spelling-"))
    try:
        layout = CacheLayout(root)
        before, peak_before = rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        cold = Corrector.build(words, name="benchmark", layout=layout)
        cold_s = time.perf_counter() - start
        cold_rss = rss_mb() - before
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - peak_before
        del cold
        start = time.perf_counter()
        warm = Corrector.build(words, name="benchmark", layout=layout)
        warm_s = time.perf_counter() - start
        warm.correct("rhombsu")
        size = index_file(layout, "benchmark").stat().st_size / 2**20
        return {"build_cold_s": cold_s, "build_warm_s": warm_s, "index_mb_on_disk": size,
                "rss_delta_mb": cold_rss, "peak_rss_delta_mb": max(peak, 0.0), "index_entries": int(len(warm.table))}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def char_model_figures(embeddings: Embeddings) -> dict[str, Any]:
    """The character model alone (``unknown="chars"``) on the labelled task's query words with one edit:
    the figures benchmarks/report.py reads (keys kept as they were)."""
    rng = random.Random(0)
    labelled = task(0)
    db = Database(labelled.pairs, embeddings=embeddings, unknown="chars")
    cases = []
    for word, label in labelled.queries:
        for _ in range(20):
            typo = misspell(word, rng)
            if typo not in embeddings:
                cases.append((word, typo, label))
                break
    right = [db.query(w, k=1, exact=True)[0] for w, _, _ in cases]
    typed = [db.query(t, k=1, exact=True)[0] for _, t, _ in cases]
    held = [w for w in embeddings.words[40_000:60_000] if w.isalpha()][:2_000]  # past the training words
    predicted = encode(default_char_encoder(), held)
    true = np.array([embeddings.keyed_vectors[w] for w in held])
    cosine = np.sum(predicted * true, axis=1) / (np.linalg.norm(predicted, axis=1) * np.linalg.norm(true, axis=1))
    return {
        "queries": len(cases),
        "query_same_answer": float(np.mean([a == b for a, b in zip(right, typed)])),
        "lookup_same_answer": float(np.mean([db.lookup(w) == db.lookup(t) for w, t, _ in cases])),
        "query_right": float(np.mean([a == label for a, (_, _, label) in zip(typed, cases)])),
        "query_right_spelled": float(np.mean([a == label for a, (_, _, label) in zip(right, cases)])),
        "held_out_cosine": float(cosine.mean()),
    }


def main() -> dict[str, Any]:
    embeddings = load_embeddings()
    db = Database(WRITEUP, embeddings=embeddings)
    vocabulary = embeddings.words
    build = build_figures(vocabulary)
    corrector = Corrector.build(vocabulary)  # in memory: the build figures above come from their own folder
    lists = word_lists(vocabulary)
    known = embeddings.__contains__
    preferred = set(WRITEUP)
    cases = {name: variants(words, known, seed=1) for name, words in lists.items()}

    answers: dict[str, str] = {}

    def answer(word: str) -> str:
        if word not in answers:
            answers[word] = db.query(word, k=1, exact=True)[0]
        return answers[word]

    def prefetch(words: set[str]) -> None:
        todo = sorted(w for w in words if w not in answers)
        for start in range(0, len(todo), 500):
            chunk = todo[start : start + 500]
            for w, found in zip(chunk, db.query_batch(chunk, k=1, exact=True)):
                answers[w] = found[0]

    # Tuning, on the tuning list only: the Zipf exponent of the frequency prior; and, by typed
    # length, how often a two-edit correction is the word meant and keeps its answer, against the
    # character model that would answer instead (this sets min_length_for_2).
    tuning = tune(corrector, cases["tuning"], preferred)
    print("tuning: best", tuning["best"], "is the default:", tuning["best_is_the_default"], flush=True)
    two = [(w, t) for c, w, t in cases["tuning"] if c.startswith("2_edit")]
    two += [(w, t) for w, t in ((w, typing_error(typing_error(w, random.Random(i)), random.Random(i + 1)))
                                for i, w in enumerate(lists["tuning"]) if len(w) < 6)
            if not known(t) and OSA.distance(w, t) == 2]
    loose = corrector.replace(min_length_for_2=3)
    far = [(w, t, r.used) for w, t in two if (r := loose.correct(t, preferred)) is not None and r.distance == 2]
    prefetch({u for _, _, u in far} | {w for w, _, _ in far})
    chars = Database(WRITEUP, embeddings=embeddings, unknown="chars")
    far_typed = [t for _, t, _ in far]
    guessed = {t: found[0] for t, found in zip(far_typed, chars.query_batch(far_typed, k=1, exact=True))}
    by_length = {}
    for length in range(3, 10):
        rows = [(w, t, u) for w, t, u in far if len(t) == length]
        if rows:
            by_length[str(length)] = {
                "cases": len(rows),
                "intended": float(np.mean([u == w for w, _, u in rows])),
                "same_answer": float(np.mean([answer(u) == answer(w) for w, _, u in rows])),
                "char_model_same_answer": float(np.mean([guessed[t] == answer(w) for w, t, _ in rows])),
            }

    results = {}
    for name, listed in cases.items():
        used = {r.used for _, _, t in listed if (r := corrector.correct(t, preferred)) is not None}
        prefetch(used | {w for _, w, _ in listed})
        results[name] = evaluate(corrector, listed, preferred, answer)

    # The whole path through the public API: Database's default unknown="correct" (the corrector,
    # then the character model for what it cannot correct), typed word against the intended word.
    pipeline = {}
    for name, listed in cases.items():
        typed_words = [t for _, _, t in listed]
        got = [found[0] for start in range(0, len(typed_words), 500)
               for found in db.query_batch(typed_words[start : start + 500], k=1, exact=True)]
        pipeline[name] = {p: float(np.mean([g == answer(w) for (c, w, _), g in zip(listed, got) if c.startswith(p)]))
                          for p in ("1_edit", "2_edit")}

    every = [w for w in vocabulary[::20]] + lists["tuning"] + lists["held_out"]
    changed = [w for w in every if (r := corrector.correct(w, preferred)) is None or r.used != w or r.distance != 0]
    typed = [t for listed in cases.values() for _, _, t in listed]
    # Interleaved with distance-first ranking (farther=inf, the ranking before issue 24), each typed
    # word once in each order: what letting farther candidates compete adds per misspelled word.
    strict = corrector.replace(farther=math.inf)
    times, strict_times = [], []
    for n, word in enumerate(typed[:3] + typed):
        pair = []
        for ranker in ((corrector, strict) if n % 2 else (strict, corrector)):
            start = time.perf_counter()
            ranker.correct(word, preferred)
            pair.append((time.perf_counter() - start) * 1e3)
        times.append(pair[1] if n % 2 == 0 else pair[0])
        strict_times.append(pair[0] if n % 2 == 0 else pair[1])
    times, strict_times = times[3:], strict_times[3:]

    def pooled(name: str, prefix: str, key: str) -> float:
        rows = [r for c, r in results[name].items() if c.startswith(prefix)]
        return sum(r[key] * r["cases"] for r in rows) / sum(r["cases"] for r in rows)

    report = {
        "workload": {"tuning_words": len(lists["tuning"]), "held_out_words": len(lists["held_out"]),
                     "cases": {n: len(c) for n, c in cases.items()}, "store": WRITEUP},
        "settings": {"max_distance": corrector.max_distance, "min_length_for_2": corrector.min_length_for_2,
                     "zipf": corrector.zipf, "farther": corrector.farther,
                     "channel": dataclasses.asdict(corrector.channel)},
        "results": results,
        "targets": {
            name: {"one_edit_same_answer": pooled(name, "1_edit", "same_answer"),
                   "two_edit_same_answer": pooled(name, "2_edit", "same_answer"),
                   "one_edit_intended": pooled(name, "1_edit", "intended"),
                   "two_edit_intended": pooled(name, "2_edit", "intended"),
                   "pipeline_one_edit_same_answer": pipeline[name]["1_edit"],
                   "pipeline_two_edit_same_answer": pipeline[name]["2_edit"]}
            for name in results
        },
        "in_vocabulary_checked": len(every),
        "in_vocabulary_changed": len(changed),
        "lookup_median_ms": statistics.median(times),
        "lookup_p99_ms": float(np.percentile(times, 99)),
        "distance_first_median_ms": statistics.median(strict_times),
        "added_mean_ms": statistics.mean(times) - statistics.mean(strict_times),
        "build": build,
        "tuning": tuning,
        "tuning_distance_2_by_length": by_length,
        **char_model_figures(embeddings),  # top level, where benchmarks/report.py reads them
        "examples": [{"intended": w, "typed": t, "used": r.used if (r := corrector.correct(t, preferred)) else None}
                     for _, w, t in cases["held_out"][:12]],
    }
    write("misspellings", report)
    print({k: v for k, v in report.items() if k not in {"examples", "tuning"}})
    return report


if __name__ == "__main__":
    main()
