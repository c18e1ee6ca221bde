"""Words without a vector -> vectors: corrected to the nearest known spelling, or guessed from the
spelling by the character model, as the ``unknown`` settings say.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Collection

import numpy as np

from ..errors import InvalidOptionError
from ..settings import Unknown
from .spelling import Corrector
from .vectors import DEFAULT_NAME, Correction, Embeddings, Resolved, Resolver

_correctors: weakref.WeakKeyDictionary[Embeddings, Corrector] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def corrector_for(embeddings: Embeddings) -> Corrector:
    """One spelling corrector per vocabulary and process, built (or read from the cache) on first use."""
    with _lock:
        found = _correctors.get(embeddings)
        if found is None:
            found = Corrector.build(embeddings.words, name=embeddings.fingerprint)
            _correctors[embeddings] = found
        return found


def has_character_model(embeddings: Embeddings) -> bool:
    """The CharEncoder predicts GloVe 6B 50d vectors only."""
    return embeddings.name == DEFAULT_NAME


def check_policy(embeddings: Embeddings, policy: Unknown, option: str) -> None:
    """Refuse ``chars`` up front for embeddings the character model was not trained for: it predicts
    GloVe 6B 50d vectors, which would mean nothing next to other vectors.
    """
    if policy == "chars" and not has_character_model(embeddings):
        raise InvalidOptionError(
            f"{option}='chars' predicts GloVe 6B 50d vectors from spelling; these embeddings are {embeddings.name!r}. "
            f"Use the default embeddings, or {option}='correct' or 'error'"
        )


def resolver(embeddings: Embeddings, policy: Unknown, preferred: Callable[[], Collection[str]]) -> Resolver | None:
    """How words without a vector get one under ``policy`` (``None``: they do not).

    ``"correct"``: the nearest known spelling within two edits (among equally close ones, a word of
    the store's own keys, then the likelier typing error and the more frequent word); failing that,
    the character model where there is one. ``"chars"``: the character model.
    """
    if policy == "error":
        return None

    def guess(words: list[str]) -> list[np.ndarray]:
        from .encoders import default_char_encoder, encode

        return list(encode(default_char_encoder(), words))

    def resolve(words: list[str]) -> list[Resolved | None]:
        out: list[Resolved | None] = [None] * len(words)
        if policy == "correct":
            corrector = corrector_for(embeddings)
            keys = preferred()
            for i, word in enumerate(words):
                found = corrector.correct(word, keys)
                row = None if found is None else embeddings.index_of(found.used)
                if found is not None and row is not None:
                    correction = Correction(word, found.used, int(found.distance))
                    out[i] = Resolved(np.asarray(embeddings.vectors[row], dtype=np.float32), correction)
        left = [i for i, found in enumerate(out) if found is None]
        if left and (policy == "chars" or has_character_model(embeddings)):
            for i, vector in zip(left, guess([words[i] for i in left])):
                out[i] = Resolved(vector)
        return out

    return resolve
