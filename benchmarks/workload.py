"""The realistic workload every speed figure is measured on: stores and queries drawn from the whole vocabulary.

    from workload import workload, blends
    pairs, queries = workload(100_000)         # the same pairs and queries on every run

A store of ``n`` pairs and ``queries`` query texts, from a fixed seed:

- Keys, values and queries are drawn uniformly from the whole GloVe vocabulary (400,000 words,
  most of them rare: names, numbers, foreign words), not from its most frequent words; one in ten
  of each is a two-word phrase of two such words.
- Every value is distinct as far as the vocabulary allows: single words without repetition while
  they last, then two-word phrases (also distinct). So a store of n pairs holds n different
  values, and each query's blend is of values the decoder has not seen before.
- Queries are all different from each other and from the keys: a benchmark that times the first
  pass over them never times a repeat (a warm repeat, where a benchmark reports one, is labelled so).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fuzzykv import Database, Embeddings
from fuzzykv.search.attention import Partial

SEED = 12
PHRASES = 0.1  # the share of keys, values and queries that are two-word phrases


def vocabulary() -> list[str]:
    """The GloVe words a text can hold as itself: one token, no white space."""
    embeddings = Database({}).embeddings
    assert isinstance(embeddings, Embeddings)
    return [w for w in embeddings.words if w and len(w.split()) == 1 and w == w.strip()]


def workload(n: int, queries: int = 1_000, seed: int = SEED,
             words: Sequence[str] | None = None) -> tuple[dict[str, str], list[str]]:
    """(pairs, queries): ``n`` pairs with ``n`` distinct values, and ``queries`` distinct query texts.

    :param words: the vocabulary to draw from (default: every GloVe word, see :func:`vocabulary`).
    """
    rng = random.Random(seed * 1_000_003 + n)
    pool = list(words) if words is not None else vocabulary()
    keys = _distinct(rng, pool, n, set())
    values = _distinct(rng, pool, n, set())
    texts = _distinct(rng, pool, queries, set(keys))
    return dict(zip(keys, values)), texts


def _distinct(rng: random.Random, pool: Sequence[str], count: int, taken: set[str]) -> list[str]:
    """``count`` distinct texts not in ``taken``: single words without repetition, a tenth phrases."""
    phrases = int(round(count * PHRASES))
    singles = [w for w in rng.sample(pool, min(len(pool), count - phrases + len(taken))) if w not in taken]
    singles = singles[: count - phrases]
    out, seen = list(singles), set(singles) | taken
    while len(out) < count:
        phrase = f"{rng.choice(pool)} {rng.choice(pool)}"
        if phrase not in seen:
            seen.add(phrase)
            out.append(phrase)
    rng.shuffle(out)
    return out


def blends(db: Database, texts: Sequence[str]) -> np.ndarray:
    """The blended value vectors of ``texts`` in ``db``: what its decoder is handed, without decoding."""
    vectors = db._embed_queries(list(texts)).vectors
    out = [Partial.merge([db._parts(vectors[i : i + 256], 1)[0].partial])[0] for i in range(0, len(vectors), 256)]
    return np.concatenate(out).astype(np.float32)


def overlap(found: Sequence[Sequence[object]], truth: Sequence[Sequence[object]]) -> float:
    """Recall@k: the mean share of each true top k found (k is the length of each truth row)."""
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def interleaved_ms(calls: dict[str, Callable[[Any], object]], items: Sequence[Any], warmup: int = 2,
                   block: int = 25) -> dict[str, list[float]]:
    """Milliseconds per call for each of ``calls``, taking turns by blocks of ``block`` items.

    Every item is timed once per call (a first pass), after ``warmup`` untimed items. Turns by
    blocks, not by single calls, spread a busy machine's load over all contenders alike without
    one contender's leftovers (BLAS threads still spinning after gensim) landing on the next.
    """
    for item in items[:warmup]:
        for call in calls.values():
            call(item)
    times: dict[str, list[float]] = {name: [] for name in calls}
    for first in range(warmup, len(items), block):
        for name, call in calls.items():
            for item in items[first : first + block]:
                start = time.perf_counter()
                call(item)
                times[name].append((time.perf_counter() - start) * 1e3)
    return times
