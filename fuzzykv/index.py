"""Vector -> nearest vocabulary words: an annoy index (default) or an exact scan (reference, fallback)."""

from __future__ import annotations

import hashlib
import json
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from annoy import AnnoyIndex
from tqdm.auto import tqdm

from .cache import CacheLayout, publish_file
from .embeddings import Embeddings
from .errors import IndexFallbackWarning, InvalidOptionError

#: Chosen on decoded vectors of random stores (benchmarks/annoy_recall.py): recall@5 against
#: exact >= 0.95 with margin, as tests/test_index.py checks.
DEFAULT_N_TREES = 20
DEFAULT_SEARCH_K = 10_000
ANNOY_SEED = 20240611
# A proposal only sets the floor of an exact scan: a closer guess prunes more, a cheap one costs less.
PROPOSE_SEARCH_K = 200
#: Hints per query: the nearest words of its HINT_VALUES heaviest values, HINT_WORDS each. With
#: annoy at a tenth of search_k they keep recall@5 at 0.95 (benchmarks/decode.py measures it;
#: tests/test_database.py checks it on random stores).
HINT_VALUES = 2
HINT_WORDS = 20
HINT_CACHE = 200_000  # values whose nearest words are kept, least recently used dropped first

# Bytes hashed at each end of an annoy file: annoy keeps its tree roots at the end, and a torn or
# foreign file that still has the right size differs there. Reading a bad file would crash annoy.
_DIGEST_SPAN = 1 << 20


#: Per query, vocabulary rows likely to be near its vector (the nearest words of the values it
#: weighs most): a decoder scores them exactly, which lets it search less.
Hints = Sequence[np.ndarray]


class Decoder(Protocol):
    """Finds the vocabulary rows nearest (by cosine) to each of a batch of vectors."""

    def search(self, vectors: np.ndarray, k: int, hints: Hints | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(b, dim) vectors -> (b, k) row ids and (b, k) cosine similarities, best first."""
        ...


class ExactDecoder:
    """Cosine against every vocabulary row, exactly.

    A batch is scored in blocks of queries (one matrix product and top-k each), which keeps the
    score matrix small. A single query with hints, or once an approximate index can propose
    candidates, takes a bounded scan: their exact scores give a floor L for the k-th best; rotating the vocabulary onto
    its principal axes, the first half of the dimensions are scored and the rest bounded by
    Cauchy-Schwarz (|q_rest| |v_rest|); only rows whose bound reaches L are scored in full. Every
    row that can be in the top k is scored, so the answer is the same as a full scan, at about half
    the memory traffic. The bound is computed in float32; a margin covers its rounding.
    """

    BLOCK = 64  # queries per matrix product in a batch
    SMALL = 4_096  # vocabularies up to this size are always scanned in full

    def __init__(self, unit_vectors: np.ndarray, device: torch.device | None = None) -> None:
        self._matrix = torch.from_numpy(unit_vectors).to(device or "cpu")
        self._proposer: Callable[[np.ndarray, int], list[int]] | None = None
        self._projection: _Projection | None = None

    def __len__(self) -> int:
        return self._matrix.shape[0]

    def propose_with(self, proposer: Callable[[np.ndarray, int], list[int]]) -> None:
        """Let a fast approximate search supply the candidates that set the floor of a bounded scan."""
        self._proposer = proposer

    def search(self, vectors: np.ndarray, k: int, hints: Hints | None = None) -> tuple[np.ndarray, np.ndarray]:
        queries = torch.nn.functional.normalize(torch.from_numpy(vectors).to(self._matrix.device), dim=-1)
        k = min(k, len(self))
        on_cpu = self._matrix.device.type == "cpu"
        if len(queries) == 1 and on_cpu and len(self) > self.SMALL:
            if hints is not None and len(np.unique(hints[0])) >= k:
                proposed = torch.as_tensor(hints[0], dtype=torch.int64)
            elif self._proposer is not None:
                proposed = torch.as_tensor(self._proposer(queries[0].numpy(), k), dtype=torch.int64)
            else:
                proposed = None
            if proposed is not None:
                proposed = torch.unique(proposed)  # the floor is the k-th best of k *different* rows
            if proposed is not None and len(proposed) >= k:
                ids, sims = self._bounded(queries[0], k, proposed)
                return ids[None, :], sims[None, :]
        ids = np.empty((len(queries), k), dtype=np.int64)
        sims = np.empty((len(queries), k), dtype=np.float32)
        # One score buffer for every block: a fresh (64 x 400,000) matrix per block costs page faults.
        scores = torch.empty((min(self.BLOCK, len(queries)), len(self)), device=self._matrix.device)
        for start in range(0, len(queries), self.BLOCK):
            block = queries[start : start + self.BLOCK]
            out = scores[: len(block)]
            torch.mm(block, self._matrix.T, out=out)
            values, indices = top_k(out, k)
            ids[start : start + len(block)] = indices.cpu().numpy()
            sims[start : start + len(block)] = values.cpu().numpy()
        return ids, sims

    def _bounded(self, query: torch.Tensor, k: int, proposed: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Exact top k, scoring in full only the rows that can beat the k-th best of ``proposed``."""
        floor = float(torch.topk(self._matrix[proposed] @ query, k).values[-1])
        projection = self._projection or self._project()
        rotated = query @ projection.rotation
        head = rotated[: projection.head.shape[1]]
        tail_norm = float(torch.linalg.vector_norm(rotated[head.shape[0] :]))
        bound = torch.addmv(projection.tail_norms, projection.head, head, beta=tail_norm)
        candidates = torch.nonzero(bound >= floor - _BOUND_MARGIN).squeeze(1)
        scores = self._matrix[candidates] @ query
        top = torch.topk(scores, min(k, len(candidates)), sorted=True)
        return candidates[top.indices].numpy(), top.values.numpy()

    def _project(self) -> _Projection:
        unit = self._matrix.numpy()
        _, axes = np.linalg.eigh(np.cov(unit[: min(len(unit), 100_000)].T))  # ascending variance
        rotation = np.ascontiguousarray(axes[:, ::-1], dtype=np.float32)
        rotated = unit @ rotation
        split = max(1, unit.shape[1] // 2)
        self._projection = _Projection(
            torch.from_numpy(rotation),
            torch.from_numpy(np.ascontiguousarray(rotated[:, :split])),
            torch.from_numpy(np.linalg.norm(rotated[:, split:], axis=1).astype(np.float32)),
        )
        return self._projection


def top_k(scores: torch.Tensor, k: int, chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest of each row, best first: exactly ``torch.topk``, in about half its time on wide rows.

    Each row is cut into chunks and each chunk's maximum taken (a fast reduction); the k chunks
    with the largest maxima hold the k largest scores, since a chunk holding one of them has a
    maximum at least as large; the top k is then taken from those k chunks alone.
    """
    rows, width = scores.shape
    if width < 8 * chunk * k:
        top = torch.topk(scores, k, dim=1, sorted=True)
        return top.values, top.indices
    whole = width // chunk * chunk
    maxima = scores[:, :whole].reshape(rows, -1, chunk).amax(dim=2)
    if whole < width:
        maxima = torch.cat([maxima, scores[:, whole:].amax(dim=1, keepdim=True)], dim=1)
    best_chunks = torch.topk(maxima, k, dim=1).indices
    columns = (best_chunks[:, :, None] * chunk + torch.arange(chunk, device=scores.device)).reshape(rows, -1)
    padding = columns >= width  # the last chunk is shorter: its missing columns must never be chosen
    columns = columns.clamp_max(width - 1)
    candidates = torch.gather(scores, 1, columns).masked_fill(padding, float("-inf"))
    top = torch.topk(candidates, k, dim=1, sorted=True)
    return top.values, torch.gather(columns, 1, top.indices)


# Covers float32 rounding in the bound (a sum of 25 products of numbers at most 1 in size).
_BOUND_MARGIN = 1e-4


@dataclass(frozen=True)
class _Projection:
    """The vocabulary on its principal axes: the first half of each row, and the length of the rest."""

    rotation: torch.Tensor  # (dim, dim)
    head: torch.Tensor  # (V, dim // 2)
    tail_norms: torch.Tensor  # (V,)


@dataclass(frozen=True)
class AnnoyManifest:
    """What an annoy file must be before annoy is allowed to map it (kept beside it as JSON)."""

    n_items: int
    dim: int
    n_trees: int
    seed: int
    size: int
    head: str
    tail: str

    @staticmethod
    def digests(path: Path) -> tuple[int, str, str]:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = hashlib.blake2b(handle.read(_DIGEST_SPAN), digest_size=12).hexdigest()
            handle.seek(max(0, size - _DIGEST_SPAN))
            tail = hashlib.blake2b(handle.read(_DIGEST_SPAN), digest_size=12).hexdigest()
        return size, head, tail


class AnnoyDecoder:
    """Approximate cosine search through an annoy angular index, re-scored exactly.

    Annoy proposes ``k`` rows by searching ``search_k`` tree nodes; their similarities are then
    computed exactly, so every returned score is the true cosine.
    """

    def __init__(self, index: AnnoyIndex, unit_vectors: np.ndarray, search_k: int) -> None:
        self._index = index
        self._unit = unit_vectors
        self._search_k = search_k
        self._exact = ExactDecoder(unit_vectors)

    def propose(self, vector: np.ndarray, k: int) -> list[int]:
        """A quick guess at the k nearest rows (a small search): seeds the exact decoder's bounded scan."""
        return self._index.get_nns_by_vector(vector, k, search_k=PROPOSE_SEARCH_K)

    def search(self, vectors: np.ndarray, k: int, hints: Hints | None = None) -> tuple[np.ndarray, np.ndarray]:
        """With hints, annoy searches a tenth of ``search_k`` and the hints join its candidates."""
        k = min(k, len(self._unit))
        search_k = max(self._search_k // 10 if hints is not None else self._search_k, k)
        ids = np.empty((len(vectors), k), dtype=np.int64)
        sims = np.empty((len(vectors), k), dtype=np.float32)
        for row, vector in enumerate(vectors):
            found = np.asarray(self._index.get_nns_by_vector(vector, k, search_k=search_k), dtype=np.int64)
            if hints is not None:
                found = np.unique(np.concatenate((found, hints[row])))
            if len(found) < k:  # annoy may come back short on a tiny search; never answer short
                exact_ids, exact_sims = self._exact.search(vector[None, :], k)
                ids[row], sims[row] = exact_ids[0], exact_sims[0]
                continue
            found_sims = self._unit[found] @ _unit(vector)
            order = np.argsort(-found_sims, kind="stable")[:k]
            ids[row], sims[row] = found[order], found_sims[order]
        return ids, sims


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.sqrt(vector @ vector))
    return vector / norm if norm > 0 else vector


@dataclass(frozen=True)
class IndexSettings:
    """What shapes the decode: the vocabulary rows searched and the annoy index over them."""

    vocabulary_size: int | None = None
    n_trees: int = DEFAULT_N_TREES
    search_k: int = DEFAULT_SEARCH_K

    def __post_init__(self) -> None:
        for name in ("n_trees", "search_k"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidOptionError(f"{name} must be a positive whole number, got {value!r}")
        size = self.vocabulary_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise InvalidOptionError(
                f"vocabulary_size must be a positive whole number (the N most frequent words) or None, got {size!r}"
            )


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
                annoy = self._open_annoy()
                exact.propose_with(annoy.propose)
                self._annoy = annoy
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
        """The exact ``HINT_WORDS`` nearest words of each text's vector, computed once and kept (LRU)."""
        with self._lock:
            missing = [i for i, text in enumerate(texts) if text not in self._hints]
        if missing:
            found, _ = self.exact().search(vectors[missing], HINT_WORDS)
            with self._lock:
                for i, rows in zip(missing, found):
                    self._hints[texts[i]] = rows
        with self._lock:
            out = []
            for text in texts:
                self._hints.move_to_end(text)
                out.append(self._hints[text])
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
        s = self.settings
        name = f"{self.embeddings.fingerprint}-v{self.size}-angular-t{s.n_trees}-s{ANNOY_SEED}"
        return layout.annoy_file(name)

    def _open_annoy(self) -> AnnoyDecoder:
        path = self.annoy_path()
        unit = self.embeddings.unit_vectors[: self.size]
        expected = {"n_items": self.size, "dim": self.embeddings.dim, "n_trees": self.settings.n_trees, "seed": ANNOY_SEED}
        if not _manifest_matches(path, expected):
            build_annoy(path, unit, self.settings.n_trees)
        index = AnnoyIndex(self.embeddings.dim, "angular")
        index.load(str(path))  # mmap: shared between processes, nothing read up front
        _check_loaded(index, unit)
        return AnnoyDecoder(index, unit, self.settings.search_k)


def _manifest_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _manifest_matches(path: Path, expected: dict[str, int]) -> bool:
    """True when the annoy file and its manifest agree with each other and with ``expected``."""
    try:
        manifest = AnnoyManifest(**json.loads(_manifest_path(path).read_text()))
        if any(getattr(manifest, key) != value for key, value in expected.items()):
            return False
        return AnnoyManifest.digests(path) == (manifest.size, manifest.head, manifest.tail)
    except (OSError, ValueError, TypeError):
        return False


def build_annoy(path: Path, unit_vectors: np.ndarray, n_trees: int) -> None:
    """Build an angular index over ``unit_vectors`` and publish it with its manifest, atomically."""
    n_items, dim = unit_vectors.shape
    index = AnnoyIndex(dim, "angular")
    index.set_seed(ANNOY_SEED)
    with tqdm(total=n_items, desc="fuzzykv: indexing vocabulary", unit="word", leave=False, mininterval=0.5) as bar:
        for item in range(n_items):
            index.add_item(item, unit_vectors[item])
            if item % 10_000 == 0:
                bar.update(min(10_000, n_items - item))
        bar.set_description(f"fuzzykv: building {n_trees} annoy trees")
        bar.refresh()
        index.build(n_trees, n_jobs=-1)

    def save(staging: Path) -> None:
        index.save(str(staging))
        index.unload()

    publish_file(path, save)
    size, head, tail = AnnoyManifest.digests(path)
    manifest = AnnoyManifest(n_items, dim, n_trees, ANNOY_SEED, size, head, tail)
    publish_file(_manifest_path(path), lambda staging: staging.write_text(json.dumps(asdict(manifest))))


def _check_loaded(index: AnnoyIndex, unit_vectors: np.ndarray) -> None:
    """A loaded index must hold the vocabulary it was built from: its count and sampled rows.

    NOTE: the tree count is checked through the manifest only; annoy re-derives it on load by
    scanning for nodes that span every item, which over-counts on small indexes.
    """
    n_items = len(unit_vectors)
    if index.get_n_items() != n_items:
        raise ValueError(f"annoy index holds {index.get_n_items()} items, expected {n_items}")
    for item in np.linspace(0, n_items - 1, num=min(n_items, 16), dtype=np.int64):
        if not np.allclose(index.get_item_vector(int(item)), unit_vectors[item], atol=1e-5):
            raise ValueError(f"annoy index row {item} does not match the vocabulary it is named after")


_indexes: weakref.WeakKeyDictionary[Embeddings, dict[IndexSettings, VocabularyIndex]] = weakref.WeakKeyDictionary()


def vocabulary_index(embeddings: Embeddings, settings: IndexSettings) -> VocabularyIndex:
    """One :class:`VocabularyIndex` per embeddings and settings in a process, shared by every store."""
    per_embeddings = _indexes.setdefault(embeddings, {})
    if settings not in per_embeddings:
        per_embeddings[settings] = VocabularyIndex(embeddings, settings)
    return per_embeddings[settings]

