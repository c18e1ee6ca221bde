"""Confidence of guessed words (issue 23, item 9): nonsense vs misspellings vs real words.

    python benchmarks/confidence.py      # writes results/confidence.json

On the write-up's store, ``best_similarity`` of: 200 random consonant strings and 200 random
letter strings (nonsense: nothing can place them, so the character model guesses); misspellings
of the held-out words of benchmarks/misspellings.py (gensim's analogy words, which nothing was tuned
on) at 1 and 2 edits (what the spelling corrector fixes) and at 3 edits (mostly left to the
character model); and the real words themselves. Nothing here was tuned: GUESS_RELIABILITY is the
character model's own held-out figure.
"""

from __future__ import annotations

import json
import random
import statistics
import string
from pathlib import Path
from typing import Any

from misspellings import WRITEUP, typing_error, variants, word_lists
from rapidfuzz.distance import OSA

from fuzzykv import Database
from fuzzykv.embed.encoders import misspell

RESULTS = Path(__file__).parent / "results"


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "median": round(statistics.median(values), 3),
            "share_at_least_0.5": round(sum(v >= 0.5 for v in values) / len(values), 3),
            "max": round(max(values), 3)}


def main() -> dict[str, Any]:
    db = Database(WRITEUP)
    known = db.embeddings.__contains__
    rng = random.Random(0)
    consonants = "bcdfghjklmnpqrstvwxz"
    nonsense = {
        "consonants": ["".join(rng.choice(consonants) for _ in range(rng.randint(6, 11))) for _ in range(200)],
        "letters": [w for w in ("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(5, 10)))
                                for _ in range(260)) if not known(w)][:200],
    }
    figures: dict[str, Any] = {}
    for name, words in nonsense.items():
        results = [db.search(w, k=1) for w in words]
        figures[f"nonsense_{name}"] = {**summary([r.best_similarity for r in results]),
                                      "guessed": sum(bool(r.spelled) for r in results),
                                      "corrected": sum(bool(r.corrections) for r in results)}
    held = random.Random(1).sample(word_lists(db.embeddings.words)["held_out"], 300)
    real = {w: db.search(w, k=1) for w in held}
    figures["real_words"] = summary([r.best_similarity for r in real.values()])
    cases = variants(held, known, seed=2)
    three = []
    for word in held:
        if len(word) >= 7:
            for _ in range(30):
                typed = word
                for _ in range(3):
                    typed = (typing_error if rng.random() < 0.5 else misspell)(typed, rng)
                if not known(typed) and OSA.distance(word, typed) == 3:
                    three.append(("3_edits", word, typed))
                    break
    corrected: list[float] = []
    kept_answer = kept_confidence = 0
    guessed: list[float] = []
    for _, word, typed in cases + three:
        got = db.search(typed, k=1)
        if got.corrections and got.corrections[0].used == word:
            want = real[word]
            corrected.append(got.best_similarity)
            kept_answer += got.words == want.words
            kept_confidence += abs(got.best_similarity - want.best_similarity) < 1e-6
        elif got.spelled:
            guessed.append(got.best_similarity)
    figures["misspellings"] = {
        "cases": len(cases) + len(three), "corrected_to_the_word_meant": len(corrected),
        "corrected_keep_answer": kept_answer, "corrected_keep_confidence": kept_confidence,
        "corrected_confidence": summary(corrected), "guessed_confidence": summary(guessed) if guessed else None,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "confidence.json").write_text(json.dumps(figures, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
