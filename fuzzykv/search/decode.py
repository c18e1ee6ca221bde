"""Blended vector -> answer words: the vocabulary decode (annoy, else exact) and the stored-values decode."""

from __future__ import annotations

import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..cache import CacheLayout
from ..embed.vectors import Embeddings
from ..errors import IndexFallbackWarning
from ..pairs import PairMatrix
from .annoy_index import ANNOY_SEED, AnnoyDecoder, load_checked
from .exact import Decoder, ExactDecoder

if TYPE_CHECKING:  # NOTE: torch only where a decode needs it (exact scans, GPUs, stored values)
    import torch

#: Chosen on decoded vectors of random stores (benchmarks/annoy_recall.py): recall@5 against
#: exact >= 0.95 with margin, as tests/test_decode.py checks.
DEFAULT_N_TREES = 20
DEFAULT_SEARCH_K = 10_000
#: Hints per query: annoy's nearest words of its HINT_VALUES heaviest values, HINT_WORDS each, found
#: with a small search (HINT_SEARCH_K nodes): a bounded cost per value, never a scan of the vocabulary.
#: They join annoy's candidates for the blend, which keeps its full search_k.
HINT_VALUES = 2
HINT_WORDS = 20
HINT_SEARCH_K = 200
HINT_CACHE = 100_000  # values whose hints are kept, least recently used dropped first


@dataclass(frozen=True)
class IndexSettings:
    """What shapes the decode: the vocabulary rows searched and the annoy index over them."""

    vocabulary_size: int | None = None
    n_trees: int = DEFAULT_N_TREES
    search_k: int = DEFAULT_SEARCH_K


class VocabularyIndex:
    """The decode step of a store: exact on request, annoy otherwise, exact again if annoy fails."""

    def __init__(self, embeddings: Embeddings, settings: IndexSettings, layout: CacheLayout | None = None) -> None:
        self.embeddings = embeddings
        self.settings = settings
        self._layout = layout
        size = len(embeddings) if settings.vocabulary_size is None else min(settings.vocabulary_size, len(embeddings))
        self.size = size
        self._exact: ExactDecoder | None = None
        self._on_devices: dict[torch.device, ExactDecoder] = {}
        self._hints: OrderedDict[str, np.ndarray] = OrderedDict()
        self._annoy: Decoder | None = None
        self._lock = threading.Lock()  # one build per process, however many threads ask at once

    @property
    def words(self) -> list[str]:
        return self.embeddings.words

    def exact(self) -> ExactDecoder:
        with self._lock:
            if self._exact is None:
                self._exact = ExactDecoder(self.embeddings.unit_vectors[: self.size])
            return self._exact

    def approximate(self) -> Decoder:
        """The annoy decoder, built and cached on first use; exact (with a warning) if that fails."""
        if self._annoy is not None:
            return self._annoy
        exact = self.exact()
        with self._lock:
            if self._annoy is not None:
                return self._annoy
            try:
                unit = self.embeddings.unit_vectors[: self.size]
                self._annoy = AnnoyDecoder(load_checked(self.annoy_path(), unit, self.settings.n_trees), unit,
                                           self.settings.search_k, exact)
            except Exception as error:  # a read-only or corrupt cache must never break a query
                warnings.warn(
                    IndexFallbackWarning(
                        f"the annoy index could not be built or loaded ({type(error).__name__}: {error}); "
                        "answering with exact search, which gives the reference answers more slowly. "
                        "Set FUZZYKV_CACHE to a writable folder to keep an index."
                    ),
                    stacklevel=3,
                )
                self._annoy = exact
            return self._annoy

    def hints(self, texts: Sequence[str], vectors: np.ndarray) -> list[np.ndarray]:
        """Annoy's ``HINT_WORDS`` nearest words of each text's vector, from a small search, kept (LRU).

        Each hint costs one bounded annoy search, however many values the store holds; none (empty
        arrays) before the annoy index is open or where exact search replaced it.
        """
        annoy = self._annoy
        if not isinstance(annoy, AnnoyDecoder):
            return [_NO_HINTS] * len(texts)
        with self._lock:
            missing = [i for i, text in enumerate(texts) if text not in self._hints]
        found = annoy.neighbours(vectors[missing], HINT_WORDS, HINT_SEARCH_K) if missing else []
        with self._lock:
            for i, rows in zip(missing, found):
                self._hints[texts[i]] = rows
            out = []
            for i, text in enumerate(texts):
                kept = self._hints.get(text)
                if kept is None:  # dropped by another thread meanwhile
                    kept = self._hints[text] = annoy.neighbours(vectors[i : i + 1], HINT_WORDS, HINT_SEARCH_K)[0]
                self._hints.move_to_end(text)
                out.append(kept)
            while len(self._hints) > HINT_CACHE:
                self._hints.popitem(last=False)
        return out

    def decoder(self, exact: bool, device: torch.device | None = None) -> Decoder:
        """Exact or approximate; exact search runs on ``device`` when that is not the CPU."""
        if exact and device is not None and device.type != "cpu":
            with self._lock:
                if device not in self._on_devices:
                    self._on_devices[device] = ExactDecoder(self.embeddings.unit_vectors[: self.size], device)
                return self._on_devices[device]
        return self.exact() if exact else self.approximate()

    def annoy_path(self) -> Path:
        layout = self._layout or CacheLayout.default()
        name = f"{self.embeddings.fingerprint}-v{self.size}-angular-t{self.settings.n_trees}-s{ANNOY_SEED}"
        return layout.annoy_file(name)


_NO_HINTS = np.empty(0, dtype=np.int64)

_indexes: weakref.WeakKeyDictionary[Embeddings, dict[IndexSettings, VocabularyIndex]] = weakref.WeakKeyDictionary()


def vocabulary_index(embeddings: Embeddings, settings: IndexSettings) -> VocabularyIndex:
    """One :class:`VocabularyIndex` per embeddings and settings in a process, shared by every store."""
    per_embeddings = _indexes.setdefault(embeddings, {})
    if settings not in per_embeddings:
        per_embeddings[settings] = VocabularyIndex(embeddings, settings)
    return per_embeddings[settings]


class ValuesDecoder:
    """``answers="values"``: the stored values nearest (by cosine) to a blend, exactly."""

    def __init__(self, words: list[str], units: np.ndarray) -> None:
        """:param words: the distinct values; ``units``: their (len(words), dim) directions."""
        import torch

        self.words = words
        self._matrix = torch.from_numpy(np.ascontiguousarray(units, dtype=np.float32))

    @classmethod
    def of(cls, pairs: PairMatrix) -> ValuesDecoder:
        return cls(*pairs.distinct_values())

    def search(self, vectors: np.ndarray, k: int, hints: object = None) -> tuple[np.ndarray, np.ndarray]:
        import torch

        queries = torch.nn.functional.normalize(torch.from_numpy(vectors), dim=-1)
        top = torch.topk(queries @ self._matrix.T, min(k, len(self.words)), dim=-1, sorted=True)
        return top.indices.numpy(), top.values.numpy()
