"""Result types as values (issue 23, item 14): equality, hashing, bounded reprs."""

from __future__ import annotations

import numpy as np

from fuzzykv import Database
from fuzzykv.results import QueryResult


def test_a_query_result_compares_and_hashes_by_value(writeup_db: Database) -> None:
    # NOTE: exact decoding: the annoy path's first answer may differ from later ones in the 7th digit.
    first, again = writeup_db.search("cat", exact=True), writeup_db.search("cat", exact=True)
    assert first == again and hash(first) == hash(again) and len({first, again}) == 1
    assert first != writeup_db.search("dog", exact=True)
    moved = QueryResult(first.text, first.candidates, first.attention, first.vector + 1e-3, first.best_similarity)
    assert moved != QueryResult(first.text, first.candidates, first.attention, first.vector, first.best_similarity)
    empty = QueryResult("x", [], [], np.zeros(0, np.float32))  # best_similarity NaN: still equal to itself
    assert empty == QueryResult("x", [], [], np.zeros(0, np.float32))


def test_classifications_compare_and_hash(writeup_db: Database) -> None:
    verdict = writeup_db.classify("kitten")
    assert verdict == writeup_db.classify("kitten") and hash(verdict) == hash(writeup_db.classify("kitten"))


def test_reprs_are_bounded_on_a_large_store(glove: object) -> None:
    words = [w for w in Database().embeddings.words[1000:4000] if w.isalpha()]
    db = Database({word: "thing" for word in words})
    found = db.search("cat")
    assert len(found.attention) == len(words)
    shown = repr(found)
    assert len(shown) < 1_000 and f"... and {len(words) - 5:,} more" in shown and "'cat'" in shown
    assert len(repr(db.classify("cat"))) < 1_000
