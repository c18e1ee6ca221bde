"""Which embeddings a store embeds with: word vectors (the default GloVe, or yours), or your own encoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import InvalidOptionError
from .loading import EmbeddingsSpec, load_embeddings
from .vectors import Embeddings

if TYPE_CHECKING:  # NOTE: encoders import torch, which only a store with an encoder needs
    from .encoders import Encoder, EncoderEmbeddings


def embeddings_for(
    spec: EmbeddingsSpec | None, encoder: Encoder | None, vocabulary: Sequence[str] | None, sample: Sequence[str]
) -> Embeddings | EncoderEmbeddings:
    """The embeddings a store embeds with: word vectors, or your own encoder."""
    if encoder is None:
        if vocabulary is not None:
            raise InvalidOptionError("vocabulary goes with encoder=...; word vectors bring their own vocabulary")
        return load_embeddings(spec)
    if spec is not None:
        raise InvalidOptionError("pass embeddings=... or encoder=..., not both")
    from .encoders import EncoderEmbeddings

    return EncoderEmbeddings(encoder, vocabulary, sample)
