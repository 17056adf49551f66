"""The engine: ``PureScheduler`` and the nestable ``Scheduler``.

A run costs O(jobs + edges): each job's count of unfinished requirements is decremented
when a requirement finishes, and a job gets a task only once it is ready and has a window
slot. Bookkeeping happens at the end of each job's own task, synchronously, so there is no
loop that scans pending tasks. Every task a run creates is finished and awaited before
``co_run()`` returns or raises, on every path.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import operator
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Iterator
from itertools import repeat
from types import CoroutineType, MappingProxyType
from typing import Any, cast

from .._core import capture as _capture
from .._core import graph as _graph
from .._core.errors import (
    AlreadyRunningError,
    NotRerunnableError,
    OwnershipError,
    RequirementError,
)
from .._core.events import Callback, Event, EventKind, Subscribers
from .._core.job import (
    _UNSET,
    AbstractJob,
    Job,
    Status,
    _ids,
    check_timeout,
    checked_awaitable,
)
from .._core.jobset import OrderedSet, ReadOnlyJobs
from .._core.protocol import RunStatistics, SchedulerView
from .._core.sequence import flatten
from .._core.text import user_traceback
from .blocking import run_blocking

logger = logging.getLogger("nbjobs")

# the statuses as module constants: the engine compares them once or twice per job, and an
# Enum class attribute lookup costs several times a global's
_IDLE = Status.IDLE
_WAITING = Status.WAITING
_RUNNING = Status.RUNNING
_SUCCEEDED = Status.SUCCEEDED
_FAILED = Status.FAILED
_CANCELLED = Status.CANCELLED

#: what ``_plan()`` gives: the jobs to run, the jobs ready at once, the number of jobs that
#: are not forever, the successors of every job (see ``_link``)
_Plan = tuple[list[AbstractJob], list[AbstractJob], int, list[AbstractJob]]


def _link(todo: list[AbstractJob], token: object, edges: int, in_order: bool) -> list[AbstractJob]:
    """The successors of every job of a plan in one list, each job's in a row, in
    insertion order: those of ``job`` are ``successors[job._succ_end - job._nsucc :
    job._succ_end]``.

    ``token`` marks the jobs of the plan, ``_nsucc`` holds their counts of successors
    and ``edges`` the sum; ``in_order`` says that every job comes after its requirements
    in ``todo``. One list per run rather than one per job: every object that lives
    through the run is one more for each pass of the garbage collector, and a run of 100k
    jobs would otherwise create 100k of them.
    """
    if not edges:
        return []  # no job has successors: _succ_end is never read
    successors: list[Any] = [None] * edges
    end = 0
    if in_order:
        # a job's requirements came before it: where their successors go is known
        for job in todo:
            # where its successors start; _succ_end moves to their end as they are placed
            job._succ_end = end
            end += job._nsucc
            if job._pending:
                for req in job.required._items:
                    if req._plan_token is token:
                        at = req._succ_end
                        successors[at] = job
                        req._succ_end = at + 1
        return successors
    for job in todo:
        job._succ_end = end
        end += job._nsucc
    for job in todo:
        if job._pending:
            for req in job.required._items:
                if req._plan_token is token:
                    at = req._succ_end
                    successors[at] = job
                    req._succ_end = at + 1
    return successors


#: Called as ``hook(scheduler)`` when a top-level run starts; a hook may return a callable
#: that is called when that run ends. The Jupyter glue registers its live view here.
RUN_HOOKS: list[Callable[[PureScheduler], Callable[[], None] | None]] = []


class JupyterHooks:
    """What the Jupyter room lends the engine, which does not import it: filled by
    ``nbjobs._jupyter.hooks.register()`` when ``nbjobs`` is imported (None until then)."""

    #: ``mimebundle(scheduler, include=..., exclude=...)``: ``_repr_mimebundle_``
    mimebundle: Callable[..., Any] | None = None
    #: ``ipython_display(scheduler)``: ``_ipython_display_`` (a live view during a run)
    ipython_display: Callable[[Any], None] | None = None
    #: ``start(scheduler, view=...)``: a background run and its handle
    start: Callable[..., Any] | None = None


JUPYTER_HOOKS = JupyterHooks()


def _check_window(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"jobs_window must be an int or None, got {value!r}")
    if value < 1:
        raise ValueError(
            f"jobs_window must be >= 1 (None means no limit), got {value!r}; "
            "asynciojobs took 0 for 'no limit': pass None instead"
        )
    return value


class PureScheduler(SchedulerView):
    """A set of jobs run so that each starts as soon as its requirements are done.

    Parameters: ``jobs_or_sequences`` (jobs or Sequences, in the order they should start
    when ready together), ``jobs_window`` (at most that many jobs running at once; None for
    no limit), ``timeout`` (seconds for the whole run), ``shutdown_timeout`` (seconds for
    the shutdown hooks), ``verbose`` (log each step), ``view`` (None = automatic live view
    in Jupyter and terminals, False = none, "text" or "widget").
    """

    #: at most this many job tasks are created by one event, or per event-loop iteration
    #: for the rest of a burst (see ``_start``). Small enough that a batch's young
    #: objects (task, coroutines, context: ~5 per job) stay under the collector's
    #: first threshold (700): 10k independent jobs count 51.7k instructions per job with
    #: 64, 60.8k with 512 (the collector traversing the tasks alive), and run ~1.5x faster
    START_BATCH = 64

    def __init__(
        self,
        *jobs_or_sequences: Any,
        jobs_window: int | None = None,
        timeout: float | None = None,
        shutdown_timeout: float | None = 1,
        watch: Any = None,
        verbose: bool = False,
        view: Any = None,
    ) -> None:
        self._jobs: OrderedSet[AbstractJob] = OrderedSet()
        if not isinstance(self, AbstractJob):
            # a PureScheduler is never nested, but views treat every scheduler alike
            self.id: int = next(_ids)
            self.label: Any = None
        # jobs per status among this scheduler's own jobs, kept by the jobs themselves:
        # statistics() costs O(schedulers), not O(jobs)
        self._counts: dict[Status, int] = dict.fromkeys(Status, 0)
        self._nested: list[Scheduler] = []
        self._loop_thread: int | None = None
        self.jobs_window = _check_window(jobs_window)
        self.timeout = check_timeout(timeout, "timeout")
        self.shutdown_timeout = check_timeout(shutdown_timeout, "shutdown_timeout")
        self.watch = watch
        self.verbose = bool(verbose)
        self.view = view
        self._subscribers = Subscribers()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False
        self._closing = False
        self._outcome: str | None = None
        self._outcome_reason: str | None = None
        self._failures: list[AbstractJob] = []
        self._did_shutdown = False
        self._run_started: float | None = None
        self._run_ended: float | None = None
        self._tasks: dict[AbstractJob, asyncio.Task[None]] = {}
        self._waiting: deque[AbstractJob] = deque()
        self._active = 0
        self._finite_left = 0
        self._left = 0
        self._has_finite = False
        self._settling: deque[AbstractJob] = deque()
        # the successors of the jobs of the current run (see _link)
        self._successors: list[AbstractJob] = []
        # started jobs whose task is created on a later loop iteration (see _start)
        self._deferred: deque[AbstractJob] = deque()
        self._burst = 0
        self._clock: Callable[[], float] = time.monotonic
        self._new_task: Callable[..., asyncio.Task[None]] = _loop_task
        self._done_fut: asyncio.Future[None] | None = None
        self._run_context: contextvars.Context | None = None
        self._run_view: Any = None
        self._run_in_terminal = False
        self.update(jobs_or_sequences)

    # ---- membership ---------------------------------------------------------------------
    @property
    def jobs(self) -> ReadOnlyJobs[AbstractJob]:
        """The jobs, in insertion order (a read-only, live view)."""
        return ReadOnlyJobs(self._jobs)

    def __len__(self) -> int:
        return len(self._jobs)

    def __iter__(self) -> Iterator[AbstractJob]:
        return iter(self._jobs)

    def __contains__(self, job: object) -> bool:
        return job in self._jobs

    # a PureScheduler is never nested; these make every scheduler look alike to views
    _owner_ref: Any = None
    _user_scheduler: Any = _UNSET
    scheduler = cast(Any, AbstractJob.scheduler)  # the same property

    def _owner(self) -> PureScheduler | None:
        ref = self._owner_ref
        return ref() if ref is not None else None

    def walk_schedulers(self) -> Iterator[PureScheduler]:
        """This scheduler and every scheduler nested in it, at any depth."""
        yield self
        for nested in self._nested:
            yield from nested.walk_schedulers()

    def _ancestors(self) -> Iterator[PureScheduler]:
        owner: PureScheduler | None = self
        while owner is not None:
            yield owner
            owner = owner._owner()

    def add(self, job: Any) -> Any:
        """Add one job or Sequence; returns it, for chaining."""
        from .._core.sequence import Sequence

        if isinstance(job, Sequence):
            self.update(job.jobs)
            return job
        if not isinstance(job, AbstractJob):
            raise TypeError(
                f"{self.label_text_or_repr()}.add() takes a job or a Sequence, got {job!r}; "
                "wrap a coroutine or a function in Job(...)"
            )
        self._add_one(job)
        return job

    def _add_one(self, job: AbstractJob) -> None:
        current = job._owner()
        if current is self:
            return
        if self._running:
            raise AlreadyRunningError(
                f"cannot add {job!r} to {self.label_text_or_repr()} while it runs; "
                "add jobs before co_run() or after it returned"
            )
        if current is not None:
            raise OwnershipError(
                f"{job!r} already belongs to {current.label_text_or_repr()}; a job can "
                "be in one scheduler only: remove it there first (scheduler.remove(job)) "
                "or create another job"
            )
        if isinstance(job, PureScheduler) and any(a is job for a in self._ancestors()):
            raise OwnershipError(
                f"cannot add {job!r} into {self.label_text_or_repr()}: it contains it already"
            )
        self._jobs.add(job)
        # weak: jobs do not keep their scheduler alive, so a scheduler and its jobs are
        # freed by reference counting (and a never-run coroutine closed by its Job)
        job._owner_ref = weakref.ref(self)
        self._counts[job._status] += 1
        if isinstance(job, Scheduler):
            self._nested.append(job)
        self._structure_changed()

    def update(self, jobs: Iterable[Any]) -> PureScheduler:
        """Add a collection of jobs or Sequences; returns self."""
        for job in flatten(jobs):
            self._add_one(job)
        return self

    def remove(self, job: AbstractJob) -> PureScheduler:
        """Remove one job (KeyError if absent); jobs that required it keep the requirement
        until ``sanitize()`` drops it. Returns self."""
        if job not in self._jobs:
            raise KeyError(f"{job!r} is not in {self.label_text_or_repr()}")
        if self._running:
            raise AlreadyRunningError(f"cannot remove {job!r} while {self!r} runs")
        self._jobs.remove(job)
        job._owner_ref = None
        self._counts[job._status] -= 1
        if isinstance(job, Scheduler):
            self._nested.remove(job)
        self._structure_changed()
        return self

    def _structure_changed(self) -> None:
        self._emit_scheduler_event(EventKind.STRUCTURE)

    def label_text_or_repr(self) -> str:
        return repr(self)

    def label_text(self) -> str:
        """The scheduler's label, for views."""
        if self.label is not None:
            return str(self.label)
        return f"{type(self).__name__}#{self.id}"

    # ---- events -------------------------------------------------------------------------
    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback(event)`` for every event of this scheduler and the nested ones.

        Returns a function that unsubscribes.
        """
        return self._subscribers.add(callback)

    def _emit_scheduler_event(self, kind: EventKind, text: str | None = None) -> None:
        if not Subscribers.active:
            return
        event: Event | None = None
        for owner in self._ancestors():
            if owner._subscribers:
                if event is None:
                    now = self._loop.time() if self._loop is not None else None
                    event = Event(kind, self, None, now, None, text=text)
                owner._subscribers.send(event)

    # ---- graph algebra ------------------------------------------------------------------
    @staticmethod
    def _preds(job: AbstractJob) -> Iterable[AbstractJob]:
        return job.required

    def _succs(self) -> Callable[[AbstractJob], Iterable[AbstractJob]]:
        succ = _graph.successors_map(self._jobs, self._preds)
        return lambda job: succ.get(job, ())

    def topological_order(self) -> Iterator[AbstractJob]:
        """The jobs, each after all those it requires (ties in insertion order).

        Raises CycleError (with the cycle) if there is none.
        """
        return iter(_graph.topological_order(self._jobs, self._preds))

    def check_cycles(self) -> bool:
        """True if this scheduler and every nested one are acyclic (asynciojobs' API)."""
        try:
            self._check_acyclic()
        except ValueError:
            return False
        return True

    def _check_acyclic(self) -> None:
        _graph.check_acyclic(self._jobs, self._preds)
        for job in self._nested:
            job._check_acyclic()

    def entry_jobs(self) -> Iterator[AbstractJob]:
        """Jobs that require nothing in this scheduler."""
        return (job for job in self._jobs if not any(r in self._jobs for r in job.required))

    def exit_jobs(
        self, *, discard_forever: bool = True, compute_backlinks: bool = True
    ) -> Iterator[AbstractJob]:
        """Jobs that no other job of this scheduler requires."""
        succ = _graph.successors_map(self._jobs, self._preds)
        return (
            job for job in self._jobs if not succ[job] and not (discard_forever and job.forever)
        )

    def predecessors(self, *starts: AbstractJob) -> OrderedSet[AbstractJob]:
        """The jobs that any of ``starts`` requires directly."""
        return OrderedSet(_graph.neighbours(starts, self._preds, self._jobs))

    def successors(
        self, *starts: AbstractJob, compute_backlinks: bool = True
    ) -> OrderedSet[AbstractJob]:
        """The jobs that require any of ``starts`` directly."""
        return OrderedSet(_graph.neighbours(starts, self._succs(), self._jobs))

    def predecessors_upstream(self, *starts: AbstractJob) -> OrderedSet[AbstractJob]:
        """Every job that any of ``starts`` depends on, directly or not."""
        return OrderedSet(_graph.closure(starts, self._preds, self._jobs))

    def successors_downstream(
        self, *starts: AbstractJob, compute_backlinks: bool = True
    ) -> OrderedSet[AbstractJob]:
        """Every job that depends on any of ``starts``, directly or not."""
        return OrderedSet(_graph.closure(starts, self._succs(), self._jobs))

    def bypass_and_remove(self, job: AbstractJob) -> None:
        """Remove ``job``, making the jobs that required it require what it required."""
        if job not in self._jobs:
            raise ValueError(f"{job!r} is not in {self!r}")
        ups = [req for req in job.required]
        for down in self._jobs:
            if job in down.required:
                if job in down.data_required:
                    raise RequirementError(
                        f"cannot bypass {job!r}: {down!r} takes its result as an argument"
                    )
                down.required.discard(job)
                down.requires(ups)
        self.remove(job)

    def keep_only(self, remains: Iterable[Any]) -> None:
        """Keep only the jobs in ``remains`` (others are removed), then ``sanitize()``."""
        keep = set(flatten(remains))
        for job in list(self._jobs):
            if job not in keep:
                self.remove(job)
        self.sanitize()

    def keep_only_between(
        self,
        *,
        starts: Iterable[AbstractJob] | None = None,
        ends: Iterable[AbstractJob] | None = None,
        keep_starts: bool = True,
        keep_ends: bool = True,
    ) -> None:
        """Keep the jobs downstream of ``starts`` and upstream of ``ends`` (either may be
        omitted), plus the starts and ends themselves unless told otherwise."""
        start_list = list(starts or ())
        end_list = list(ends or ())
        down = set(self.successors_downstream(*start_list)) if start_list else set(self._jobs)
        up = set(self.predecessors_upstream(*end_list)) if end_list else set(self._jobs)
        keep = down & up
        if keep_starts:
            keep.update(start_list)
        if keep_ends:
            keep.update(end_list)
        self.keep_only([job for job in self._jobs if job in keep])

    def sanitize(self, verbose: bool | None = None) -> bool:
        """Drop requirements on jobs outside this scheduler (recursively in nested ones).

        Returns True if nothing had to change. Results a job consumes (data arguments)
        cannot be dropped: those stay, and running reports them.
        """
        verbose = self.verbose if verbose is None else verbose
        fine = True
        for job in self._jobs:
            outside = [
                r for r in job.required if r not in self._jobs and r not in job.data_required
            ]
            for req in outside:
                job.required.discard(req)
                fine = False
                if verbose:
                    logger.warning("sanitize: %r no longer requires %r (not in %r)", job, req, self)
            if isinstance(job, PureScheduler):
                fine = job.sanitize(verbose) and fine
        if not fine:
            self._structure_changed()
        return fine

    def iterate_jobs(self, scan_schedulers: bool = False) -> Iterator[Any]:
        """Every job, nested ones included; with ``scan_schedulers=True`` the schedulers
        too, this one first (as asynciojobs)."""
        if scan_schedulers:
            yield self
        for job in self._jobs:
            if isinstance(job, PureScheduler):
                yield from job.iterate_jobs(scan_schedulers)
            else:
                yield job

    # ---- validation before a run --------------------------------------------------------
    def _validate(self) -> None:
        """What can be wrong besides the graph itself (``_plan`` checks requirements and
        cycles), checked before anything runs, nested schedulers included."""
        _check_window(self.jobs_window)
        check_timeout(self.timeout, "timeout")
        for nested in self._nested:
            if nested._status is not _SUCCEEDED:
                if nested._running:
                    raise AlreadyRunningError(
                        f"{nested.label_text_or_repr()} is running on its own; wait for it "
                        f"(or cancel it) before running {self.label_text_or_repr()}"
                    )
                nested._validate()
                nested._plan()
        spent = list(self._spent_jobs())
        if spent:
            shown = ", ".join(repr(job) for job in spent[:10])
            more = f" and {len(spent) - 10} more" if len(spent) > 10 else ""
            raise NotRerunnableError(
                f"cannot run {self.label_text_or_repr()} again: these jobs did not succeed "
                f"and their coroutine object was already used: {shown}{more}; build them "
                "from an async function (Job(fn, *args)) so they can run again, or create "
                "new jobs",
                spent,
            )

    def _spent_jobs(self) -> Iterator[AbstractJob]:
        """Jobs that must run again but cannot: one-shot jobs whose coroutine was used."""
        # this runs before every run: the usual answer (none) comes from a scan in C
        if any(map(_is_consumed, self._jobs._items)):
            for job in self._jobs:
                if job._consumed and job._status is not _SUCCEEDED:
                    yield job
        for nested in self._nested:
            if nested._status is not _SUCCEEDED:
                yield from nested._spent_jobs()

    # ---- running ------------------------------------------------------------------------
    def run(self, *, view: Any = None) -> bool:
        """Run and block until done; returns what ``co_run()`` returns.

        Works in a plain script and, in Jupyter, in a cell (the kernel's loop is running).
        ``view``: None for the automatic live view, False for none.
        """
        self._run_view = view
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._run_in_terminal = True
        try:
            return run_blocking(self.co_run)
        finally:
            self._run_view = None
            self._run_in_terminal = False

    orchestrate = run

    def start(self, *, view: Any = None) -> Any:
        """Start a run in the background on the running loop and return at once a handle:
        ``await handle`` gives what ``co_run()`` returns; ``handle.cancel()``,
        ``handle.done()``. In Jupyter the live view shows in the calling cell and keeps
        updating while other cells run; a failure is reported there, never lost.
        """
        start = JUPYTER_HOOKS.start
        if start is None:
            raise RuntimeError("start() needs nbjobs' Jupyter room (import nbjobs)")
        return start(self, view=view)

    async def co_run(self) -> bool:
        """Run the jobs; True when every non-forever job completed and no critical job
        failed, within the timeout. False otherwise (``why()`` says why)."""
        await self._co_run_pure()
        return self._outcome == "success"

    async def _co_run_pure(self) -> None:
        if self._running:
            raise AlreadyRunningError(
                f"{self.label_text_or_repr()} is already running; wait for it "
                "(or cancel it) before running it again"
            )
        self._validate()
        plan = self._plan()  # raises RequirementError or CycleError before anything runs
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._running = True
        self._closing = False
        self._outcome = None
        self._outcome_reason = None
        self._failures = []
        self._did_shutdown = False
        self._run_started = loop.time()
        self._run_ended = None
        self._done_fut = loop.create_future()
        self._tasks = {}
        self._waiting = deque()
        self._deferred = deque()
        self._burst = 0
        self._active = 0
        # the loop's clock; time.monotonic() itself when that is what loop.time() calls,
        # saving a Python call per timestamp (two or three per job)
        self._clock = time.monotonic if type(loop).time is asyncio.BaseEventLoop.time else loop.time
        # what makes a job's task, called as (coroutine, loop=, context=): the Task class
        # itself when that is all loop.create_task() would do with it (a standard loop,
        # no task factory), three Python calls less per job; else loop.create_task()
        self._new_task = (
            asyncio.tasks.Task
            if type(loop).create_task is asyncio.BaseEventLoop.create_task
            and loop.get_task_factory() is None
            else _loop_task
        )
        # jobs run in copies of this context, not of whichever job's task started them
        self._run_context = contextvars.copy_context()
        self._loop_thread = threading.get_ident()
        enders: list[Callable[[], None]] = []
        external: BaseException | None = None
        timer: asyncio.TimerHandle | None = None
        # views start before output capture, so that what they draw is not taken for a
        # job's output
        if self._owner() is None:
            enders = self._call_run_hooks()
            # the views took their time: the run (and its timeout) starts now
            self._run_started = loop.time()
        _capture.install()
        try:
            self._emit_scheduler_event(EventKind.RUN_STARTED)
            if self.verbose:
                logger.info("%r: run starts with %d jobs", self, len(self._jobs))
            if self.timeout is not None:
                timer = loop.call_at(self._run_started + self.timeout, self._finish, "timeout")
            self._start_run(plan)
            try:
                await self._done_fut
            except asyncio.CancelledError as exc:
                reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else None
                self._finish("cancelled", reason or "cancelled")
                external = exc
            except BaseException as exc:  # KeyboardInterrupt/SystemExit through the loop
                self._finish("cancelled", "interrupted")
                external = exc
        finally:
            if timer is not None:
                timer.cancel()
            try:
                await self._wind_down()
            finally:
                self._running = False
                self._run_ended = loop.time()
                self._done_fut = None
                _capture.uninstall()
                why = self.why()
                if self.verbose:
                    logger.info("%r: run ends: %s", self, why)
                self._emit_scheduler_event(EventKind.RUN_FINISHED, why)
                for end in enders:
                    try:
                        end()
                    except Exception:
                        logger.exception("nbjobs: a run hook failed at the end of the run")
        if external is not None:
            raise external

    def reset(self) -> None:
        """Forget every outcome (nested schedulers too), so the next run runs everything."""
        if self._running:
            raise AlreadyRunningError(f"cannot reset {self.label_text_or_repr()} while it runs")
        for job in self.iterate_jobs(scan_schedulers=True):
            if isinstance(job, AbstractJob):
                job._reset_state()
            if isinstance(job, PureScheduler):
                job._outcome = None
        self._outcome = None
        self._structure_changed()

    def _call_run_hooks(self) -> list[Callable[[], None]]:
        enders = []
        if self._run_in_terminal and self._run_view is not False:
            try:
                from .._views.terminal import attach
            except ImportError:
                pass
            else:
                end = attach(self)
                if end is not None:
                    enders.append(end)
        for hook in list(RUN_HOOKS):
            try:
                end = hook(self)
            except Exception:
                logger.exception("nbjobs: a run hook failed; the run goes on without it")
                continue
            if end is not None:
                enders.append(end)
        return enders

    def _plan(self) -> _Plan:
        """One pass over the graph: the jobs that run, the jobs ready at once, how many
        are not forever, and the successors of every job in this run, all in one flat
        list (see :meth:`_link`); on each job that runs, its count of unfinished
        requirements (``_pending``) and of successors (``_nsucc``): slots, not dicts,
        since the run reads and updates them once per edge.

        Jobs that succeeded in an earlier run are done already; the rest run (again).
        A requirement outside the scheduler raises RequirementError, a cycle CycleError,
        before anything starts. When every job comes after its requirements in insertion
        order (the usual way to build a graph) this pass proves the graph acyclic too;
        otherwise :meth:`_plan_any_order` runs Kahn's algorithm.
        """
        jobs = self._jobs._items
        token = object()  # marks the jobs of this plan
        todo: list[AbstractJob] = []
        roots: list[AbstractJob] = []
        finite = 0
        edges = 0
        in_order = True
        for job in jobs:
            required = job.required._items
            if job._status is _SUCCEEDED:
                for req in required:
                    if req not in jobs:
                        self._missing_requirement(job, req)
                continue
            todo.append(job)
            job._nsucc = 0
            count = 0
            for req in required:
                if req._plan_token is token:
                    req._nsucc += 1
                    count += 1
                elif req not in jobs:
                    self._missing_requirement(job, req)
                elif req._status is not _SUCCEEDED:
                    in_order = False  # it comes later (or is the job itself)
            job._pending = count
            job._plan_token = token
            edges += count
            if not count:
                roots.append(job)
            if not job.forever:
                finite += 1
        if not in_order:
            return self._plan_any_order(todo, finite)
        return todo, roots, finite, _link(todo, token, edges, True)

    def _plan_any_order(self, todo: list[AbstractJob], finite: int) -> _Plan:
        token = object()
        for job in todo:
            job._nsucc = 0
            job._plan_token = token
        roots: list[AbstractJob] = []
        edges = 0
        for job in todo:
            count = 0
            for req in job.required._items:
                if req._plan_token is token:
                    req._nsucc += 1
                    count += 1
            job._pending = count
            edges += count
            if not count:
                roots.append(job)
        successors = _link(todo, token, edges, False)
        left = {job: job._pending for job in todo}
        ready = deque(roots)
        seen = 0
        while ready:
            job = ready.popleft()
            seen += 1
            end = job._succ_end
            for nxt in successors[end - job._nsucc : end]:
                left[nxt] -= 1
                if not left[nxt]:
                    ready.append(nxt)
        if seen != len(todo):
            _graph.check_acyclic(todo, self._preds)  # raises, with the cycle
        return todo, roots, finite, successors

    def _missing_requirement(self, job: AbstractJob, req: AbstractJob) -> None:
        if req in job.data_required:
            raise RequirementError(
                f"{job!r} takes the result of {req!r} as an argument, but that "
                f"job is not in the same scheduler {self.label_text_or_repr()}; "
                "add both jobs to the same scheduler"
            )
        raise RequirementError(
            f"{job!r} requires {req!r}, which is not in the same scheduler "
            f"{self.label_text_or_repr()}; add it there, or call "
            "scheduler.sanitize() to drop requirements outside the scheduler"
        )

    def _start_run(self, plan: _Plan) -> None:
        todo, roots, finite, self._successors = plan
        # the time the run's first jobs are ready, start, or wait for a slot
        now = self._clock()
        if self._counts[_IDLE] != len(self._jobs):
            # some jobs ran before (an idle job never started: only a reset makes a job
            # idle again, and it forgets the start): forget what did not succeed
            for job in todo:
                if job._status is not _IDLE or job._started:
                    job._reset_state(now)
        self._left = len(todo)
        self._finite_left = finite
        self._has_finite = finite > 0
        if not todo:
            self._finish("success")
            return
        window = self.jobs_window
        if window is None or len(roots) <= window:
            for job in roots:
                self._make_ready(job, now)
        else:
            # More jobs ready at once than the window holds (100k independent jobs and a
            # window of 100): the ones beyond it wait, marked here with one update of the
            # counts rather than one each.
            waiting = self._waiting
            emit = Subscribers.statuses > 0
            queued = 0
            for job in roots:
                if self._active >= window and job._status is _IDLE and not job.data_required:
                    job.ready_time = now
                    job._status = _WAITING
                    waiting.append(job)
                    queued += 1
                    if emit:
                        job._emit(EventKind.STATUS, now)
                else:
                    self._make_ready(job, now)
            counts = self._counts
            counts[_IDLE] -= queued
            counts[_WAITING] += queued
        self._drain_settling(now)

    def _make_ready(self, job: AbstractJob, now: float) -> None:
        """All of ``job``'s requirements ended (at ``now``): start it, queue it, or skip it."""
        if self._closing:
            return
        if job._status is _CANCELLED:
            # cancelled before it was ready: it ends now, in order
            self._settling.append(job)
            return
        if job.data_required:
            for producer in job.data_required:
                if producer._status is not _SUCCEEDED:
                    job._mark_skipped(
                        now,
                        f"needs the result of {producer.label_text()!r}, "
                        f"which {_ended_how(producer)}",
                    )
                    self._settling.append(job)
                    return
        window = self.jobs_window
        if window is not None and self._active >= window:
            # job._mark_ready(now, waiting=True), inline: once per job beyond the window
            job.ready_time = now
            old = job._status
            job._status = _WAITING
            counts = self._counts
            counts[old] -= 1
            counts[_WAITING] += 1
            if Subscribers.statuses:
                job._emit(EventKind.STATUS, now)
            self._waiting.append(job)
        else:
            self._start(job, now)

    def _start(self, job: AbstractJob, now: float) -> None:
        """Start ``job``: it takes its window slot and is RUNNING from ``now`` on (the
        caller's clock reading: a job started as another one ends starts when it ends).

        Its task runs :meth:`_run_job` in a copy of the run's context. No done callback:
        the task does the job's bookkeeping when the body ends (one event-loop handle
        less per job). One event (the run's start, a job's end) creates at most
        ``START_BATCH`` tasks: the rest of a burst of ready jobs (100k independent jobs,
        the children of a fan-out) gets its tasks over the next loop iterations, a batch
        per iteration, in order, instead of piling up every task and its first step
        before any of them runs; in a burst this is both faster and much smaller in
        memory. A job's end resets the count: in a chain or a layered graph each end
        starts a few jobs, which never wait for a batch. A task cancelled before its
        first step never runs
        ``_run_job``: the paths that cancel tasks catch up on it (:meth:`_cancel_job`,
        :meth:`_wind_down`).
        """
        self._active += 1
        job._started = True
        job.start_time = now
        if job.ready_time is None:
            job.ready_time = now
        old = job._status
        job._status = _RUNNING
        counts = self._counts
        counts[old] -= 1
        counts[_RUNNING] += 1
        if Subscribers.statuses:
            job._emit(EventKind.STATUS, now)
        deferred = self._deferred
        if deferred or self._burst >= self.START_BATCH:
            if not deferred:
                assert self._loop is not None
                self._loop.call_soon(self._start_deferred)
            deferred.append(job)
            return
        self._burst += 1
        context = self._run_context
        assert context is not None
        self._tasks[job] = self._new_task(
            self._run_job(job), loop=self._loop, context=context.copy()
        )

    def _start_deferred(self) -> None:
        """The next batch of the started jobs that have no task yet."""
        self._burst = 0
        deferred = self._deferred
        if self._closing or not deferred:
            return  # _wind_down accounts for them
        loop = self._loop
        assert loop is not None
        context = self._run_context
        assert context is not None
        tasks = self._tasks
        run_job = self._run_job
        batch = min(len(deferred), self.START_BATCH)
        self._burst = batch
        new_task = self._new_task
        for _ in range(batch):
            job = deferred.popleft()
            tasks[job] = new_task(run_job(job), loop=loop, context=context.copy())
        if deferred:
            loop.call_soon(self._start_deferred)

    async def _run_job(self, job: AbstractJob) -> None:
        """A job's task: its body, then the bookkeeping, synchronously at its end."""
        # what the job prints is recorded on it (the task's context is its own copy)
        current_job = _capture.current_job
        current_job.set(job)
        try:
            if job._time_limit is None and not job.retries:
                if job._direct:
                    # Job(async_fn, *args): Job._body()'s usual case, without two calls
                    fn = job.corun  # type: ignore[attr-defined]
                    awaitable = fn(*job._args)  # type: ignore[attr-defined]
                    if type(awaitable) is not CoroutineType:
                        awaitable = checked_awaitable(fn, awaitable)
                    result = await awaitable
                else:
                    result = await job._make_awaitable()
            else:
                result = await self._attempts(job)
        except asyncio.CancelledError:
            current_job.set(None)
            self._job_cancelled(job)
            raise
        except Exception as exc:
            current_job.set(None)
            _strip_engine_frames(exc)
            now = self._clock()
            job._mark_failed(now, exc)
            self._job_released(job, now)
        except BaseException:
            # KeyboardInterrupt or SystemExit from the job's synchronous step: it leaves
            # the loop at once, and the run is being unwound
            current_job.set(None)
            task = asyncio.current_task()
            if task is not None:
                task.add_done_callback(_retrieve)
            now = self._clock()
            job._mark_cancelled(now, "interrupted")
            self._job_released(job, now)
            raise
        else:
            if Subscribers.active or self.verbose:
                # what follows may reach views and logs, and none of it is the job's output;
                # with neither, nothing can write before the task ends (setting a context
                # variable copies part of the context: ~5% of a run's instructions per job)
                current_job.set(None)
            now = self._clock()
            if result is not None:
                job._result = result
            job.end_time = now
            old = job._status
            job._status = _SUCCEEDED
            counts = self._counts
            counts[old] -= 1
            counts[_SUCCEEDED] += 1
            if Subscribers.statuses:
                job._emit(EventKind.STATUS, now)
            # _job_released(job, now) for a job that succeeded, inline: once per job
            self._tasks.pop(job, None)
            self._active -= 1
            self._burst = 0  # what this job's end starts is a burst of its own
            if self._closing:
                return
            waiting = self._waiting
            if waiting:
                # _start_waiting(now), inline: with a window, once per job
                window = self.jobs_window
                while waiting and (window is None or self._active < window):
                    self._start(waiting.popleft(), now)
            self._settle(job, now)
            if self._settling:
                self._drain_settling(now)

    def _job_cancelled(self, job: AbstractJob) -> None:
        reason = job.__dict__.pop("_nbjobs_cancel_reason", None)
        now = self._clock()
        job._mark_cancelled(now, reason or self._outcome_reason or "cancelled")
        self._job_released(job, now)

    def _job_released(self, job: AbstractJob, now: float) -> None:
        """A started job ended at ``now``: free its slot, record a failure, release what
        follows (which is ready, or starts, at that same time)."""
        self._tasks.pop(job, None)
        self._active -= 1
        self._burst = 0  # what this job's end starts is a burst of its own
        status = job._status
        if status is _FAILED:
            # every failure is kept, even one that ends while the run winds down
            self._failures.append(job)
        if self._closing:
            return
        if status is _FAILED and job.critical:
            self._finish("critical", f"critical job {job.label_text()!r} failed")
            return
        if self._waiting:
            self._start_waiting(now)
        self._settle(job, now)
        if self._settling:
            self._drain_settling(now)

    def _start_waiting(self, now: float) -> None:
        """Start the jobs that wait for a window slot, as far as slots are free: they go
        before the ones the job that freed a slot releases, being ready before them."""
        waiting = self._waiting
        window = self.jobs_window
        while waiting and (window is None or self._active < window):
            self._start(waiting.popleft(), now)

    def _cancelled_before_start(self, job: AbstractJob, task: asyncio.Task[Any]) -> None:
        """Done callback of a task cancelled one job at a time: if it was cancelled before
        its first step, :meth:`_run_job` never ran, so its bookkeeping happens here."""
        if job._status is _RUNNING and self._tasks.get(job) is task:
            self._job_cancelled(job)

    async def _attempts(self, job: AbstractJob) -> Any:
        """A job with a timeout per attempt and/or retries."""
        delay = job.retry_delay
        while True:
            job.attempts += 1
            try:
                return await _attempt(job)
            except Exception as exc:
                if job.attempts > job.retries or self._closing:
                    raise
                logger.info(
                    "%r: attempt %d failed (%r); retrying in %.3gs", job, job.attempts, exc, delay
                )
                job._record_output(
                    "log",
                    f"nbjobs: attempt {job.attempts} failed ({type(exc).__name__}: {exc}); "
                    f"retrying in {delay:.3g}s\n",
                )
            if delay > 0:
                await asyncio.sleep(delay)
            delay *= job.backoff

    def _settle(self, job: AbstractJob, now: float) -> None:
        """Count a job that ended at ``now`` and make its successors ready when it was
        their last unfinished requirement."""
        self._left -= 1
        if not job.forever:
            self._finite_left -= 1
        n = job._nsucc
        if n:
            window = self.jobs_window
            end = job._succ_end
            queued = 0
            for nxt in self._successors[end - n : end]:
                count = nxt._pending - 1
                nxt._pending = count
                if count:
                    continue
                if nxt._status is not _IDLE or nxt.data_required:
                    self._make_ready(nxt, now)
                elif window is None or self._active < window:
                    self._start(nxt, now)  # _make_ready's usual outcome, without the detour
                elif not self._closing:
                    # _make_ready's waiting branch, inline: a job ending in a fan-out makes
                    # thousands of jobs ready at once, and they share one update of the
                    # counts (brought up to date before views hear)
                    nxt.ready_time = now
                    nxt._status = _WAITING
                    self._waiting.append(nxt)
                    queued += 1
                    if Subscribers.statuses:
                        counts = self._counts
                        counts[_IDLE] -= queued
                        counts[_WAITING] += queued
                        queued = 0
                        nxt._emit(EventKind.STATUS, now)
            if queued:
                counts = self._counts
                counts[_IDLE] -= queued
                counts[_WAITING] += queued
        if self._finite_left == 0 and (self._has_finite or self._left == 0):
            self._finish("success")

    def _drain_settling(self, now: float | None = None) -> None:
        """Settle the jobs that ended without a task (skipped, cancelled before they
        started), at ``now`` (by default, the clock's time): a loop, not recursion, so
        that a chain of 100k skipped jobs does not overflow the stack."""
        settling = self._settling
        if now is None:
            now = self._clock()
        while settling and not self._closing:
            self._settle(settling.popleft(), now)
        settling.clear()

    def _finish(self, outcome: str, reason: str | None = None) -> None:
        """End the run (the first call wins)."""
        fut = self._done_fut
        if self._outcome is not None or fut is None:
            return
        self._outcome = outcome
        self._outcome_reason = reason or outcome
        self._closing = True
        if not fut.done():
            fut.set_result(None)

    async def _wind_down(self) -> None:
        """Cancel what still runs, await every task, mark what never started, shut down."""
        loop = self._loop
        assert loop is not None
        self._closing = True
        reason = self._end_reason()
        tasks = list(self._tasks.items())
        for job, task in tasks:
            if not task.done():
                job_reason = (
                    "forever job stopped at the end of the run"
                    if (job.forever and self._outcome == "success")
                    else reason
                )
                job._nbjobs_cancel_reason = job_reason  # type: ignore[attr-defined]
                task.cancel(job_reason)
        interrupted: BaseException | None = None
        remaining = [task for _, task in tasks]
        while remaining:
            try:
                await asyncio.wait(remaining)
            except asyncio.CancelledError as exc:
                # cancelled again while cleaning up: finish the clean-up, then say so
                interrupted = exc
            remaining = [task for task in remaining if not task.done()]
        now = loop.time()
        for job in self._deferred:
            # started, but the run ended before its task was created
            job._mark_cancelled(now, reason)
        self._deferred.clear()
        for job, _ in tasks:
            if job._status is Status.RUNNING:
                # its task was cancelled before its first step: _run_job never ran
                job._mark_cancelled(now, job.__dict__.get("_nbjobs_cancel_reason") or reason)
            job.__dict__.pop("_nbjobs_cancel_reason", None)
        counts = self._counts
        unstarted = counts[Status.IDLE] + counts[Status.WAITING]
        for job in self._jobs if unstarted else ():
            if job.status in (Status.IDLE, Status.WAITING):
                job._mark_skipped(now, f"the run ended first ({reason})")
                if isinstance(job, PureScheduler):
                    for inner in job.iterate_jobs(scan_schedulers=True):
                        if inner is not job and inner.status in (Status.IDLE, Status.WAITING):
                            inner._mark_skipped(now, f"the run ended first ({reason})")
        self._waiting.clear()
        self._tasks = {}
        self._active = 0
        await self.co_shutdown()
        if interrupted is not None:
            raise interrupted

    def _end_reason(self) -> str:
        if self._outcome == "timeout":
            return f"timeout after {self.timeout:g}s"
        if self._outcome == "success":
            return "run finished"
        return self._outcome_reason or str(self._outcome)

    def cancel(self, reason: str = "cancelled by user") -> bool:
        """Cancel the whole run: running jobs are cancelled with ``reason``, jobs not
        started are skipped, shutdown hooks run; ``co_run()`` then returns False.

        Safe from any thread. Returns False when the scheduler is not running.
        """
        loop = self._loop
        if not self._running or loop is None or self._outcome is not None:
            return False
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._finish("cancelled", str(reason))
        else:
            loop.call_soon_threadsafe(self._finish, "cancelled", str(reason))
        return True

    def _cancel_job(self, job: AbstractJob, reason: str) -> bool:
        loop = self._loop
        if not self._running or self._closing or loop is None:
            return False
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            loop.call_soon_threadsafe(self._cancel_job, job, reason)
            return True
        status = job.status
        if status is Status.RUNNING:
            task = self._tasks.get(job)
            if task is None:
                if job not in self._deferred:
                    return False
                # started, but its task is not created yet
                self._deferred.remove(job)
                job._nbjobs_cancel_reason = reason  # type: ignore[attr-defined]
                self._job_cancelled(job)
                return True
            job._nbjobs_cancel_reason = reason  # type: ignore[attr-defined]
            task.cancel(reason)
            task.add_done_callback(functools.partial(self._cancelled_before_start, job))
            return True
        if status is Status.WAITING:
            self._waiting.remove(job)
            job._mark_cancelled(loop.time(), reason)
            self._settling.append(job)
            self._drain_settling()
            return True
        if status is Status.IDLE:
            # it ends when its requirements have ended, so the order still holds
            job._mark_cancelled(loop.time(), reason)
            return True
        return False

    # ---- shutdown -----------------------------------------------------------------------
    async def co_shutdown(self) -> bool | None:
        """Call every job's ``co_shutdown()`` (once per run), within ``shutdown_timeout``.

        Returns True if all returned in time without raising.
        """
        if self._did_shutdown:
            return None  # as asynciojobs: the shutdown of this run happened already
        self._did_shutdown = True
        items = self._jobs._items
        # this runs at the end of every run: when no job can have a hook (the usual case),
        # two scans in C say so rather than one Python iteration per job
        kinds = cast("set[type[AbstractJob]]", set(map(type, items)))
        if all(
            t.co_shutdown is _NOOP_SHUTDOWN or t.co_shutdown is _JOB_SHUTDOWN for t in kinds
        ) and not any(map(getattr, items, repeat("coshutdown"), repeat(None))):
            return True
        hooks = []
        for job in items:
            # _has_shutdown_hook() inline: this runs over every job at the end of each run
            hook = type(job).co_shutdown
            if hook is _NOOP_SHUTDOWN or (hook is _JOB_SHUTDOWN and job.coshutdown is None):  # type: ignore[attr-defined]
                continue
            hooks.append(job)
        if not hooks:
            return True
        tasks = [asyncio.ensure_future(_shutdown_one(job)) for job in hooks]
        done, pending = await asyncio.wait(tasks, timeout=self.shutdown_timeout)
        fine = not pending
        for task in pending:
            task.cancel()
        if pending:
            logger.warning(
                "%r: %d shutdown hook(s) did not return within %ss",
                self,
                len(pending),
                self.shutdown_timeout,
            )
            await asyncio.wait(pending)
        for task in done:
            if not task.result():
                fine = False
        return fine

    def shutdown(self) -> bool | None:
        """Blocking ``co_shutdown()`` (a run shuts its jobs down already when it ends)."""
        return run_blocking(self.co_shutdown, "shutdown()")

    # ---- outcome ------------------------------------------------------------------------
    def failed_time_out(self) -> bool:
        """True if the last run ended because of its timeout."""
        return self._outcome == "timeout"

    def failed_critical(self) -> bool:
        """True if the last run ended because a critical job failed."""
        return self._outcome == "critical"

    def was_cancelled(self) -> bool:
        return self._outcome == "cancelled"

    def failures(self) -> list[AbstractJob]:
        """Jobs that failed in the last run, in the order they failed (nested ones too)."""
        found = list(self._failures)
        for job in self._jobs:
            if isinstance(job, PureScheduler):
                found.extend(j for j in job.failures() if j not in found)
        return found

    def why(self) -> str:
        """Why the last run failed, or "FINE"."""
        if self._outcome == "timeout":
            return f"TIMED OUT after {self.timeout:g}s"
        if self._outcome == "critical":
            return f"a CRITICAL job has raised an exception ({self._outcome_reason})"
        if self._outcome == "cancelled":
            return f"CANCELLED ({self._outcome_reason})"
        if self._outcome is None and self._running:
            return "RUNNING"
        if self._outcome is None:
            return "NOT RUN"
        return "FINE"

    def statistics(self, recursive: bool = True) -> RunStatistics:
        """An immutable snapshot: counts per status, elapsed time, outcome."""
        counts = self.leaf_counts() if recursive else dict(self._counts)
        total = sum(counts.values())
        elapsed = None
        if self._run_started is not None:
            end = self._run_ended
            if end is None and self._loop is not None and not self._loop.is_closed():
                end = self._loop.time()
            if end is not None:
                elapsed = end - self._run_started
        return RunStatistics(
            counts=MappingProxyType(counts),
            total=total,
            elapsed=elapsed,
            started=self._run_started is not None,
            finished=self._run_ended is not None and not self._running,
            outcome=self._outcome,
            why=self.why(),
        )

    def status_counts(self) -> MappingProxyType[Status, int]:
        """How many of this scheduler's own jobs are in each status (a read-only view)."""
        return MappingProxyType(self._counts)

    @property
    def nested_schedulers(self) -> tuple[Scheduler, ...]:
        """The schedulers among this scheduler's own jobs."""
        return tuple(self._nested)

    @property
    def subscribers(self) -> Subscribers:
        """The subscriptions; views that follow every job use quiet subscriptions and
        ``watch_statuses`` here (see CONTRIBUTING)."""
        return self._subscribers

    def leaf_counts(self) -> dict[Status, int]:
        """How many leaf jobs, nested ones included, are in each status."""
        counts = dict(self._counts)
        for nested in self._nested:
            counts[nested._status] -= 1
            for status, n in nested.leaf_counts().items():
                counts[status] += n
        return counts

    @property
    def is_running_now(self) -> bool:
        """True while ``co_run()`` is going on."""
        return self._running

    # ---- closing coroutines -------------------------------------------------------------
    def close_idle_jobs(self) -> None:
        """Close the coroutine objects of jobs that did not start (asynciojobs' API)."""
        for job in self.iterate_jobs():
            if not job.is_running():
                job.close()

    def close_all_jobs(self) -> None:
        for job in self.iterate_jobs():
            job.close()

    # ---- text and graphs (views live in their own modules) ------------------------------
    def list(self, details: bool = False, silence_done_jobs: bool = False) -> None:
        """Print the jobs in topological order with their state (asynciojobs' format)."""
        from .._views.text import list_jobs

        list_jobs(self, details=details, silence_done_jobs=silence_done_jobs)

    def list_safe(self, silence_done_jobs: bool = False) -> None:
        """Like ``list()`` without needing an acyclic graph."""
        from .._views.text import list_safe

        list_safe(self, silence_done_jobs=silence_done_jobs)

    def debrief(self, details: bool = False, silence_done_jobs: bool = False) -> None:
        """Print why the run failed, the list, and each failure with its traceback."""
        from .._views.text import debrief

        debrief(self, details=details, silence_done_jobs=silence_done_jobs)

    def stats(self) -> str:
        """A one-liner like ``2D + 3R + 4I = 9`` (done, running, idle, total)."""
        from .._views.text import stats_line

        return stats_line(self)

    def __repr__(self) -> str:
        from .._views.text import scheduler_repr

        return scheduler_repr(self)

    def dot_format(self, statuses: bool = True) -> str:
        """The graph in DOT; with ``statuses``, nodes are filled by their state."""
        from .._views.dot import dot_source

        return dot_source(self, statuses=statuses)

    def graph(self, statuses: bool = True) -> Any:
        """A ``graphviz.Digraph`` of the jobs; Jupyter shows it as SVG, drawn by Graphviz's
        ``dot`` when it is installed, else in process (``nbjobs._views.dot.render_svg``)."""
        from .._views.dot import digraph

        return digraph(self, statuses=statuses)

    def export_as_dotfile(self, filename: str) -> str:
        from .._views.dot import export_dot

        return export_dot(self, filename)

    def export_as_graphic(self, filename: str, suffix: str) -> str:
        from .._views.dot import export_graphic

        return export_graphic(self, filename, suffix)

    def export_as_svgfile(self, filename: str) -> str:
        return self.export_as_graphic(filename, "svg")

    def export_as_pngfile(self, filename: str) -> str:
        return self.export_as_graphic(filename, "png")

    # ---- Jupyter display (the Jupyter room lends it through JUPYTER_HOOKS) -------------
    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        mimebundle = JUPYTER_HOOKS.mimebundle
        if mimebundle is None:
            return {"text/plain": repr(self)}
        return mimebundle(self, include=include, exclude=exclude)

    def _ipython_display_(self) -> None:
        # displaying a scheduler during a run shows a live view, not a one-off picture
        ipython_display = JUPYTER_HOOKS.ipython_display
        if ipython_display is None:  # only IPython calls this, and nbjobs fills it on import
            raise RuntimeError("displaying a scheduler needs nbjobs' Jupyter room")
        ipython_display(self)

    @property
    def run_view(self) -> Any:
        """The view asked for the current run (``run(view=...)``), else ``self.view``."""
        return self._run_view if self._run_view is not None else self.view

    # ---- result flow decorator ----------------------------------------------------------
    def job(self, fn: Any = None, /, **options: Any) -> Any:
        """Decorator: ``@s.job`` or ``@s.job(label=..., critical=...)`` on a function.

        The decorated name becomes a factory: each call creates a Job in this scheduler
        that calls the function with the given arguments; jobs among the arguments are
        requirements whose results are passed in.
        """
        from .factory import JobFactory

        if fn is None:
            return lambda f: JobFactory(f, self, options)
        return JobFactory(fn, self, options)


def _ended_how(job: AbstractJob) -> str:
    status = job.status
    if status is Status.FAILED:
        exc = job.raised_exception()
        return f"failed ({type(exc).__name__}: {exc})"
    if status is Status.CANCELLED:
        return f"was cancelled ({job.cancel_reason})"
    if status is Status.SKIPPED:
        return f"was skipped ({job.skip_reason})"
    return f"did not succeed ({status.value})"


# jobs whose co_shutdown() is one of these do nothing at the end of a run: no task for them
_NOOP_SHUTDOWN = AbstractJob.co_shutdown
_JOB_SHUTDOWN = Job.co_shutdown
# read over every job before each run, in C (see _spent_jobs)
_is_consumed = operator.attrgetter("_consumed")


def _strip_engine_frames(exc: BaseException) -> None:
    """Drop nbjobs' frames from the head of a job's traceback (``user_traceback``: the
    one rule for which frames are nbjobs' own, which the views' tracebacks follow too).

    They are noise for the user, and they hold the scheduler: keeping them would tie the
    scheduler and its jobs into a reference cycle that only the garbage collector frees.
    """
    exc.__traceback__ = user_traceback(exc.__traceback__, keep_last=False)


async def _attempt(job: AbstractJob) -> Any:
    """One attempt, within the job's time limit if it has one."""
    awaitable = job._make_awaitable()
    timeout = job._time_limit
    if timeout is None:
        return await awaitable
    try:
        async with asyncio.timeout(timeout) as limit:
            return await awaitable
    except TimeoutError:
        if not limit.expired():
            raise  # the job's own TimeoutError, not its time limit
    # raised here, out of the handler: the message says it all, no chained context
    raise TimeoutError(f"{job.label_text()!r} did not finish within its timeout of {timeout:g}s")


def _loop_task(
    coro: Coroutine[Any, Any, None],
    *,
    loop: asyncio.AbstractEventLoop,
    context: contextvars.Context,
) -> asyncio.Task[None]:
    """A job's task made by ``loop.create_task()``: a loop of its own kind, or one with a
    task factory, decides what a task is."""
    return loop.create_task(coro, context=context)


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a task's exception as seen: it was reported another way (no "Task exception
    was never retrieved" at garbage collection)."""
    if not task.cancelled():
        task.exception()


async def _shutdown_one(job: AbstractJob) -> bool:
    try:
        await job.co_shutdown()
    except Exception:
        logger.exception("nbjobs: co_shutdown() of %r raised", job)
        return False
    return True


class Scheduler(PureScheduler, AbstractJob):
    """A scheduler that is also a job, so schedulers nest (the usual one to use).

    Takes PureScheduler's parameters plus AbstractJob's (``critical``, ``forever``,
    ``label``, ``required``, ``scheduler``). When the run fails, a critical scheduler (the
    default) raises instead of returning False: ``TimeoutError`` on timeout, the critical
    job's exception otherwise (with notes naming every failure; see ``failures()``).
    """

    def __init__(
        self,
        *jobs_or_sequences: Any,
        jobs_window: int | None = None,
        timeout: float | None = None,
        shutdown_timeout: float | None = 1,
        watch: Any = None,
        verbose: bool = False,
        view: Any = None,
        critical: bool = True,
        forever: bool = False,
        label: Any = None,
        required: Any = None,
        scheduler: PureScheduler | None = None,
        retries: int = 0,
        retry_delay: float = 0.0,
        backoff: float = 2.0,
    ) -> None:
        AbstractJob.__init__(
            self,
            critical=critical,
            forever=forever,
            label=label,
            required=required,
            retries=retries,
            retry_delay=retry_delay,
            backoff=backoff,
        )
        PureScheduler.__init__(
            self,
            *jobs_or_sequences,
            jobs_window=jobs_window,
            timeout=timeout,
            shutdown_timeout=shutdown_timeout,
            watch=watch,
            verbose=verbose,
            view=view,
        )
        if scheduler is not None:
            scheduler.add(self)

    def label_text_or_repr(self) -> str:
        return f"Scheduler {self.label_text()!r}"

    def text_label(self) -> str | None:
        return None

    label_text = PureScheduler.label_text

    async def co_run(self) -> bool:
        await self._co_run_pure()
        if self._outcome == "success":
            return True
        if not self.critical or self._outcome == "cancelled":
            return False
        if self._outcome == "timeout":
            raise TimeoutError(
                f"{self.label_text_or_repr()} did not finish within its timeout of "
                f"{self.timeout:g}s"
            )
        failures = self.failures()
        criticals = [job for job in self._failures if job.critical]
        culprit = criticals[0] if criticals else failures[0]
        exc = culprit.raised_exception()
        assert exc is not None
        note = _failure_note(self, culprit, failures)
        if note not in getattr(exc, "__notes__", ()):
            exc.add_note(note)
        raise exc

    __hash__ = AbstractJob.__hash__
    __repr__ = PureScheduler.__repr__

    def cancel(self, reason: str = "cancelled by user") -> bool:
        """Cancel this scheduler's run. Nested in a running scheduler, it is cancelled as a
        job of that run (its jobs are cancelled, the outer run goes on)."""
        owner = self._owner()
        if owner is not None and owner.is_running_now and not self._status.finished:
            return owner._cancel_job(self, str(reason))
        return PureScheduler.cancel(self, reason)


def _failure_note(sched: PureScheduler, culprit: AbstractJob, failures: list[AbstractJob]) -> str:
    others = [job for job in failures if job is not culprit]
    note = f"nbjobs: critical job {culprit.label_text()!r} failed in {sched.label_text_or_repr()}"
    if others:
        listed = "; ".join(
            f"{job.label_text()!r}: {type(job.raised_exception()).__name__}" for job in others[:10]
        )
        note += f"; {len(others)} other failure(s): {listed} (see scheduler.failures())"
    return note
