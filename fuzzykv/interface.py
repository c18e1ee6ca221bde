"""The one interface of fuzzykv's three front doors, :class:`~fuzzykv.Database`,
:class:`~fuzzykv.distributed.ShardedDatabase` and :class:`~fuzzykv.serve.client.RemoteDatabase`:
the bodies they share (argument checks, ``query`` from ``search``, the batch forms, ``lookup``,
``update``, the dict views) are written here once; each front door answers a few hooks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import ItemsView, Iterable, Iterator, Mapping, MutableMapping, Sequence, ValuesView
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from typing_extensions import Self

from .embed.compose import as_texts
from .errors import InvalidOptionError, NotAPairError, NotTextError
from .settings import positive_int

if TYPE_CHECKING:
    from .results import Classification, Neighbour, QueryResult

T = TypeVar("T")


def as_dict(pairs: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Pairs given as ``dict.update`` takes them (a mapping, an object with ``keys()``, or (key, value)
    pairs) as one dict, a later key replacing an earlier one; a string is refused rather than read as pairs.
    """
    if isinstance(pairs, (str, bytes)):
        raise NotTextError("pairs must be a mapping of str to str or an iterable of (key, value), got a string")
    if isinstance(pairs, Mapping):
        return dict(pairs)
    keys = getattr(pairs, "keys", None)
    if callable(keys):  # as dict.update: an object with keys() and __getitem__ is read as a mapping
        return {key: pairs[key] for key in keys()}  # type: ignore[index]
    out: dict[str, str] = {}
    try:
        for number, pair in enumerate(pairs):
            if isinstance(pair, (str, bytes)) or len(pair) != 2:
                raise NotAPairError(f"element #{number} of the pairs, {pair!r}, is not a (key, value) pair")
            out[pair[0]] = pair[1]
    except TypeError as error:
        raise NotTextError(f"pairs must be a mapping of str to str or an iterable of (key, value) pairs ({error})") from error
    return out


def similarity_bound(value: float | None) -> float:
    """``min_similarity`` as a bound: ``None`` admits everything."""
    if value is None:
        return -float("inf")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1 <= value <= 1:
        raise InvalidOptionError(f"min_similarity must be a cosine similarity between -1 and 1, got {value!r}")
    return float(value)


class Snapshotting(Protocol):
    """A front door that can hand over every pair at one moment (``items()`` and ``values()`` read that)."""

    def _snapshot(self) -> list[tuple[str, str]]: ...


class SnapshotItems(ItemsView[str, str]):
    """``items()`` of a front door: iterates over one snapshot of the pairs, so a store changed by another
    process (or a sharded store's shards) is read in one pass, not one key at a time.
    """

    _mapping: Snapshotting

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._mapping._snapshot())


class SnapshotValues(ValuesView[str]):
    """``values()`` of a front door: the values of one snapshot of the pairs, in the store's order."""

    _mapping: Snapshotting

    def __iter__(self) -> Iterator[str]:
        return (value for _, value in self._mapping._snapshot())


@dataclass(frozen=True)
class SearchOptions:
    """A search's checked options, as every front door receives them.

    :ivar threshold: the ``min_similarity`` bound (``-inf``: none).
    :ivar working: whether the caller wants the working (attention, blended vector) or the words alone.
    """

    k: int
    exact: bool
    attention_k: int | None
    threshold: float
    working: bool = True


class BaseDatabase(MutableMapping[str, str], ABC):
    """A fuzzy key-value store, wherever its pairs live: a dict of exact keys plus fuzzy reads.

    Subclasses implement the mapping (``__getitem__``, ``__setitem__``, ``__delitem__``,
    ``__iter__``, ``__len__``) and the hooks below; every public method with a body here behaves
    the same on a local, a sharded and a remote store.
    """

    # -- hooks --------------------------------------------------------------------------------

    @abstractmethod
    def _search(self, text: str | None, positive: list[str], negative: list[str], options: SearchOptions) -> QueryResult:
        """One search, its arguments checked (a composite when ``positive`` or ``negative`` is given)."""

    @abstractmethod
    def _search_batch(self, texts: list[str], options: SearchOptions) -> list[QueryResult]:
        """Many searches in one pass, in order."""

    def _query(self, text: str | None, positive: list[str], negative: list[str], options: SearchOptions) -> list[str]:
        """:meth:`_search`'s words alone (a front door may find them with less work)."""
        return self._search(text, positive, negative, options).words

    def _query_batch(self, texts: list[str], options: SearchOptions) -> list[list[str]]:
        """:meth:`_search_batch`'s words alone."""
        return [result.words for result in self._search_batch(texts, options)]

    @abstractmethod
    def _nearest(self, text: str, k: int) -> list[Neighbour]:
        """The ``k`` nearest keys to ``text``, exactly, nearest first."""

    @abstractmethod
    def _classify(self, text: str, k: int) -> Classification:
        """The value the query's attention favours, with the ``k`` nearest keys."""

    @abstractmethod
    def _lookup(self, text: str, threshold: float) -> str | None:
        """The value of a key equal to ``text``, else of the nearest key within ``threshold``, else ``None``."""

    @abstractmethod
    def _write(self, pairs: dict[str, str]) -> None:
        """Set every pair, all or none."""

    @abstractmethod
    def _snapshot(self) -> list[tuple[str, str]]:
        """Every pair in the store's order, as of one moment."""

    @abstractmethod
    def page(self, after: str | None = None, limit: int = 100) -> tuple[list[tuple[str, str]], bool]:
        """Up to ``limit`` pairs in the store's order after the key ``after`` (``None``: from the
        start), and whether more follow.

        :raises KeyError: ``after`` is not a key (deleted since the last page?).
        """

    @abstractmethod
    def close(self) -> None:
        """Release the store (its file, its shards, its connections); safe to call twice."""

    # -- shared bodies ------------------------------------------------------------------------

    def query(
        self,
        text: str | None = None,
        k: int = 5,
        *,
        exact: bool = False,
        min_similarity: float | None = None,
        positive: str | Sequence[str] = (),
        negative: str | Sequence[str] = (),
    ) -> list[str]:
        """The ``k`` words nearest to the attention-blended value vector, best first.

        :param exact: decode by an exact scan of the vocabulary instead of its index.
        :param min_similarity: answer ``[]`` unless some key has at least this cosine similarity.
        :param positive: with ``negative``, a composite query, as gensim's ``most_similar``: the
            mean of the unit vectors of ``text`` and ``positive`` minus those of ``negative`` goes
            through the same attention. A single string counts as one text.
        :param negative: see ``positive``.
        """
        options = self._options(k, exact, 1, min_similarity, working=False)
        return self._query(text, as_texts(positive, "positive"), as_texts(negative, "negative"), options)

    def search(
        self,
        text: str | None = None,
        k: int = 5,
        *,
        exact: bool = False,
        attention_k: int | None = None,
        min_similarity: float | None = None,
        positive: str | Sequence[str] = (),
        negative: str | Sequence[str] = (),
    ) -> QueryResult:
        """:meth:`query` with its working: scored candidates, attention weights, the blended vector.

        :param attention_k: list only the heaviest keys (``None``: every key, weights summing to 1).
        :param min_similarity: no candidates unless some key has at least this cosine similarity.
        """
        options = self._options(k, exact, attention_k, min_similarity)
        return self._search(text, as_texts(positive, "positive"), as_texts(negative, "negative"), options)

    def query_batch(
        self, texts: Sequence[str], k: int = 5, *, exact: bool = False, min_similarity: float | None = None
    ) -> list[list[str]]:
        """:meth:`query` for many texts in one pass: one attention product, one decode."""
        listed = as_texts(texts, "query_batch")
        options = self._options(k, exact, 1, min_similarity, working=False)
        return self._query_batch(listed, options) if listed else []

    def search_batch(
        self, texts: Sequence[str], k: int = 5, *, exact: bool = False, attention_k: int | None = None,
        min_similarity: float | None = None,
    ) -> list[QueryResult]:
        """:meth:`search` for many texts in one pass (one attention product, one decode), in order.

        Each result equals ``search(text, ...)`` of its text; one text that cannot be embedded
        fails the whole batch, naming it.
        """
        listed = as_texts(texts, "search_batch")
        options = self._options(k, exact, attention_k, min_similarity)
        return self._search_batch(listed, options) if listed else []

    def nearest(self, text: str, k: int = 3) -> list[Neighbour]:
        """Exact k-nearest neighbours among the keys: (key, value, cosine similarity), nearest first."""
        return self._nearest(text, positive_int("k", k))

    def classify(self, text: str, k: int = 5) -> Classification:
        """The value the query's attention favours: each distinct value scores the attention its keys
        carry (with cosine similarity, the log-sum-exp of its keys' scores plus its own similarity to
        the query), as ``query`` blends them. ``neighbours`` lists the ``k`` nearest keys.
        """
        return self._classify(text, positive_int("k", k))

    def lookup(self, text: str, default: T | None = None, min_similarity: float | None = None) -> str | T | None:
        """The value of a key equal to ``text``, else of the nearest key.

        :param min_similarity: the nearest key must have at least this cosine similarity.
        :returns: ``default`` when the store is empty or no key is close enough.
        """
        found = self._lookup(text, similarity_bound(min_similarity))
        return default if found is None else found

    def update(self, other: Mapping[str, str] | Iterable[tuple[str, str]] = (), /, **more: str) -> None:  # type: ignore[override]
        """Set many pairs in one transaction: every pair is checked first, and none is stored if one fails."""
        pairs = as_dict(other)
        pairs.update(more)
        if pairs:
            self._write(pairs)

    def items(self) -> ItemsView[str, str]:
        """The pairs, read in one snapshot each time the view is iterated (one catch-up, not one per key)."""
        return SnapshotItems(self)

    def values(self) -> ValuesView[str]:
        """The values, read in one snapshot each time the view is iterated, in the store's order."""
        return SnapshotValues(self)

    def __enter__(self: Self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _options(k: int, exact: bool, attention_k: int | None, min_similarity: float | None,
                 working: bool = True) -> SearchOptions:
        threshold = similarity_bound(min_similarity)
        k = positive_int("k", k)
        if attention_k is not None:
            positive_int("attention_k", attention_k)
        return SearchOptions(k, bool(exact), attention_k, threshold, working)
