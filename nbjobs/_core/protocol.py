"""The contracts between rooms: what views read on a scheduler, what a job needs of its owner.

Views, the widget, the Jupyter glue and the command line read a scheduler through
:class:`SchedulerView` and never a private field of the engine; the engine's
``PureScheduler`` implements it. Views test "is this job a nested scheduler?" with
:func:`is_scheduler`, so that they need not import the engine (which imports them).

A job reaches the scheduler that owns it through :class:`JobOwner` only (the engine checks
that ``PureScheduler`` satisfies it; ``tests/test_contracts.py`` that ``_core`` uses nothing
else of the engine's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from .job import Status

if TYPE_CHECKING:
    from .events import Callback, Subscribers
    from .job import AbstractJob
    from .jobset import ReadOnlyJobs


@dataclass(frozen=True)
class RunStatistics:
    """An immutable snapshot of a scheduler's jobs (leaf jobs when recursive)."""

    counts: MappingProxyType[Status, int]
    total: int
    elapsed: float | None
    started: bool
    finished: bool
    outcome: str | None
    why: str
    running: int = field(init=False)
    waiting: int = field(init=False)
    done: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "running", self.counts[Status.RUNNING])
        object.__setattr__(self, "waiting", self.counts[Status.WAITING])
        ended = sum(n for status, n in self.counts.items() if status.finished)
        object.__setattr__(self, "done", ended)


class SchedulerView:
    """The read-only face of a scheduler that views use (``PureScheduler`` implements it).

    Every method here is overridden by ``PureScheduler`` itself: a nested ``Scheduler`` is
    also an ``AbstractJob``, and its method resolution order puts this class before the
    job's, so a method declared here and not on ``PureScheduler`` would hide the job's.
    """

    __slots__ = ()

    @property
    def jobs(self) -> ReadOnlyJobs[AbstractJob]:
        """The scheduler's own jobs, in insertion order (a read-only, live view)."""
        raise NotImplementedError

    def iterate_jobs(self, scan_schedulers: bool = False) -> Iterator[Any]:
        """The jobs; with ``scan_schedulers``, nested schedulers' jobs too, depth first."""
        raise NotImplementedError

    def walk_schedulers(self) -> Iterator[SchedulerView]:
        """This scheduler and every scheduler nested in it, at any depth."""
        raise NotImplementedError

    @property
    def nested_schedulers(self) -> tuple[SchedulerView, ...]:
        """The schedulers among this scheduler's own jobs."""
        raise NotImplementedError

    def status_counts(self) -> Mapping[Status, int]:
        """How many of this scheduler's own jobs are in each status (O(1))."""
        raise NotImplementedError

    def leaf_counts(self) -> dict[Status, int]:
        """How many leaf jobs, nested ones included, are in each status (O(schedulers))."""
        raise NotImplementedError

    def statistics(self, recursive: bool = True) -> RunStatistics:
        """An immutable snapshot of the counts, elapsed time and outcome."""
        raise NotImplementedError

    @property
    def is_running_now(self) -> bool:
        """True while ``co_run()`` is going on."""
        raise NotImplementedError

    def why(self) -> str:
        """Why the last run ended as it did (or that it has not run)."""
        raise NotImplementedError

    def label_text(self) -> str:
        """The label shown for this scheduler."""
        raise NotImplementedError

    @property
    def run_view(self) -> Any:
        """The view asked for the current run (``run(view=...)``), else ``view``."""
        raise NotImplementedError

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback(event)`` for every event of this scheduler and nested ones."""
        raise NotImplementedError

    @property
    def subscribers(self) -> Subscribers:
        """The subscriptions, for views that follow every job cheaply (quiet
        subscriptions, ``watch_statuses``: see CONTRIBUTING)."""
        raise NotImplementedError


class JobOwner(Protocol):
    """What a job uses of the scheduler that owns it, and nothing more.

    Private names on purpose: these are the engine's, not the user's. A job changes status
    several times per run and every change updates its owner's counts and tells its
    subscribers, so the job reads these fields directly rather than through methods.
    """

    #: how many of the owner's own jobs are in each status (a job moves itself between them)
    _counts: dict[Status, int]
    #: the owner's subscriptions, which a job's events go to (then to the owner's owner)
    _subscribers: Subscribers

    @property
    def _runner(self) -> _RunnerFace | None:
        """The current run, or None between runs."""
        ...

    def _owner(self) -> JobOwner | None:
        """The scheduler that owns this one, when nested."""
        ...

    def _structure_changed(self) -> None:
        """A job's requirements changed: plans made before are stale."""
        ...

    def _cancel_job(self, job: AbstractJob, reason: str) -> bool:
        """Cancel ``job`` (of this scheduler) in the current run, or mark it for the next."""
        ...


class _RunnerFace(Protocol):
    """What a job reads of the current run: the loop and the thread that drive it."""

    @property
    def loop(self) -> Any: ...

    @property
    def thread(self) -> int: ...

    @property
    def successors(self) -> list[AbstractJob]: ...


def is_scheduler(obj: object) -> bool:
    """True when ``obj`` is a scheduler (a nested one is also a job)."""
    return isinstance(obj, SchedulerView)
