import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fuzzykv import InvalidOptionError
from fuzzykv.pairs import unit_rows
from fuzzykv.search.attention import DEFAULT_TEMPERATURES, Attention, score

finite = st.floats(-10, 10, allow_nan=False, width=32)


@st.composite
def problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dim = draw(st.integers(1, 8))
    n = draw(st.integers(1, 12))
    b = draw(st.integers(1, 4))
    return (
        draw(arrays(np.float32, (b, dim), elements=finite)),
        draw(arrays(np.float32, (n, dim), elements=finite)),
        draw(arrays(np.float32, (n, dim), elements=finite)),
    )


@settings(max_examples=200, deadline=None)
@given(problem=problems(), similarity=st.sampled_from(["cosine", "dot"]), temperature=st.floats(0.01, 5))
def test_weights_are_a_distribution_and_the_blend_is_their_mix(problem, similarity, temperature) -> None:
    queries, keys, values = (torch.from_numpy(a) for a in problem)
    attention = Attention(similarity, temperature)
    weights = attention.weights(score(queries, *units(keys)))
    assert weights.shape == (len(queries), len(keys))
    assert torch.all(weights >= 0)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(len(queries)), atol=1e-5, rtol=0)
    blended = Attention.blend(weights, values)
    torch.testing.assert_close(blended, torch.einsum("bn,nd->bd", weights, values))


def scores(queries: list[list[float]], keys: list[list[float]]):
    return score(torch.tensor(queries), *units(torch.tensor(keys)))


def units(keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    directions, norms = unit_rows(keys.numpy())
    return torch.from_numpy(directions), torch.from_numpy(norms)


def test_scores_are_dot_products_and_cosines() -> None:
    found = scores([[3.0, 4.0]], [[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    torch.testing.assert_close(found.dot, torch.tensor([[3.0, 8.0, 0.0]]))
    torch.testing.assert_close(found.cosine, torch.tensor([[0.6, 0.8, 0.0]]))


def test_cosine_attention_ignores_vector_length() -> None:
    keys = [[1.0, 0.0], [0.0, 5.0]]
    attention = Attention("cosine", 0.1)
    short = attention.weights(scores([[1.0, 0.2]], keys))
    long = attention.weights(scores([[50.0, 10.0]], keys))
    torch.testing.assert_close(short, long)


def test_dot_attention_is_the_raw_softmax_of_dot_products() -> None:
    weights = Attention("dot").weights(scores([[3.0, 1.0]], [[1.0, 0.0], [0.0, 2.0]]))
    torch.testing.assert_close(weights, torch.softmax(torch.tensor([[3.0, 2.0]]), dim=-1))


def test_lower_temperature_concentrates_the_weight() -> None:
    found = scores([[1.0, 0.2]], [[1.0, 0.1], [0.3, 1.0]])
    sharp = Attention("cosine", 0.01).weights(found)[0, 0]
    soft = Attention("cosine", 1.0).weights(found)[0, 0]
    assert sharp > soft > 0.5


def test_default_temperatures() -> None:
    assert Attention().temperature == DEFAULT_TEMPERATURES["cosine"]
    assert Attention("dot").temperature == 1.0


@pytest.mark.parametrize("similarity", ["euclid", "Cosine", ""])
def test_unknown_similarity_is_rejected(similarity: str) -> None:
    with pytest.raises(InvalidOptionError, match="similarity must be one of 'cosine', 'dot'"):
        Attention(similarity)  # type: ignore[arg-type]


@pytest.mark.parametrize("temperature", [0, -1, float("inf"), float("nan"), "hot", True])
def test_bad_temperature_is_rejected(temperature: object) -> None:
    with pytest.raises(InvalidOptionError, match="temperature must be a positive"):
        Attention("cosine", temperature)  # type: ignore[arg-type]

