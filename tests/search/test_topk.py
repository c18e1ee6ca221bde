"""The k highest scores (fuzzykv.search.topk) against a full stable sort, ties included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzzykv.search.topk import BLOCKED, top_rows


def sorted_rows(scores: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-scores, kind="stable")[:k]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3 * BLOCKED), k=st.integers(1, 40), seed=st.integers(0, 2**32 - 1),
       levels=st.sampled_from([None, 3, 50]))
def test_top_rows_are_the_first_rows_of_a_stable_sort(n: int, k: int, seed: int, levels: int | None) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal(n).astype(np.float32)
    if levels is not None:  # many equal scores: ties must fall in row order
        scores = np.round(scores * levels) / levels
    np.testing.assert_array_equal(top_rows(scores, k), sorted_rows(scores, k))


def test_top_rows_of_a_peaked_big_array_match_a_sort() -> None:
    rng = np.random.default_rng(7)
    scores = rng.standard_normal(200_003).astype(np.float32)
    scores[rng.choice(len(scores), 30, replace=False)] += 10  # a few far above the rest, as attention gives
    for k in (1, 5, 10, 50, 100):
        np.testing.assert_array_equal(top_rows(scores, k), sorted_rows(scores, k))


def test_top_rows_of_every_row_or_none() -> None:
    scores = np.array([0.5, 2.0, 2.0, -1.0], dtype=np.float32)
    np.testing.assert_array_equal(top_rows(scores, 10), [1, 2, 0, 3])
    assert len(top_rows(scores, 0)) == 0
