"""Misspelled queries: how often one edit still gets the answer the correct spelling gets.

    python benchmarks/misspellings.py      # writes results/misspellings.json

Each query word of the labelled task (benchmarks/labelled.py) gets one edit (a deleted,
inserted, replaced or swapped letter), redrawn until the result is outside the GloVe vocabulary,
so only the CharEncoder can place it (``unknown="chars"``).
"""

from __future__ import annotations

import random

import numpy as np
from common import write
from labelled import task

from fuzzykv import Database
from fuzzykv.encoders import default_char_encoder, encode, misspell


def main() -> dict:
    rng = random.Random(0)
    labelled = task(0)
    db = Database(labelled.pairs, unknown="chars")
    vocabulary = db.embeddings
    cases = []
    for word, label in labelled.queries:
        for _ in range(20):
            typo = misspell(word, rng)
            if typo not in vocabulary:
                cases.append((word, typo, label))
                break
    right = [db.query(w, k=1, exact=True)[0] for w, _, _ in cases]
    typed = [db.query(t, k=1, exact=True)[0] for _, t, _ in cases]
    held = [w for w in vocabulary.words[40_000:60_000] if w.isalpha()][:2_000]  # past the training words
    predicted = encode(default_char_encoder(), held)
    true = np.array([vocabulary.keyed_vectors[w] for w in held])
    cosine = np.sum(predicted * true, axis=1) / (np.linalg.norm(predicted, axis=1) * np.linalg.norm(true, axis=1))
    report = {
        "queries": len(cases),
        "query_same_answer": float(np.mean([a == b for a, b in zip(right, typed)])),
        "lookup_same_answer": float(np.mean([db.lookup(w) == db.lookup(t) for w, t, _ in cases])),
        "query_right": float(np.mean([a == label for a, (_, _, label) in zip(typed, cases)])),
        "query_right_spelled": float(np.mean([a == label for a, (_, _, label) in zip(right, cases)])),
        "held_out_cosine": float(cosine.mean()),
        "examples": [{"word": w, "typo": t, "answer": a, "typo_answer": b} for (w, t, _), a, b in list(zip(cases, right, typed))[:10]],
    }
    write("misspellings", report)
    print({k: v for k, v in report.items() if k != "examples"})
    return report


if __name__ == "__main__":
    main()
