import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fuzzykv import InvalidOptionError
from fuzzykv.attention import DEFAULT_TEMPERATURES, Attention

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
    weights = attention.weights(attention.prepare(queries), attention.prepare(keys))
    assert weights.shape == (len(queries), len(keys))
    assert torch.all(weights >= 0)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(len(queries)), atol=1e-5, rtol=0)
    blended = Attention.blend(weights, values)
    torch.testing.assert_close(blended, torch.einsum("bn,nd->bd", weights, values))


def test_cosine_attention_ignores_vector_length() -> None:
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    attention = Attention("cosine", 0.1)
    short = attention.weights(attention.prepare(torch.tensor([[1.0, 0.2]])), attention.prepare(keys))
    long = attention.weights(attention.prepare(torch.tensor([[50.0, 10.0]])), attention.prepare(keys))
    torch.testing.assert_close(short, long)


def test_dot_attention_is_the_raw_softmax_of_dot_products() -> None:
    keys = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    query = torch.tensor([[3.0, 1.0]])
    weights = Attention("dot").weights(query, keys)
    torch.testing.assert_close(weights, torch.softmax(torch.tensor([[3.0, 2.0]]), dim=-1))


def test_lower_temperature_concentrates_the_weight() -> None:
    keys = torch.nn.functional.normalize(torch.tensor([[1.0, 0.1], [0.3, 1.0]]), dim=-1)
    query = torch.nn.functional.normalize(torch.tensor([[1.0, 0.2]]), dim=-1)
    sharp = Attention("cosine", 0.01).weights(query, keys)[0, 0]
    soft = Attention("cosine", 1.0).weights(query, keys)[0, 0]
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
