"""``items()`` and ``values()`` of a store, read from one snapshot of its pairs (one catch-up, not one per key)."""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, ValuesView
from typing import Protocol


class Snapshotting(Protocol):
    def _snapshot(self) -> list[tuple[str, str]]: ...


class SnapshotItems(ItemsView[str, str]):
    _mapping: Snapshotting

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._mapping._snapshot())


class SnapshotValues(ValuesView[str]):
    _mapping: Snapshotting

    def __iter__(self) -> Iterator[str]:
        return (value for _, value in self._mapping._snapshot())
