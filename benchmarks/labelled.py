"""A labelled lookup task from a public word list: category exemplars stored, other members queried.

The list is the analogy set of Mikolov et al. (2013), ``questions-words.txt``, which gensim ships.
Its semantic sections pair words by role (a capital and its country, a country and its currency,
...); each role becomes a category, named by a word that GloVe knows. Words that fall in two
categories are dropped, so every query has one right answer.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from gensim.test.utils import datapath

# section -> (category of the 1st and 3rd word, category of the 2nd and 4th word)
SECTIONS: dict[str, tuple[str, str]] = {
    "capital-common-countries": ("city", "country"),
    "capital-world": ("city", "country"),
    "currency": ("country", "currency"),
    "city-in-state": ("city", "state"),
    "family": ("family", "family"),
    "gram6-nationality-adjective": ("country", "nationality"),
}
#: The syntactic sections, grouped by word form: a category source built another way (form, not
#: meaning). ``None``: that column is left out (gram9's "decreases" is neither a plural nor a verb
#: in its base form).
SYNTAX_SECTIONS: dict[str, tuple[str | None, str | None]] = {
    "gram1-adjective-to-adverb": ("adjective", "adverb"),
    "gram2-opposite": ("adjective", "opposite"),
    "gram3-comparative": ("adjective", "comparative"),
    "gram4-superlative": ("adjective", "superlative"),
    "gram5-present-participle": ("verb", "participle"),
    "gram7-past-tense": ("participle", "past"),
    "gram8-plural": ("noun", "plural"),
    "gram9-plural-verbs": ("verb", None),
}


@dataclass(frozen=True)
class LabelledTask:
    """Exemplar word -> category pairs to store, and (query word, category) pairs to ask."""

    pairs: dict[str, str]
    queries: list[tuple[str, str]]


def categories(path: Path | None = None,
               sections: dict[str, tuple[str, str]] | dict[str, tuple[str | None, str | None]] = SECTIONS,
               ) -> dict[str, list[str]]:
    """Category -> sorted member words (lower-cased), each word in exactly one category."""
    found: dict[str, set[str]] = defaultdict(set)
    section = None
    for line in Path(path or datapath("questions-words.txt")).read_text().splitlines():
        if line.startswith(":"):
            section = line[1:].strip()
            continue
        if section not in sections:
            continue
        first, second = sections[section]
        words = line.lower().split()
        for word, category in zip(words, (first, second, first, second)):
            if category is not None:
                found[category].add(word)
    seen: dict[str, int] = defaultdict(int)
    for members in found.values():
        for word in members:
            seen[word] += 1
    return {c: sorted(w for w in members if seen[w] == 1 and w != c) for c, members in sorted(found.items())}


def task(seed: int, exemplars: int = 3, queries_per_category: int = 40) -> LabelledTask:
    """Store ``exemplars`` words of each category; ask up to ``queries_per_category`` others."""
    rng = random.Random(seed)
    pairs: dict[str, str] = {}
    asked: list[tuple[str, str]] = []
    for category, members in categories().items():
        chosen = rng.sample(members, len(members))
        pairs.update({word: category for word in chosen[:exemplars]})
        asked.extend((word, category) for word in chosen[exemplars : exemplars + queries_per_category])
    return LabelledTask(pairs, asked)
