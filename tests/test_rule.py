"""The answer rule (fuzzykv/rule.py): each key scored as its direction moved toward its value's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import WRITEUP_PAIRS
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fuzzykv import Database, InvalidOptionError
from fuzzykv.attention import Attention, Partial, score
from fuzzykv.embeddings import Embeddings
from fuzzykv.rule import index_directions, key_logits, mixed_lengths
from fuzzykv.settings import DEFAULT_KEY_VALUE_MIX, Settings

finite = st.floats(-10, 10, allow_nan=False, width=32).filter(lambda x: abs(x) > 1e-3)


def unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 8).flatmap(lambda d: st.tuples(arrays(np.float32, (3, d), elements=finite),
                                                     arrays(np.float32, (5, d), elements=finite),
                                                     arrays(np.float32, (5, d), elements=finite))),
       st.floats(0, 3), st.floats(0, 2), st.floats(0.01, 1))
def test_a_logit_is_the_cosine_to_the_key_moved_toward_its_value(problem, mix, weight, temperature) -> None:
    queries, keys, values = (a.astype(np.float64) for a in problem)
    moved = unit(keys) + mix * unit(values)
    if np.any(np.linalg.norm(moved, axis=1) < 1e-3):
        return  # a key opposite its value at mix 1 has no direction
    expected = (unit(queries) @ unit(moved).T + weight * unit(queries) @ unit(values).T) / temperature
    cosine = torch.from_numpy(unit(queries) @ unit(keys).T)
    value_cosine = torch.from_numpy(unit(queries) @ unit(values).T)
    lengths = torch.from_numpy(mixed_lengths(unit(keys), unit(values), mix).astype(np.float64))
    got = key_logits(cosine, value_cosine, lengths, temperature=temperature, value_weight=weight, mix=mix)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-3 / temperature)
    # what an index over the keys searches orders keys as the logits do
    directions = index_directions(unit(keys).astype(np.float32), unit(values).astype(np.float32),
                                  value_weight=weight, mix=mix)
    np.testing.assert_allclose(unit(queries) @ directions.T.astype(np.float64), expected * temperature,
                               rtol=1e-4, atol=1e-3)


def test_mix_zero_is_the_plain_rule() -> None:
    rng = np.random.default_rng(0)
    queries, keys, values = (torch.from_numpy(rng.normal(size=s).astype(np.float32)) for s in ((2, 6), (7, 6), (7, 6)))
    scores = score(queries, *_units(keys))
    value_cosines = score(queries, *_units(values)).cosine
    plain = Attention("cosine", 0.03, 1.0, 0.0).logits(scores, value_cosines)
    torch.testing.assert_close(plain, (scores.cosine + value_cosines) / 0.03)
    dot = Attention("dot", 1.0, None, 0.5)  # dot attention, the write-up's, has neither term
    assert dot.value_weight == 0.0 and dot.key_value_mix == 0.0
    torch.testing.assert_close(dot.logits(scores, value_cosines), scores.dot)


def test_parts_merge_exactly_under_the_rule() -> None:
    rng = np.random.default_rng(1)
    queries = torch.from_numpy(rng.normal(size=(3, 8)).astype(np.float32))
    keys, values = rng.normal(size=(40, 8)).astype(np.float32), rng.normal(size=(40, 8)).astype(np.float32)
    attention = Attention("cosine", 0.05, 0.0, 0.5)

    def part(rows: slice) -> Partial:
        k, v = torch.from_numpy(keys[rows]), torch.from_numpy(values[rows])
        lengths = torch.from_numpy(mixed_lengths(unit(keys[rows]), unit(values[rows]), 0.5))
        logits = attention.logits(score(queries, *_units(k)), score(queries, *_units(v)).cosine, lengths)
        return Partial.of(logits, *_units(v))

    whole, _ = Partial.merge([part(slice(0, 40))])
    sharded, _ = Partial.merge([part(slice(0, 13)), part(slice(13, 29)), part(slice(29, 40))])
    np.testing.assert_allclose(sharded, whole, rtol=1e-5, atol=1e-6)


def test_the_option_is_checked() -> None:
    assert Settings().key_value_mix == DEFAULT_KEY_VALUE_MIX
    with pytest.raises(InvalidOptionError, match="key_value_mix"):
        Settings(key_value_mix=-1.0)
    with pytest.raises(InvalidOptionError, match="key_value_mix"):
        Database({"one": "number"}, key_value_mix="lots")  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "answer"), [("seventy", "number"), ("cylinder", "shape"), ("rhombus", "shape"),
                                              ("female", "gender"), ("seven", "number")])
def test_the_default_rule_answers_the_writeup_queries(glove: Embeddings, text: str, answer: str) -> None:
    db = Database(WRITEUP_PAIRS)
    assert db.settings.key_value_mix == DEFAULT_KEY_VALUE_MIX
    assert db.query(text, exact=True)[0] == answer
    assert db.classify(text).label == answer


def test_the_key_index_attends_as_the_rule_does(glove: Embeddings) -> None:
    pairs = {w: c for c, words in {"number": ["one", "two", "three", "four"], "animal": ["cat", "dog", "horse"],
                                   "shape": ["sphere", "cube", "circle"]}.items() for w in words}
    whole = Database(pairs, key_value_mix=0.5, value_weight=0.0, temperature=0.05)
    indexed = Database(pairs, key_value_mix=0.5, value_weight=0.0, temperature=0.05, attend_to="index", attend_top=10)
    for text in ("seventy", "cylinder", "puppy", "eleven"):
        assert indexed.query(text, exact=True) == whole.query(text, exact=True)


def _units(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    norms = torch.linalg.vector_norm(t, dim=-1)
    return t / norms[:, None], norms
