"""Which embeddings a store embeds with: word vectors (the default GloVe, or yours), or your own encoder."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import InvalidOptionError
from .encoders import Encoder, EncoderEmbeddings
from .loading import EmbeddingsSpec, load_embeddings
from .vectors import Embeddings


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
    return EncoderEmbeddings(encoder, vocabulary, sample)
