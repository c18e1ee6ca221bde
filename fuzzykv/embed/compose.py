"""Query composition: a text, or gensim's composite of ``positive`` and ``negative`` texts, as one query vector."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..errors import EmptyTextError, NotTextError

if TYPE_CHECKING:  # NOTE: the remote client checks texts here without loading word vectors
    from .vectors import Embedded


def as_texts(texts: str | Sequence[str], name: str) -> list[str]:
    """``texts`` as a list, checked up front: a single string is one text for ``positive`` and
    ``negative`` (as gensim's most_similar takes it), and a :class:`NotTextError` for a batch, whose
    characters would otherwise be taken as one-letter texts.
    """
    if isinstance(texts, str) and name in ("positive", "negative"):
        return [texts]  # as gensim's most_similar: a single string is one text
    if isinstance(texts, (str, bytes)):
        raise NotTextError(f"{name} takes a list of strings, got a single {type(texts).__name__}; use query()")
    return list(texts)


def composite(embed: Callable[[list[str]], Embedded], positive: Sequence[str], negative: Sequence[str]) -> Embedded:
    """gensim's most_similar rule: the mean of the unit vectors of ``positive``, minus those of ``negative``."""
    from .vectors import Embedded

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
