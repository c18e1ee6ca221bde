"""The sharded store users hold: Database's methods over shard actors, merged exactly on the driver.

Queries are embedded on the driver, sent to every shard in one call per shard for the whole batch,
gathered with one ``ray.get``, merged by log-sum-exp (:meth:`Pipeline.merge`) and decoded once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import ray
from typing_extensions import Unpack

from ..database import LocalDatabase
from ..embed.loading import EmbeddingsSpec, load_embeddings
from ..embed.unknown import check_policy, resolver
from ..embed.vectors import Embedded, Embeddings
from ..errors import EmptyDatabaseError, InvalidOptionError, StoreClosedError, StoreSettingsError
from ..interface import SearchOptions, as_dict
from ..pairs import first_of_each, page_of
from ..results import Neighbour
from ..search.decode import HINT_VALUES, ValuesDecoder
from ..search.pipeline import Answered, Part, Pipeline
from ..settings import Options, Settings, given_options, positive_int
from .cluster import agreed, connect
from .errors import gather
from .layout import Manifest, shard_of
from .shard import ShardActor, Stamp

T = TypeVar("T")
_EVERY_KEY = 2**31  # "list every key of the shard": Part.top is clamped to the shard's size
_INLINE_BYTES = 100_000  # larger query batches go to the object store once, not once per shard


class ShardedDatabase(LocalDatabase):
    """A :class:`~fuzzykv.Database` whose keys are spread over ``shards`` Ray actors.

    It answers as one ``Database`` holding the same pairs: the same words (only words whose
    cosines tie within 1e-5 may swap), the same attention weights, blends within 1e-5.

    :param pairs: str -> str, as a mapping or an iterable of (key, value) pairs.
    :param shards: how many shard actors.
    :param address: Ray to join when none runs in this process: ``None`` starts a local one,
        ``"auto"`` or ``"ray://host:port"`` joins a cluster.
    :param num_cpus: the CPU share each shard actor reserves (4 shards fit on 2 cores).
    :param max_restarts, max_task_retries: Ray's, for shard actors and their (idempotent) reads.
    :param timeout: seconds to wait for every shard's answer before :class:`ShardUnavailableError`.
    :param options: as :class:`~fuzzykv.Database` (``similarity``, ``temperature``, ...).
    """

    def __init__(
        self,
        pairs: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        *,
        shards: int = 2,
        settings: Settings | None = None,
        embeddings: EmbeddingsSpec | None = None,
        address: str | None = None,
        num_cpus: float = 0.25,
        max_restarts: int = 3,
        max_task_retries: int = 3,
        timeout: float | None = 60.0,
        **options: Unpack[Options],
    ) -> None:
        chosen = _checked(Settings.from_options(settings, **options))
        shards = positive_int("shards", shards)
        pairs = as_dict(pairs)
        self._start(None, embeddings, address, num_cpus, max_restarts, max_task_retries, timeout)
        try:
            self._spawn([None] * shards, chosen, {})
            self.update(pairs)
        except BaseException:
            self.close()  # no shard actors left behind
            raise

    @classmethod
    def open(
        cls,
        folder: str | os.PathLike[str],
        *,
        shards: int | None = None,
        settings: Settings | None = None,
        embeddings: EmbeddingsSpec | None = None,
        address: str | None = None,
        num_cpus: float = 0.25,
        max_restarts: int = 3,
        max_task_retries: int = 3,
        timeout: float | None = 60.0,
        **options: Unpack[Options],
    ) -> ShardedDatabase:
        """Open the sharded store in ``folder`` (one store file per shard and a manifest), creating it if new.

        Writes are durable when they return, and a restarted shard reopens its file. Options given
        must agree with the store's, as for :meth:`Database.open`.

        :param shards: needed for a new folder; an existing one keeps its count.
        :raises StoreSettingsError: another shard count, or options that disagree with the store's.
        :raises NotAStoreError: a folder that is not a sharded store.
        :raises StoreVersionError: a sharded store written by a newer fuzzykv.
        """
        given = given_options(**options)
        _checked(Settings.from_options(settings, **given))  # every option is checked before the folder is touched
        if shards is not None:
            positive_int("shards", shards)
        where = Path(folder)
        manifest = Manifest.read(where)
        if manifest is None:
            if shards is None:
                raise InvalidOptionError(f"{str(where)!r} is a new sharded store: say how many shards with shards=N")
            count = shards
        else:
            count = manifest.check_shards(shards, where)
        where.mkdir(parents=True, exist_ok=True)
        layout = Manifest(count, {}, "", "")
        self = cls.__new__(cls)
        self._start(where, embeddings, address, num_cpus, max_restarts, max_task_retries, timeout)
        try:
            self._spawn([str(layout.shard_path(where, n)) for n in range(count)], settings, given)
            found = Manifest(count, self.settings.saved(), self.embeddings.name, self.embeddings.fingerprint)
            if manifest is None:
                found.write(where)
            elif (manifest.settings, manifest.fingerprint) != (found.settings, found.fingerprint):
                raise StoreSettingsError(
                    f"{str(where)!r}: its manifest says settings {manifest.settings} and embeddings {manifest.embeddings!r}, "
                    f"but its shard files say {found.settings} and {found.embeddings!r}; the folder was altered by hand"
                )
        except BaseException:
            self.close()
            raise
        return self

    def _start(self, folder: Path | None, embeddings: EmbeddingsSpec | None, address: str | None, num_cpus: float,
               max_restarts: int, max_task_retries: int, timeout: float | None) -> None:
        loaded = load_embeddings(embeddings)
        self.embeddings: Embeddings = loaded
        self.folder = folder
        self._spec = embeddings
        self._timeout = timeout
        self._closed = False
        self._lock = threading.Lock()
        self._known: list[tuple[Stamp | None, frozenset[str]]] = []
        self._values_known: list[tuple[Stamp | None, list[str], np.ndarray]] = []
        self._values: ValuesDecoder | None = None
        self._actors: list[Any] = []
        env = connect(address)
        self._actor_options: dict[str, Any] = {
            "num_cpus": num_cpus, "max_restarts": max_restarts, "max_task_retries": max_task_retries,
            "runtime_env": {"env_vars": env},
        }

    def _spawn(self, paths: Sequence[str | None], settings: Settings | None, options: Mapping[str, Any]) -> None:
        """One actor per shard; every shard must report the same settings and embeddings."""
        self._actors = [ShardActor.options(**self._actor_options).remote(n, path, self._spec, settings, dict(options))
                        for n, path in enumerate(paths)]
        self._known = [(None, frozenset()) for _ in paths]
        self._values_known = [(None, [], np.empty((0, self.embeddings.dim), np.float32)) for _ in paths]
        described = self._gather([actor.describe.remote() for actor in self._actors])
        self.settings: Settings = _checked(agreed(described, self.embeddings))
        check_policy(self.embeddings, self.settings.unknown, "unknown")
        self._pipeline = Pipeline(self.embeddings, self.settings)

    # -- plumbing -----------------------------------------------------------------------------------

    @property
    def actors(self) -> list[Any]:
        """The shard actor handles, shard 0 first."""
        return list(self._actors)

    @property
    def shards(self) -> int:
        """How many shards the keys are spread over (fixed when the store is made)."""
        return len(self._actors)

    def shard_of(self, key: str) -> int:
        """The shard that owns ``key``."""
        return shard_of(key, len(self._actors))

    def _gather(self, refs: Sequence[Any]) -> list[Any]:
        if self._closed:
            raise StoreClosedError("this ShardedDatabase is closed; open a new one")
        return gather(refs, self._actors, self._timeout)

    def _owner(self, key: str) -> Any:
        if self._closed:
            raise StoreClosedError("this ShardedDatabase is closed; open a new one")
        return self._actors[self.shard_of(key)]

    # -- the mapping: exact keys, routed to the shard that owns them ----------------------------------

    def __getitem__(self, key: str) -> str:
        if not isinstance(key, str):
            raise KeyError(key)
        found, value = self._gather([self._owner(key).get.remote(key)])[0]
        if not found:
            raise KeyError(key)
        return str(value)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self._gather([self._owner(key).contains.remote(key)])[0])

    def __len__(self) -> int:
        return sum(self._gather([actor.length.remote() for actor in self._actors]))

    def __iter__(self) -> Iterator[str]:
        """Keys shard by shard, each shard's in insertion order (there is no global order)."""
        return iter([key for keys in self._gather([a.keys.remote() for a in self._actors]) for key in keys])

    def page(self, after: str | None = None, limit: int = 100) -> tuple[list[tuple[str, str]], bool]:
        """As :meth:`Database.page`, in this store's order (shard by shard); each page lists every key.

        :raises KeyError: ``after`` is not a key.
        """
        limit = positive_int("limit", limit)
        return page_of(self._snapshot(), after, limit)

    def _snapshot(self) -> list[tuple[str, str]]:
        return [pair for pairs in self._gather([a.items.remote() for a in self._actors]) for pair in pairs]

    def __setitem__(self, key: str, value: str) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        if not isinstance(key, str) or not self._gather([self._owner(key).delete.remote(key)])[0]:
            raise KeyError(key)

    def _write(self, pairs: dict[str, str]) -> None:
        """One call per shard. Every pair is checked here first, so a bad pair stores nothing
        anywhere; each shard's part is one transaction, but the shards commit separately: a shard
        dying mid-update can leave other shards' parts written (not atomic across shards; writing
        the same pairs again is safe).
        """
        self.embeddings.embed(list(pairs) + list(pairs.values()), strict=True,
                              resolver=resolver(self.embeddings, self.settings.unknown_stored, self._words_of_keys))
        groups: dict[int, dict[str, str]] = {}
        for key, value in pairs.items():
            groups.setdefault(self.shard_of(key), {})[key] = value
        self._gather([self._actors[number].update.remote(group) for number, group in groups.items()])

    def clear(self) -> None:
        """Delete every pair: one transaction per shard (not atomic across shards)."""
        self._gather([actor.clear.remote() for actor in self._actors])

    def close(self) -> None:
        """Close every shard's store file and end the shard actors; later calls raise
        :class:`StoreClosedError`. Safe to call twice. The Ray it runs on keeps running.
        """
        if self._closed:
            return
        try:
            ray.get([actor.close.remote() for actor in self._actors], timeout=self._timeout)
        except Exception:  # noqa: BLE001 - a dead shard has nothing left to close
            pass
        finally:
            for actor in self._actors:
                ray.kill(actor, no_restart=True)
            self._closed = True

    def __repr__(self) -> str:
        where = f"{str(self.folder)!r}, " if self.folder is not None else ""
        state = "closed, " if self._closed else ""
        return (f"ShardedDatabase({where}{state}shards={len(self._actors)}, embeddings={self.embeddings.name!r}, "
                f"similarity={self.settings.similarity!r}, temperature={self.settings.temperature})")

    @property
    def similarity(self) -> str:
        """How attention scores a key (``"cosine"`` or ``"dot"``), the same on every shard."""
        return self.settings.similarity

    @property
    def temperature(self) -> float:
        """What attention divides its scores by, the same on every shard: lower favours the closest keys."""
        assert self.settings.temperature is not None
        return self.settings.temperature

    # -- fuzzy reads: one call per shard, one merge, one decode ----------------------------------------

    def _nearest_to(self, vector: np.ndarray, k: int) -> list[Neighbour]:
        """Each shard's ``k`` nearest, merged by similarity."""
        found = self._gather([actor.nearest.remote(vector, k) for actor in self._actors])
        merged = sorted((n for listed in found for n in listed), key=lambda n: -n.similarity)
        return [Neighbour(*n) for n in merged[:k]]

    def _lookup(self, text: str, threshold: float) -> str | None:
        """An equal key (asked of its own shard) wins, else the nearest key's value."""
        if isinstance(text, str) and text.strip():
            found, value = self._gather([self._owner(text).get.remote(text)])[0]
            if found:
                return str(value)
        nearest = self._nearest(text, 1)
        return nearest[0].value if nearest and nearest[0].similarity >= threshold else None

    def _parts(self, vectors: np.ndarray, top: int) -> list[Part]:
        """Every non-empty shard's attention for (b, dim) query vectors: one call per shard, one ``ray.get``."""
        vectors = np.asarray(vectors, dtype=np.float32)
        sent: Any = ray.put(vectors) if vectors.nbytes > _INLINE_BYTES else vectors
        parts = [p for p in self._gather([actor.part.remote(sent, top) for actor in self._actors]) if p is not None]
        if not parts:
            raise EmptyDatabaseError("the store holds no pairs, so a query has nothing to attend to; add pairs first")
        return parts

    def _answer(self, vectors: np.ndarray, options: SearchOptions) -> Answered:
        attention_k = options.attention_k
        top = max(HINT_VALUES, attention_k) if attention_k is not None else _EVERY_KEY
        parts = self._parts(vectors, top)
        values = self._values_decoder() if self.settings.answers == "values" else None
        return self._pipeline.merge(parts, options.k, options.exact, attention_k, values)

    def _values_decoder(self) -> ValuesDecoder:
        """Every shard's distinct values as one decoder (a value on several shards once, with the first
        shard's vector: the same text embeds the same), fetched only from shards whose pairs changed.
        """
        with self._lock:
            answers = self._gather([a.distinct_values.remote(known)
                                    for a, (known, _, _) in zip(self._actors, self._values_known)])
            changed = False
            for number, (stamp, found) in enumerate(answers):
                if found is not None:
                    self._values_known[number] = (stamp, *found)
                    changed = True
            if changed or self._values is None:
                self._values = ValuesDecoder(*first_of_each(
                    (word for _, listed, _ in self._values_known for word in listed),
                    np.concatenate([directions for _, _, directions in self._values_known])))
            return self._values

    # -- text -> vectors, on the driver ------------------------------------------------------------

    def _embed_queries(self, texts: Sequence[object]) -> Embedded:
        return self.embeddings.embed(texts, strict=False,
                                     resolver=resolver(self.embeddings, self.settings.unknown, self._words_of_keys))

    def _words_of_keys(self) -> frozenset[str]:
        """Every shard's key words (spelling correction prefers them), fetched only from shards
        whose keys changed since last asked.
        """
        with self._lock:
            answers = self._gather([a.key_words.remote(known) for a, (known, _) in zip(self._actors, self._known)])
            for number, (stamp, words) in enumerate(answers):
                if words is not None:
                    self._known[number] = (stamp, words)
            return frozenset().union(*(words for _, words in self._known))



def _checked(settings: Settings) -> Settings:
    """Settings with ``answers`` made definite (word vectors: the vocabulary)."""
    return settings if settings.answers is not None else settings.replace(answers="vocabulary")
