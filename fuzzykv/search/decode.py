"""Blended vector -> answer words: the vocabulary decode (an HNSW graph or annoy, else exact) and the
stored-values decode.

The approximate index over the vocabulary is built once per vocabulary and settings and cached.
Its first build takes a minute or so; meanwhile queries answer through an index already there
(annoy for an HNSW store, or the other way round) or exactly, and say so with an
:class:`~fuzzykv.errors.IndexBuildingWarning`, while a background thread builds it.
"""

from __future__ import annotations

import atexit
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..cache import CacheLayout, verified
from ..embed.vectors import Embeddings
from ..errors import IndexBuildingWarning, IndexFallbackWarning
from ..pairs import HeldPairs
from ..settings import (
    DEFAULT_HNSW_EF_CONSTRUCTION,
    DEFAULT_HNSW_EF_SEARCH,
    DEFAULT_HNSW_M,
    DEFAULT_INDEX,
    DEFAULT_N_TREES,
    DEFAULT_SEARCH_K,
    IndexKind,
    Settings,
)
from . import annoy_index, hnsw_index
from .annoy_index import ANNOY_SEED, AnnoyDecoder
from .exact import Decoder, ExactDecoder
from .hnsw_index import BuildCancelled, HNSWDecoder

if TYPE_CHECKING:  # NOTE: torch only where a decode needs it (exact scans, GPUs, stored values)
    import torch

#: Hints per query: annoy's nearest words of its HINT_VALUES heaviest values, HINT_WORDS each, found
#: with a small search (HINT_SEARCH_K nodes): a bounded cost per value, never a scan of the vocabulary.
#: They join annoy's candidates for the blend, which keeps its full search_k. (The HNSW graph reaches
#: its recall without them: benchmarks/index_recall.py.)
HINT_VALUES = 2
HINT_WORDS = 20
HINT_SEARCH_K = 200
HINT_CACHE = 100_000  # values whose hints are kept, least recently used dropped first

#: Vocabularies up to this many words are indexed in the caller's thread at the first query (a
#: second or so); larger ones in the background, while the other index or exact search answers.
FOREGROUND_WORDS = 5_000

#: What answered a decode: the index asked for, the other one (already built) or exact search.
DecodedBy = Literal["hnsw", "annoy", "exact"]


@dataclass(frozen=True)
class IndexSettings:
    """What shapes the decode: the vocabulary rows searched and the approximate index over them."""

    vocabulary_size: int | None = None
    n_trees: int = DEFAULT_N_TREES
    search_k: int = DEFAULT_SEARCH_K
    index: IndexKind = DEFAULT_INDEX
    hnsw_m: int = DEFAULT_HNSW_M
    hnsw_ef_construction: int = DEFAULT_HNSW_EF_CONSTRUCTION
    hnsw_ef_search: int = DEFAULT_HNSW_EF_SEARCH

    @classmethod
    def of(cls, settings: Settings) -> IndexSettings:
        """The decode's part of a store's settings."""
        return cls(settings.vocabulary_size, settings.n_trees, settings.search_k, settings.index, settings.hnsw_m,
                   settings.hnsw_ef_construction, settings.hnsw_ef_search)


class VocabularyIndex:
    """The decode step of a store: exact on request, the approximate index otherwise (HNSW or
    annoy, as the settings say), built once in the background, exact again if it cannot be built.
    """

    def __init__(self, embeddings: Embeddings, settings: IndexSettings, layout: CacheLayout | None = None) -> None:
        self.embeddings = embeddings
        self.settings = settings
        self._layout = layout or CacheLayout.default()  # fixed now: a background build writes where it was asked
        size = len(embeddings) if settings.vocabulary_size is None else min(settings.vocabulary_size, len(embeddings))
        self.size = size
        self._exact: ExactDecoder | None = None
        self._on_devices: dict[torch.device, ExactDecoder] = {}
        self._hints: OrderedDict[str, np.ndarray] = OrderedDict()
        self._approximate: Decoder | None = None  # the asked-for index once open (exact if it failed)
        self._other: Decoder | None | bool = False  # the other index, if it was already built (False: not looked)
        self._builder: threading.Thread | None = None
        self._build_error: Exception | None = None
        self.built_rows = 0  #: rows the background build has indexed so far (its progress)
        self._lock = threading.RLock()  # one build per process, however many threads ask at once

    @property
    def words(self) -> list[str]:
        """The vocabulary the decode's row ids index (its first :attr:`size` rows are searched)."""
        return self.embeddings.words

    @property
    def kind(self) -> IndexKind:
        """The approximate index the settings ask for: ``"hnsw"`` or ``"annoy"``."""
        return self.settings.index

    def exact(self) -> ExactDecoder:
        """The exact decoder over the searched rows on the CPU, made on first use and shared by every thread."""
        with self._lock:
            if self._exact is None:
                self._exact = ExactDecoder(self.embeddings.unit_vectors[: self.size])
            return self._exact

    def approximate(self) -> Decoder:
        """The asked-for index, built (waiting for it, with a progress bar) and cached on first use;
        exact (with an :class:`IndexFallbackWarning`) if that fails. What ``fuzzykv warm`` calls.
        """
        if self._approximate is not None:
            return self._approximate
        exact = self.exact()
        with self._lock:
            if self._approximate is not None:
                return self._approximate
            builder = self._builder
        if builder is not None:  # a background build is under way: wait for it rather than build twice
            builder.join()
            with self._lock:
                if self._approximate is not None:
                    return self._approximate
        with self._lock:
            if self._approximate is None:
                try:
                    self._approximate = self._open(self.settings.index)
                except Exception as error:  # a read-only or corrupt cache must never break a query
                    self._approximate = exact
                    _warn_fallback(self.settings.index, error, stacklevel=4)
            return self._approximate

    def ensure_file(self, kind: IndexKind | None = None) -> Path:
        """The cache file of the asked-for index (or of ``kind``), built now if it is missing or damaged
        (waiting, with a progress bar), then opened once to check it: what ``fuzzykv warm`` calls.

        :raises CacheError: it is missing or damaged and the cache cannot be written.
        """
        kind = kind or self.settings.index
        decoder = self._open(kind)
        if kind == self.settings.index:
            with self._lock:
                if self._approximate is None:
                    self._approximate = decoder
        return self.index_path(kind)

    def current(self) -> tuple[Decoder, DecodedBy]:
        """The decoder that answers now, without waiting, and which one it is.

        The asked-for index if it is open or its file is whole (opened now: a digest and a map), or
        built now for a vocabulary of at most ``FOREGROUND_WORDS``; otherwise its first build starts
        in a background thread, and until it is done the other
        index answers if it is already built, else exact search, with an
        :class:`IndexBuildingWarning` saying so.
        """
        decoder = self._approximate
        if decoder is not None:
            return decoder, self._kind_of(decoder)
        with self._lock:
            if self._approximate is None and self._build_error is not None:
                error, self._build_error = self._build_error, None
                self._approximate = self.exact()
                _warn_fallback(self.settings.index, error, stacklevel=4)
            if self._approximate is None and self._builder is None:
                if self.size <= FOREGROUND_WORDS or verified(self.index_path(), **self._meta(self.settings.index)):
                    try:
                        self._approximate = self._open(self.settings.index)
                    except Exception as error:
                        self._approximate = self.exact()
                        _warn_fallback(self.settings.index, error, stacklevel=4)
                else:
                    self._start_build()
            if self._approximate is not None:
                return self._approximate, self._kind_of(self._approximate)
            fallback = self._other_index() or self.exact()
        answered_by = self._kind_of(fallback)
        warnings.warn(
            IndexBuildingWarning(
                f"the {self.settings.index} index over the vocabulary ({self.size:,} words) is being built for the "
                f"first time, in the background; until it is ready, queries answer through {_DESCRIBED[answered_by]}. "
                "Run `fuzzykv warm` to build it ahead of time.",
                answered_by=answered_by,
            ),
            stacklevel=3,
        )
        return fallback, answered_by

    @property
    def building(self) -> bool:
        """Whether the asked-for index is being built in the background right now."""
        builder = self._builder
        return builder is not None and builder.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background build (if any) to finish; True when none is left running."""
        builder = self._builder
        if builder is not None:
            builder.join(timeout)
        return not self.building

    def hints(self, texts: Sequence[str], vectors: np.ndarray) -> list[np.ndarray]:
        """Annoy's ``HINT_WORDS`` nearest words of each text's vector, from a small search, kept (LRU).

        Each hint costs one bounded annoy search, however many values the store holds; none (empty
        arrays) before the annoy index is open, where exact search replaced it, or with HNSW.
        """
        annoy = self._approximate
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
        """Exact or approximate (without waiting: see :meth:`current`); exact search runs on
        ``device`` when that is not the CPU.
        """
        if exact and device is not None and device.type != "cpu":
            with self._lock:
                if device not in self._on_devices:
                    self._on_devices[device] = ExactDecoder(self.embeddings.unit_vectors[: self.size], device)
                return self._on_devices[device]
        return self.exact() if exact else self.current()[0]

    def index_path(self, kind: IndexKind | None = None) -> Path:
        """The cache file of the asked-for index (or of ``kind``)."""
        return self.annoy_path() if (kind or self.settings.index) == "annoy" else self.hnsw_path()

    def annoy_path(self) -> Path:
        """The annoy index's cache file, named by everything that shapes it, so a changed setting never reads a stale index."""
        layout = self._layout
        name = f"{self.embeddings.fingerprint}-v{self.size}-angular-t{self.settings.n_trees}-s{ANNOY_SEED}"
        return layout.annoy_file(name)

    def hnsw_path(self) -> Path:
        """The HNSW graph's cache file, named by everything that shapes it (and the file format's version)."""
        layout = self._layout
        s = self.settings
        name = (f"{self.embeddings.fingerprint}-v{self.size}-ip-m{s.hnsw_m}-c{s.hnsw_ef_construction}"
                f"-f{hnsw_index.FORMAT}")
        return layout.hnsw_file(name)

    # -- building and opening ----------------------------------------------------------------------

    def _meta(self, kind: IndexKind) -> dict[str, object]:
        dim = self.embeddings.unit_vectors.shape[1]
        if kind == "annoy":
            return annoy_index.annoy_meta(self.size, dim, self.settings.n_trees)
        return hnsw_index.hnsw_meta(self.size, dim, self.settings.hnsw_m, self.settings.hnsw_ef_construction)

    def _open(self, kind: IndexKind, *, stop: threading.Event | None = None, description: str | None = None) -> Decoder:
        """The ``kind`` index loaded (built and published first if its file is missing or damaged)."""
        unit = self.embeddings.unit_vectors[: self.size]
        s = self.settings
        label = description or f"fuzzykv: indexing vocabulary ({kind})"
        if kind == "annoy":
            return AnnoyDecoder(annoy_index.load_checked(self.annoy_path(), unit, s.n_trees), unit, s.search_k, self.exact())
        index = hnsw_index.load_checked(self.hnsw_path(), unit, s.hnsw_m, s.hnsw_ef_construction, description=label,
                                        stop=stop, progress=self._progress)
        return HNSWDecoder(index, unit, s.hnsw_ef_search, self.exact())

    def _progress(self, rows: int) -> None:
        self.built_rows = rows

    def _start_build(self) -> None:
        """Build the asked-for index in a daemon thread; stopped between chunks when the process exits."""
        def run() -> None:
            try:
                decoder = self._open(self.settings.index, stop=_STOP,
                                     description=f"fuzzykv: indexing vocabulary ({self.settings.index}, in the background)")
            except BuildCancelled:
                return
            except Exception as error:  # reported by the next query, which then answers exactly
                with self._lock:
                    self._build_error = error
                return
            with self._lock:
                self._approximate = decoder

        thread = threading.Thread(target=run, name=f"fuzzykv-{self.settings.index}-build", daemon=True)
        self._builder = thread
        _BUILDERS.add(thread)
        thread.start()

    def _other_index(self) -> Decoder | None:
        """The other kind of index, when its file is already in the cache and whole; else None."""
        if self._other is False:
            other: IndexKind = "annoy" if self.settings.index == "hnsw" else "hnsw"
            self._other = None
            if verified(self.index_path(other), **self._meta(other)):
                try:
                    self._other = self._open(other)
                except Exception:  # only a shortcut: exact search answers instead
                    self._other = None
        assert self._other is not True
        return self._other or None

    def _kind_of(self, decoder: Decoder) -> DecodedBy:
        if isinstance(decoder, HNSWDecoder):
            return "hnsw"
        if isinstance(decoder, AnnoyDecoder):
            return "annoy"
        return "exact"


_DESCRIBED: dict[str, str] = {"hnsw": "the HNSW index already built", "annoy": "the annoy index already built",
                              "exact": "exact search (the reference answers, more slowly)"}


def _warn_fallback(kind: str, error: Exception, stacklevel: int) -> None:
    warnings.warn(
        IndexFallbackWarning(
            f"the {kind} index could not be built or loaded ({type(error).__name__}: {error}); "
            "answering with exact search, which gives the reference answers more slowly. "
            "Set FUZZYKV_CACHE to a writable folder to keep an index."
        ),
        stacklevel=stacklevel,
    )


# Background builds stop between chunks when the interpreter exits (atexit runs before daemon
# threads are frozen): the process exits promptly and leaves no half-written file behind.
_STOP = threading.Event()
_BUILDERS: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


@atexit.register
def _stop_builds() -> None:
    _STOP.set()
    for thread in list(_BUILDERS):
        thread.join(timeout=60)


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
    def of(cls, pairs: HeldPairs) -> ValuesDecoder:
        """A decoder over the distinct values of ``pairs``, as they are now."""
        return cls(*pairs.distinct_values())

    def search(self, vectors: np.ndarray, k: int, hints: object = None) -> tuple[np.ndarray, np.ndarray]:
        """(b, dim) vectors -> (b, k) rows of :attr:`words` and cosines, best first; ``hints`` is not used."""
        import torch

        queries = torch.nn.functional.normalize(torch.from_numpy(vectors), dim=-1)
        top = torch.topk(queries @ self._matrix.T, min(k, len(self.words)), dim=-1, sorted=True)
        return top.indices.numpy(), top.values.numpy()
