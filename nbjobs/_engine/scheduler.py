"""The engine's facade: ``PureScheduler`` and the nestable ``Scheduler``.

The facade is what users touch: configuration, membership, events, the front-ends of a
run (blocking, background), the outcome of the last run and statistics, and the ways to
reach the views. A run itself is a ``_Runner`` (``runner.py``) made by ``co_run()`` and
dropped when it ends; its plan comes from ``plan.py``, graph queries and edits from
``graphops.py``.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Iterable, Iterator
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from .._core import capture as _capture
from .._core.errors import AlreadyRunningError, OwnershipError
from .._core.events import Callback, Event, EventKind, Subscribers
from .._core.job import _UNSET, AbstractJob, Status, _ids, check_timeout, hold_unstarted
from .._core.jobset import ReadOnlyJobs, SchedulerJobs
from .._core.protocol import RunStatistics, SchedulerView
from .._core.remote import RemoteExecutor, as_executor

if TYPE_CHECKING:
    from .._core.protocol import JobOwner
from .._core.sequence import flatten
from . import executors as _executors  # noqa: F401 (registers the standard executors)
from .blocking import run_blocking
from .graphops import GraphMethods
from .plan import check_window, make_plan, validate
from .runner import _Runner, shutdown_jobs

logger = logging.getLogger("nbjobs")


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


class PureScheduler(GraphMethods, SchedulerView):
    """A set of jobs run so that each starts as soon as its requirements are done.

    Parameters: ``jobs_or_sequences`` (jobs or Sequences, in the order they should start
    when ready together), ``jobs_window`` (at most that many jobs running at once; None,
    or 0 as in asynciojobs, for no limit), ``timeout`` (seconds for the whole run),
    ``shutdown_timeout`` (seconds for the shutdown hooks), ``verbose`` (log each step),
    ``view`` (None = automatic live view in Jupyter and terminals, False = none, "text"
    or "widget"), ``executor`` (where the bodies of its callable jobs run: a
    ``concurrent.futures.Executor`` or an ``nbjobs.dask.DaskExecutor``; a job's own
    ``executor=`` wins).
    """

    #: at most this many job tasks are created by one event, or per event-loop iteration
    #: for the rest of a burst (see ``_Runner._start``). Small enough that a batch's
    #: young objects (task, coroutines, context: a handful per job) stay under the
    #: garbage collector's first threshold (700), which would otherwise traverse the tasks
    #: alive again and again (benchmarks/README.md has the counts)
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
        executor: Any = None,
    ) -> None:
        self._jobs: SchedulerJobs[AbstractJob] = SchedulerJobs(weakref.ref(self))
        if not isinstance(self, AbstractJob):
            # a PureScheduler is never nested, but views treat every scheduler alike
            self.id: int = next(_ids)
            self.label: Any = None
        # jobs per status among this scheduler's own jobs, kept by the jobs themselves:
        # statistics() costs O(schedulers), not O(jobs)
        self._counts: dict[Status, int] = dict.fromkeys(Status, 0)
        self._nested: list[Scheduler] = []
        check_window(jobs_window)
        self.jobs_window = jobs_window
        self.timeout = check_timeout(timeout, "timeout")
        self.shutdown_timeout = check_timeout(shutdown_timeout, "shutdown_timeout")
        self.watch = watch
        self._executor_default: RemoteExecutor | None = None
        #: its jobs were given its executor (or an outer one's) by a run: see place_jobs
        self._placed = False
        self.executor = executor
        self.verbose = bool(verbose)
        self.view = view
        self._subscribers = Subscribers()
        #: the run going on, None between runs
        self._runner: _Runner | None = None
        # the outcome of the last run
        self._outcome: str | None = None
        self._outcome_reason: str | None = None
        self._failures: list[AbstractJob] = []
        self._did_shutdown = False
        self._run_started: float | None = None
        self._run_ended: float | None = None
        # what run() asked for the run it makes
        self._run_view: Any = None
        self._run_in_terminal = False
        self.update(jobs_or_sequences)

    # ---- where bodies run ------------------------------------------------------------------
    @property
    def executor(self) -> Any:
        """Where the callable jobs of this scheduler (and of the schedulers nested in it)
        run their bodies, unless a job has its own ``executor=``: a
        ``concurrent.futures.Executor`` or an ``nbjobs.dask.DaskExecutor``; None for this
        event loop (plain functions in threads)."""
        return self._executor_value

    @executor.setter
    def executor(self, value: Any) -> None:
        if value is None:
            self._executor_default = None
        else:
            remote = as_executor(value, f"{type(self).__name__}(executor=...)")
            remote.check_open(f"{type(self).__name__}(executor=...)")
            self._executor_default = remote
        self._executor_value = value

    def _remote_executor(self) -> RemoteExecutor | None:
        return self._executor_default

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
        if self._runner is not None:
            raise AlreadyRunningError(
                f"cannot add {job!r} to {self.label_text_or_repr()} while it runs; "
                "add jobs before co_run() or after it returned"
            )
        if current is not None:
            if not _never_ran(current):
                raise OwnershipError(
                    f"{job!r} already belongs to {current.label_text_or_repr()}, which has "
                    "run; a job can be in one scheduler only: remove it there first "
                    "(scheduler.remove(job)) or create another job"
                )
            # asynciojobs let a job be added to a second scheduler, and code written for
            # it does so with schedulers it then drops (apssh's tests put a nested
            # scheduler in a throwaway outer one to draw it): the job moves, as long as
            # the one it leaves never ran, so no run's bookkeeping loses a job
            logger.debug(
                "%r moves from %s to %s",
                job,
                current.label_text_or_repr(),
                self.label_text_or_repr(),
            )
            current.remove(job)
        if isinstance(job, PureScheduler) and any(a is job for a in self._ancestors()):
            raise OwnershipError(
                f"cannot add {job!r} into {self.label_text_or_repr()}: it contains it already"
            )
        # the job's _owner_ref is now this scheduler's: weak, so jobs do not keep their
        # scheduler alive, and a scheduler and its jobs are freed by reference counting
        self._jobs.add(job)
        self._counts[job._status] += 1
        if isinstance(job, Scheduler):
            self._nested.append(job)
        self._structure_changed()

    def update(self, jobs: Iterable[Any]) -> PureScheduler:
        """Add a collection of jobs or Sequences; returns self."""
        found = flatten(jobs)
        if self._runner is not None or len(found) < 2:
            for job in found:
                self._add_one(job)
            return self
        # What _add_one does, for the usual job: one in no scheduler yet, and not a
        # scheduler itself. ``Scheduler(*jobs)`` of a million jobs adds them here, with one
        # structure event for all of them.
        jobs_here = self._jobs
        ref = jobs_here.ref
        counts = self._counts
        fresh: list[AbstractJob] = []
        try:
            for job in found:
                if job._owner_ref is None and not isinstance(job, PureScheduler):
                    job._owner_ref = ref  # a job given twice is then here already
                    fresh.append(job)
                    counts[job._status] += 1
                else:
                    if fresh:
                        jobs_here.append_owned(fresh)
                        fresh = []
                    self._add_one(job)  # which may refuse it: those before it stay
        finally:
            if fresh:
                jobs_here.append_owned(fresh)
            self._structure_changed()
        return self

    def remove(self, job: AbstractJob) -> PureScheduler:
        """Remove one job (KeyError if absent); jobs that required it keep the requirement
        until ``sanitize()`` drops it. Returns self."""
        if job not in self._jobs:
            raise KeyError(f"{job!r} is not in {self.label_text_or_repr()}")
        if self._runner is not None:
            raise AlreadyRunningError(f"cannot remove {job!r} while {self!r} runs")
        self._jobs.remove(job)  # which forgets the job's _owner_ref
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

    def _emit_scheduler_event(
        self, kind: EventKind, text: str | None = None, now: float | None = None
    ) -> None:
        if not Subscribers.active:
            return
        event: Event | None = None
        for owner in self._ancestors():
            if owner._subscribers:
                if event is None:
                    runner = self._runner
                    if now is None and runner is not None:
                        now = runner.loop.time()
                    event = Event(kind, self, None, now, None, text=text)
                owner._subscribers.send(event)

    # ---- running ------------------------------------------------------------------------
    def run(self, *, view: Any = None) -> bool:
        """Run and block until done; returns what ``co_run()`` returns.

        Works in a plain script and, in Jupyter, in a cell (the kernel's loop is running).
        In a script, consecutive runs of one thread share one event loop (what a run
        opened, such as a connection, still works in the next run) and the view goes to
        stderr, never stdout. ``view``: None for the automatic live view (in a script:
        only when stderr is a terminal), "text" to show it anyway, False for none.
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
        if self._runner is not None:
            raise AlreadyRunningError(
                f"{self.label_text_or_repr()} is already running; wait for it "
                "(or cancel it) before running it again"
            )
        validate(self)
        plan = make_plan(self)  # raises RequirementError or CycleError before anything runs
        loop = asyncio.get_running_loop()
        runner = self._runner = _Runner(self, loop)
        self._outcome = None
        self._outcome_reason = None
        self._failures = []
        self._did_shutdown = False
        self._run_started = loop.time()
        self._run_ended = None
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
                timer = loop.call_at(self._run_started + self.timeout, runner.finish, "timeout")
            runner.start(plan)
            try:
                await runner.done
            except asyncio.CancelledError as exc:
                reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else None
                runner.finish("cancelled", reason or "cancelled")
                external = exc
            except BaseException as exc:  # KeyboardInterrupt/SystemExit through the loop
                runner.finish("cancelled", "interrupted")
                external = exc
        finally:
            if timer is not None:
                timer.cancel()
            try:
                await runner.wind_down()
            finally:
                self._runner = None
                self._run_ended = loop.time()
                if self._counts[Status.SUCCEEDED] != len(self._jobs):
                    hold_unstarted(self.iterate_jobs(scan_schedulers=True))
                _capture.uninstall()
                why = self.why()
                if self.verbose:
                    logger.info("%r: run ends: %s", self, why)
                self._emit_scheduler_event(EventKind.RUN_FINISHED, why, self._run_ended)
                for end in enders:
                    try:
                        end()
                    except Exception:
                        logger.exception("nbjobs: a run hook failed at the end of the run")
        if external is not None:
            raise external

    def reset(self) -> None:
        """Forget every outcome (nested schedulers too), so the next run runs everything."""
        if self._runner is not None:
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
                from .._views.terminal import attach_to_run
            except ImportError:
                pass
            else:
                end = attach_to_run(self, self.run_view)
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

    def cancel(self, reason: str = "cancelled by user") -> bool:
        """Cancel the whole run: running jobs are cancelled with ``reason``, jobs not
        started are skipped, shutdown hooks run; ``co_run()`` then returns False.

        Safe from any thread. Returns False when the scheduler is not running.
        """
        runner = self._runner
        if runner is None or self._outcome is not None:
            return False
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is runner.loop:
            runner.finish("cancelled", str(reason))
        else:
            runner.loop.call_soon_threadsafe(runner.finish, "cancelled", str(reason))
        return True

    def _cancel_job(self, job: AbstractJob, reason: str) -> bool:
        runner = self._runner
        if runner is None:
            return False
        return runner.cancel_job(job, reason)

    # ---- shutdown -----------------------------------------------------------------------
    async def co_shutdown(self) -> bool | None:
        """Call every job's ``co_shutdown()`` (once per run), within ``shutdown_timeout``.

        Returns True if all returned in time without raising.
        """
        if self._did_shutdown:
            return None  # as asynciojobs: the shutdown of this run happened already
        self._did_shutdown = True
        return await shutdown_jobs(self)

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
        if self._outcome is None and self._runner is not None:
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
            runner = self._runner
            if end is None and runner is not None and not runner.loop.is_closed():
                end = runner.loop.time()
            if end is not None:
                elapsed = end - self._run_started
        return RunStatistics(
            counts=MappingProxyType(counts),
            total=total,
            elapsed=elapsed,
            started=self._run_started is not None,
            finished=self._run_ended is not None and self._runner is None,
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
        return self._runner is not None

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
        executor: Any = None,
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
            executor=executor,
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


def _never_ran(sched: PureScheduler) -> bool:
    """True if neither ``sched`` nor any scheduler around it has started a run."""
    return all(a._run_started is None and a._runner is None for a in sched._ancestors())


def _failure_note(sched: PureScheduler, culprit: AbstractJob, failures: list[AbstractJob]) -> str:
    others = [job for job in failures if job is not culprit]
    note = f"nbjobs: critical job {culprit.label_text()!r} failed in {sched.label_text_or_repr()}"
    if others:
        listed = "; ".join(
            f"{job.label_text()!r}: {type(job.raised_exception()).__name__}" for job in others[:10]
        )
        note += f"; {len(others)} other failure(s): {listed} (see scheduler.failures())"
    return note


if TYPE_CHECKING:
    # the type checker verifies here that a scheduler is what its jobs take it for
    _A_JOB_OWNER: type[JobOwner] = PureScheduler
