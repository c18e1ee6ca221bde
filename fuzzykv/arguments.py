"""Arguments -> checked values: pairs, texts, counts and bounds as the public API accepts them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from .embeddings import Embedded
from .errors import EmptyTextError, InvalidOptionError, NotAPairError, NotTextError
from .settings import positive_int


def as_dict(pairs: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    if isinstance(pairs, (str, bytes)):
        raise NotTextError("pairs must be a mapping of str to str or an iterable of (key, value), got a string")
    if isinstance(pairs, Mapping):
        return dict(pairs)
    keys = getattr(pairs, "keys", None)
    if callable(keys):  # as dict.update: an object with keys() and __getitem__ is read as a mapping
        return {key: pairs[key] for key in keys()}  # type: ignore[index]
    out: dict[str, str] = {}
    try:
        for number, pair in enumerate(pairs):
            if isinstance(pair, (str, bytes)) or len(pair) != 2:
                raise NotAPairError(f"element #{number} of the pairs, {pair!r}, is not a (key, value) pair")
            out[pair[0]] = pair[1]
    except TypeError as error:
        raise NotTextError(f"pairs must be a mapping of str to str or an iterable of (key, value) pairs ({error})") from error
    return out


def as_texts(texts: str | Sequence[str], name: str) -> list[str]:
    if isinstance(texts, str) and name in ("positive", "negative"):
        return [texts]  # as gensim's most_similar: a single string is one text
    if isinstance(texts, (str, bytes)):
        raise NotTextError(f"{name} takes a list of strings, got a single {type(texts).__name__}; use query()")
    return list(texts)


def search_arguments(texts: Sequence[str], k: int, attention_k: int | None, min_similarity: float | None,
                     name: str) -> tuple[list[str], int, float]:
    """A batch of searches' arguments, checked: the texts as a list, ``k``, and the similarity threshold."""
    threshold = similarity_bound(min_similarity)
    k = positive_int("k", k)
    if attention_k is not None:
        positive_int("attention_k", attention_k)
    return as_texts(texts, name), k, threshold


def similarity_bound(value: float | None) -> float:
    """``min_similarity`` as a bound: ``None`` admits everything."""
    if value is None:
        return -float("inf")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1 <= value <= 1:
        raise InvalidOptionError(f"min_similarity must be a cosine similarity between -1 and 1, got {value!r}")
    return float(value)


def composite(embed: Callable[[list[str]], Embedded], positive: Sequence[str], negative: Sequence[str]) -> Embedded:
    """gensim's most_similar rule: the mean of the unit vectors of ``positive``, minus those of ``negative``."""
    texts = [*positive, *negative]
    if not texts:
        raise EmptyTextError("expected a text, or positive=[...] and/or negative=[...]; got nothing to query")
    embedded = embed(texts)
    units = embedded.vectors / np.maximum(np.linalg.norm(embedded.vectors, axis=1, keepdims=True), 1e-12)
    signs = np.array([1.0] * len(positive) + [-1.0] * len(negative), dtype=np.float32)
    vector = (signs[:, None] * units).sum(axis=0) / len(texts)
    return Embedded(
        vector[None, :].astype(np.float32),
        (tuple(w for words in embedded.ignored for w in words),),
        (tuple(w for words in embedded.spelled for w in words),),
        (tuple(c for found in embedded.corrections for c in found),),
    )


def embed_query(
    embed: Callable[[list[str]], Embedded], text: str | None, positive: str | Sequence[str], negative: str | Sequence[str]
) -> tuple[Embedded, str]:
    """A query's vector and how it is shown: ``text`` alone, or gensim's composite of ``positive`` and ``negative``."""
    plus, minus = as_texts(positive, "positive"), as_texts(negative, "negative")
    if plus or minus:
        parts = ([text] if text is not None else []) + plus
        shown = text if text is not None else " + ".join(plus) + "".join(f" - {n}" for n in minus)
        return composite(embed, parts, minus), shown
    if text is None:
        raise EmptyTextError("expected a text, or positive=[...] and/or negative=[...]; got nothing to query")
    return embed([text]), text
