"""An insertion-ordered set of jobs: deterministic iteration, O(1) membership."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSet, Set
from typing import Generic, TypeVar

T = TypeVar("T")


class OrderedSet(MutableSet[T], Generic[T]):
    """A set that iterates in insertion order (asynciojobs' ``BestSet`` played that role).

    Set operators (``&``, ``|``, ``-``) keep the left operand's order.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[T] = ()) -> None:
        self._items: dict[T, None] = dict.fromkeys(items)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, value: T) -> None:
        self._items[value] = None

    def discard(self, value: T) -> None:
        self._items.pop(value, None)

    def update(self, *others: Iterable[T]) -> None:
        for other in others:
            for item in other:
                self._items[item] = None

    def copy(self) -> OrderedSet[T]:
        return OrderedSet(self._items)

    @classmethod
    def _from_iterable(cls, it: Iterable[T]) -> OrderedSet[T]:  # type: ignore[override]
        return cls(it)

    def __repr__(self) -> str:
        return f"{{{', '.join(repr(item) for item in self._items)}}}"


class ReadOnlyJobs(Set[T], Generic[T]):
    """A live, read-only, ordered view of a scheduler's jobs.

    Read-only because adding a job must go through ``scheduler.add()``, which checks that
    the job is in no other scheduler.
    """

    __slots__ = ("_items",)

    def __init__(self, items: OrderedSet[T]) -> None:
        self._items = items

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    @classmethod
    def _from_iterable(cls, it: Iterable[T]) -> OrderedSet[T]:  # type: ignore[override]
        return OrderedSet(it)

    def __repr__(self) -> str:
        return f"jobs{self._items!r}"
