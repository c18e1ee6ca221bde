"""The listed decode of stores with few values (fuzzykv.search.listed): where it proves an answer,
the answer is a full scan's; where it cannot, the store answers as it did without it."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import WRITEUP_PAIRS
from hypothesis import given, settings
from hypothesis import strategies as st
from test_exact import assert_same_answers

from fuzzykv import Database
from fuzzykv.embed.vectors import Embeddings
from fuzzykv.search import listed
from fuzzykv.search.exact import ExactDecoder
from fuzzykv.search.listed import ListedDecoder, ValueLists


@pytest.fixture(scope="module")
def exact(glove: Embeddings) -> ExactDecoder:
    return ExactDecoder(glove.unit_vectors)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), values=st.integers(1, 8), negative=st.booleans())
def test_every_proven_answer_is_the_full_scans(glove: Embeddings, exact: ExactDecoder, seed: int, values: int,
                                               negative: bool) -> None:
    rng = np.random.default_rng(seed)
    rows = rng.choice(20_000, size=values, replace=False)  # words common enough to be values
    texts, directions = [glove.words[r] for r in rows], glove.unit_vectors[rows]
    decoder = ListedDecoder.of(exact.unit_vectors, ValueLists(exact.unit_vectors), texts, directions)
    assert decoder is not None
    weights = rng.dirichlet(np.full(values, 0.3), size=20) * rng.uniform(0.5, 8, size=(20, 1))
    if negative:  # composite queries subtract: the bound must hold for negative weights too
        weights[:, 0] *= -0.3
    blends = (weights @ directions).astype(np.float32)
    found = decoder.search(blends, 10)
    for blend, answer in zip(blends, found):
        if answer is not None:
            assert_same_answers((answer[0][None], answer[1][None]), exact.full_scan(blend[None], 10))


def test_blends_near_one_value_are_proven(glove: Embeddings, exact: ExactDecoder) -> None:
    texts = ["animal", "shape", "number", "gender", "colour", "food"]
    directions = glove.unit_vectors[[glove.words.index(t) for t in texts]]
    decoder = ListedDecoder.of(exact.unit_vectors, ValueLists(exact.unit_vectors), texts, directions)
    assert decoder is not None
    rng = np.random.default_rng(1)
    weights = np.eye(6)[rng.integers(0, 6, size=50)] + rng.uniform(0, 0.05, size=(50, 6))
    found = decoder.search((weights @ directions).astype(np.float32), 10)
    assert sum(answer is not None for answer in found) >= 45
    assert decoder.search(np.zeros((1, glove.dim), dtype=np.float32), 10) == [None]  # a zero blend proves nothing


def test_a_small_store_answers_through_its_lists_and_as_an_exact_query(glove: Embeddings,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    proven: list[bool] = []
    search = ListedDecoder.search

    def counted(self: ListedDecoder, vectors: np.ndarray, k: int) -> list:
        found = search(self, vectors, k)
        proven.extend(answer is not None for answer in found)
        return found

    monkeypatch.setattr(ListedDecoder, "search", counted)
    db = Database(WRITEUP_PAIRS)
    texts = ["rhombus", "seven", "seventy", "kitten", "woman", "triangle", "puppy", "hexagon"]
    for text in texts:
        assert db.query(text, k=10) == db.query(text, k=10, exact=True)
    assert sum(proven) >= len(texts) - 1
    db["violin"] = "instrument"  # a new value: the lists follow the write
    assert db.query("cello", k=10) == db.query("cello", k=10, exact=True)
    assert "instrument" in db.query("cello", k=10)


def test_stores_with_many_values_decode_as_before(glove: Embeddings) -> None:
    words = glove.words[2_000 : 2_000 + 2 * (listed.MAX_VALUES + 1)]
    db = Database(dict(zip(words[: listed.MAX_VALUES + 1], words[listed.MAX_VALUES + 1 :])))
    db.query("kitten")
    with db._synced.reading() as pairs:
        assert db._pipeline._lists.decoder(pairs, db._pipeline.index.exact()) is None  # type: ignore[union-attr]
