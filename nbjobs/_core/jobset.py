"""An insertion-ordered set of jobs: deterministic iteration, O(1) membership."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSet, Set
from typing import Any, Generic, TypeVar

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

    def __init__(self, items: Set[T]) -> None:
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


class SchedulerJobs(MutableSet[T], Generic[T]):
    """The jobs of one scheduler, in insertion order: a list, with membership read on the
    jobs themselves.

    A job names its scheduler in ``_owner_ref`` (a weak reference), and this set is the
    one place that writes it: ``job in jobs`` is ``job._owner_ref is jobs.ref``, in
    constant time, without a hash table next to the list (a dict of 100k jobs takes five
    times the memory of a list of them). A removed job stays in the list as a stale entry
    until the list is compacted (when stale entries are half of it, or before a job is
    added again), so that removing is constant time too.
    """

    __slots__ = ("_gone", "_list", "ref")

    def __init__(self, ref: Any) -> None:
        #: what the jobs of this set hold in ``_owner_ref``
        self.ref = ref
        self._list: list[T] = []
        #: stale entries in ``_list``
        self._gone = 0

    def __contains__(self, item: object) -> bool:
        return getattr(item, "_owner_ref", None) is self.ref

    def __iter__(self) -> Iterator[T]:
        return iter(self.items())

    def __len__(self) -> int:
        return len(self._list) - self._gone

    def items(self) -> list[T]:
        """The jobs as a list (the engine's loops read it; do not change it)."""
        if self._gone:
            self._compact()
        return self._list

    def _compact(self) -> None:
        ref = self.ref
        self._list = [job for job in self._list if job._owner_ref is ref]  # type: ignore[attr-defined]
        self._gone = 0

    def add(self, value: T) -> None:
        if value in self:
            return
        if self._gone:
            self._compact()  # a job added again must not be listed twice
        self._list.append(value)
        value._owner_ref = self.ref  # type: ignore[attr-defined]

    def append_owned(self, jobs: list[T]) -> None:
        """Add jobs that were in no scheduler, whose ``_owner_ref`` the caller just set
        to ``ref`` (a scheduler adds many jobs at once this way)."""
        if self._gone:
            # compacting keeps the entries whose _owner_ref is ref: drop these first
            for job in jobs:
                job._owner_ref = None  # type: ignore[attr-defined]
            self._compact()
            for job in jobs:
                job._owner_ref = self.ref  # type: ignore[attr-defined]
        self._list.extend(jobs)

    def discard(self, value: T) -> None:
        if value not in self:
            return
        value._owner_ref = None  # type: ignore[attr-defined]
        self._gone += 1
        if self._gone > len(self._list) // 2:
            self._compact()

    @classmethod
    def _from_iterable(cls, it: Iterable[T]) -> OrderedSet[T]:  # type: ignore[override]
        return OrderedSet(it)

    def __repr__(self) -> str:
        return f"{{{', '.join(repr(item) for item in self)}}}"
