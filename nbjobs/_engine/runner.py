"""One run of a scheduler: the ``_Runner`` that ``co_run()`` makes, and drops when it ends.

Everything that lives only while a run goes on is here (trio's ``Runner`` model): the
loop and its clock, what makes a job's task, the tasks, the jobs waiting for a window
slot or for their task, the window's counters, the future the run awaits, the plan's
successors. The scheduler (the facade users touch) keeps its configuration, its jobs and
the outcome of its last run.

A run costs O(jobs + edges): each job's count of unfinished requirements is decremented
when a requirement finishes, and a job gets a task only once it is ready and has a window
slot. Bookkeeping happens at the end of each job's own task, synchronously, so there is no
loop that scans pending tasks. Every task a run creates is finished and awaited before
``co_run()`` returns or raises, on every path.

The hot path (``_start``, ``_run_job``, ``_settle``) runs once or twice per job: it reads
the run's state from the runner's slots and keeps what it reads more than once in locals.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from itertools import repeat
from types import CoroutineType
from typing import TYPE_CHECKING, Any, Literal, cast

from .._core import capture as _capture
from .._core.events import EventKind, Subscribers
from .._core.job import (
    DIRECT_AWAIT,
    DIRECT_CALL,
    AbstractJob,
    Job,
    Status,
    _unstarted,
    checked_awaitable,
)
from .._core.protocol import is_scheduler
from .._core.text import user_traceback
from .plan import unlink

if TYPE_CHECKING:
    from .plan import Plan
    from .scheduler import PureScheduler

logger = logging.getLogger("nbjobs")

# the statuses as module constants: the engine compares them once or twice per job, and an
# Enum class attribute lookup costs several times a global's
_IDLE = Status.IDLE
_WAITING = Status.WAITING
_RUNNING = Status.RUNNING
_SUCCEEDED = Status.SUCCEEDED
_FAILED = Status.FAILED
_CANCELLED = Status.CANCELLED


class _Runner:
    """The state of one run of ``sched``, and the code that moves it on.

    Made by ``PureScheduler._co_run_pure()`` once the plan is known, dropped when the run
    has wound down. Slots, each read by the hot path as one attribute lookup, as the
    scheduler's attributes were before; what the run copies from the scheduler
    (``window``, ``counts``, ``verbose``, ``batch``) it copies once at the start.
    """

    __slots__ = (
        "active",
        "batch",
        "burst",
        "cancel_reasons",
        "clock",
        "closers",
        "closing",
        "context",
        "counts",
        "deferred",
        "done",
        "finite_left",
        "has_finite",
        "left",
        "loop",
        "new_task",
        "sched",
        "settling",
        "successors",
        "tasks",
        "thread",
        "todo",
        "verbose",
        "waiting",
        "window",
    )

    def __init__(self, sched: PureScheduler, loop: asyncio.AbstractEventLoop) -> None:
        self.sched = sched
        self.loop = loop
        #: the thread of the loop: output written from another thread reaches views there
        self.thread = threading.get_ident()
        # the loop's clock; time.monotonic() itself when that is what loop.time() calls,
        # saving a Python call per timestamp (two or three per job)
        self.clock: Callable[[], float] = (
            time.monotonic if type(loop).time is asyncio.BaseEventLoop.time else loop.time
        )
        # what makes a job's task, called as (coroutine, loop=, context=): the Task class
        # itself when that is all loop.create_task() would do with it (a standard loop,
        # no task factory), three Python calls less per job; else loop.create_task()
        self.new_task: Callable[..., asyncio.Task[None]] = (
            asyncio.tasks.Task
            if type(loop).create_task is asyncio.BaseEventLoop.create_task
            and loop.get_task_factory() is None
            else _loop_task
        )
        # jobs run in copies of this context, not of whichever job's task started them
        self.context = contextvars.copy_context()
        #: what the run's jobs opened for the run's length (see ``at_run_end``), by key
        self.closers: dict[object, Callable[[], Awaitable[None]]] = {}
        #: set when the run ends (see ``finish``): co_run() awaits it
        self.done: asyncio.Future[None] = loop.create_future()
        # 0 is no limit too, as in asynciojobs (validate() checked the value)
        self.window = sched.jobs_window or None
        #: the scheduler's counts per status (the same dict), kept up to date per job
        self.counts = sched._counts
        self.verbose = sched.verbose
        #: at most this many tasks created by one event, or per loop iteration (see _start)
        self.batch: int = sched.START_BATCH
        #: the task of every job that runs
        self.tasks: dict[AbstractJob, asyncio.Task[None]] = {}
        #: ready jobs that wait for a window slot, in the order they became ready
        self.waiting: deque[AbstractJob] = deque()
        #: started jobs whose task is created on a later loop iteration (see _start)
        self.deferred: deque[AbstractJob] = deque()
        #: jobs that ended without a task, to settle in order (see drain_settling)
        self.settling: deque[AbstractJob] = deque()
        #: the successors of the jobs of this run (see plan.link)
        self.successors: list[AbstractJob] = []
        #: the jobs of this run's plan
        self.todo: list[AbstractJob] = []
        #: why a job was asked to cancel, until its task says it was cancelled
        self.cancel_reasons: dict[AbstractJob, str] = {}
        #: jobs running (each holds a window slot)
        self.active = 0
        #: tasks created since the last job ended (see _start)
        self.burst = 0
        #: jobs of the plan not settled yet, and those among them that are not forever
        self.left = 0
        self.finite_left = 0
        self.has_finite = False
        #: the run is ending: nothing starts any more
        self.closing = False

    # ---- the run, from start to end ------------------------------------------------------
    def start(self, plan: Plan) -> None:
        todo, roots, finite, self.successors = plan
        self.todo = todo
        # the time the run's first jobs are ready, start, or wait for a slot
        now = self.clock()
        sched = self.sched
        if self.counts[_IDLE] != len(sched._jobs):
            # some jobs ran before (an idle job never started: only a reset makes a job
            # idle again, and it forgets the start): forget what did not succeed
            for job in todo:
                if job._status is not _IDLE or job._started:
                    job._reset_state(now)
        self.left = len(todo)
        self.finite_left = finite
        self.has_finite = finite > 0
        if not todo:
            self.finish("success")
            return
        window = self.window
        if window is None or len(roots) <= window:
            for job in roots:
                self._make_ready(job, now)
        else:
            # More jobs ready at once than the window holds (100k independent jobs and a
            # window of 100): the ones beyond it wait, marked here with one update of the
            # counts rather than one each.
            waiting = self.waiting
            emit = Subscribers.statuses > 0
            queued = 0
            for job in roots:
                if self.active >= window and job._status is _IDLE and not job.data_required:
                    job.ready_time = now
                    job._status = _WAITING
                    waiting.append(job)
                    queued += 1
                    if emit:
                        job._emit(EventKind.STATUS, now)
                else:
                    self._make_ready(job, now)
            counts = self.counts
            counts[_IDLE] -= queued
            counts[_WAITING] += queued
        self.drain_settling(now)

    def finish(self, outcome: str, reason: str | None = None) -> None:
        """End the run (the first call wins)."""
        sched = self.sched
        if self.closing or sched._outcome is not None:
            return  # this run ends already, or ended (a late call from another thread)
        sched._outcome = outcome
        sched._outcome_reason = reason or outcome
        self.closing = True
        fut = self.done
        if not fut.done():
            fut.set_result(None)

    # ---- the hot path ------------------------------------------------------------------
    def _make_ready(self, job: AbstractJob, now: float) -> None:
        """All of ``job``'s requirements ended (at ``now``): start it, queue it, or skip it."""
        if self.closing:
            return
        if job._status is _CANCELLED:
            # cancelled before it was ready: it ends now, in order
            self.settling.append(job)
            return
        if job.data_required:
            for producer in job.data_required:
                if producer._status is not _SUCCEEDED:
                    job._mark_skipped(
                        now,
                        f"needs the result of {producer.label_text()!r}, "
                        f"which {_ended_how(producer)}",
                    )
                    self.settling.append(job)
                    return
        window = self.window
        if window is not None and self.active >= window:
            # the job waits for a slot: AbstractJob._set_status inline, once per job
            # beyond the window
            job.ready_time = now
            old = job._status
            job._status = _WAITING
            counts = self.counts
            counts[old] -= 1
            counts[_WAITING] += 1
            if Subscribers.statuses:
                job._emit(EventKind.STATUS, now)
            self.waiting.append(job)
        else:
            self._start(job, now)

    def _start(self, job: AbstractJob, now: float) -> None:
        """Start ``job``: it takes its window slot and is RUNNING from ``now`` on (the
        caller's clock reading: a job started as another one ends starts when it ends).

        Its task runs :meth:`_run_job` in a copy of the run's context. No done callback:
        the task does the job's bookkeeping when the body ends (one event-loop handle
        less per job). One event (the run's start, a job's end) creates at most
        ``batch`` tasks (``PureScheduler.START_BATCH``): the rest of a burst of ready jobs
        (100k independent jobs, the children of a fan-out) gets its tasks over the next
        loop iterations, a batch per iteration, in order, instead of piling up every task
        and its first step before any of them runs; in a burst this is both faster and
        much smaller in memory. A job's end resets the count: in a chain or a layered
        graph each end starts a few jobs, which never wait for a batch. A task cancelled
        before its first step never runs ``_run_job``: the paths that cancel tasks catch
        up on it (:meth:`cancel_job`, :meth:`wind_down`).
        """
        self.active += 1
        job._started = True
        job.start_time = now
        if job.ready_time is None:
            job.ready_time = now
        old = job._status
        job._status = _RUNNING
        counts = self.counts
        counts[old] -= 1
        counts[_RUNNING] += 1
        if Subscribers.statuses:
            job._emit(EventKind.STATUS, now)
        deferred = self.deferred
        if deferred or self.burst >= self.batch:
            if not deferred:
                self.loop.call_soon(self._start_deferred)
            deferred.append(job)
            return
        self.burst += 1
        self.tasks[job] = self.new_task(
            self._run_job(job), loop=self.loop, context=self.context.copy()
        )

    def _start_deferred(self) -> None:
        """The next batch of the started jobs that have no task yet."""
        self.burst = 0
        deferred = self.deferred
        if self.closing or not deferred:
            return  # wind_down accounts for them
        loop = self.loop
        context = self.context
        tasks = self.tasks
        run_job = self._run_job
        batch = min(len(deferred), self.batch)
        self.burst = batch
        new_task = self.new_task
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
                direct = job._direct
                if direct == DIRECT_CALL:
                    # Job(async_fn, *args): Job._body()'s usual case, without two calls
                    fn = job.corun  # type: ignore[attr-defined]
                    awaitable = fn(*job._args)  # type: ignore[attr-defined]
                    if type(awaitable) is not CoroutineType:
                        awaitable = checked_awaitable(fn, awaitable)
                    result = await awaitable
                elif direct == DIRECT_AWAIT and not job._consumed:
                    # Job(coroutine): Job._body()'s one-shot case, without three calls
                    job._consumed = True
                    coro = job.corun  # type: ignore[attr-defined]
                    if _unstarted:  # it no longer waits to be closed (see job._unstarted)
                        _unstarted.discard(coro)
                    result = await coro
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
            now = self.clock()
            job._mark_failed(now, exc)
            self._job_released(job, now)
        except BaseException:
            # KeyboardInterrupt or SystemExit from the job's synchronous step: it leaves
            # the loop at once, and the run is being unwound
            current_job.set(None)
            task = asyncio.current_task()
            if task is not None:
                task.add_done_callback(_retrieve)
            now = self.clock()
            job._mark_cancelled(now, "interrupted")
            self._job_released(job, now)
            raise
        else:
            if Subscribers.active or self.verbose:
                # what follows may reach views and logs, and none of it is the job's output;
                # with neither, nothing can write before the task ends (setting a context
                # variable copies part of the context, a cost per job worth saving)
                current_job.set(None)
            now = self.clock()
            if result is not None:
                job._result = result
            job.end_time = now
            old = job._status
            job._status = _SUCCEEDED
            counts = self.counts
            counts[old] -= 1
            counts[_SUCCEEDED] += 1
            if Subscribers.statuses:
                job._emit(EventKind.STATUS, now)
            # _job_released(job, now) for a job that succeeded, inline: once per job
            self.tasks.pop(job, None)
            self.active -= 1
            self.burst = 0  # what this job's end starts is a burst of its own
            if self.closing:
                return
            waiting = self.waiting
            if waiting:
                # _start_waiting(now), inline: with a window, once per job
                window = self.window
                while waiting and (window is None or self.active < window):
                    self._start(waiting.popleft(), now)
            self._settle(job, now)
            if self.settling:
                self.drain_settling(now)

    def _settle(self, job: AbstractJob, now: float) -> None:
        """Count a job that ended at ``now`` and make its successors ready when it was
        their last unfinished requirement."""
        self.left -= 1
        if not job.forever:
            self.finite_left -= 1
        n = job._nsucc
        if n:
            window = self.window
            if n == 1:
                # a lone successor, held by the job (see plan.link): let go of it, so
                # that no cycle of jobs outlives the run
                following: Any = (job._succ_end,)
                job._succ_end = 0
            else:
                end = job._succ_end
                following = self.successors[end - n : end]
            queued = 0
            for nxt in following:
                count = nxt._pending - 1
                nxt._pending = count
                if count:
                    continue
                if nxt._status is not _IDLE or nxt.data_required:
                    self._make_ready(nxt, now)
                elif window is None or self.active < window:
                    self._start(nxt, now)  # _make_ready's usual outcome, without the detour
                elif not self.closing:
                    # _make_ready's waiting branch, inline: a job ending in a fan-out makes
                    # thousands of jobs ready at once, and they share one update of the
                    # counts (brought up to date before views hear)
                    nxt.ready_time = now
                    nxt._status = _WAITING
                    self.waiting.append(nxt)
                    queued += 1
                    if Subscribers.statuses:
                        counts = self.counts
                        counts[_IDLE] -= queued
                        counts[_WAITING] += queued
                        queued = 0
                        nxt._emit(EventKind.STATUS, now)
            if queued:
                counts = self.counts
                counts[_IDLE] -= queued
                counts[_WAITING] += queued
        if self.finite_left == 0 and (self.has_finite or self.left == 0):
            self.finish("success")

    # ---- jobs that end otherwise ---------------------------------------------------------
    def _job_cancelled(self, job: AbstractJob) -> None:
        reason = self.cancel_reasons.pop(job, None)
        now = self.clock()
        job._mark_cancelled(now, reason or self.sched._outcome_reason or "cancelled")
        self._job_released(job, now)

    def _job_released(self, job: AbstractJob, now: float) -> None:
        """A started job ended at ``now``: free its slot, record a failure, release what
        follows (which is ready, or starts, at that same time)."""
        self.tasks.pop(job, None)
        self.active -= 1
        self.burst = 0  # what this job's end starts is a burst of its own
        status = job._status
        if status is _FAILED:
            # every failure is kept, even one that ends while the run winds down
            self.sched._failures.append(job)
        if self.closing:
            return
        if status is _FAILED and job.critical:
            self.finish("critical", f"critical job {job.label_text()!r} failed")
            return
        if self.waiting:
            self._start_waiting(now)
        self._settle(job, now)
        if self.settling:
            self.drain_settling(now)

    def _start_waiting(self, now: float) -> None:
        """Start the jobs that wait for a window slot, as far as slots are free: they go
        before the ones the job that freed a slot releases, being ready before them."""
        waiting = self.waiting
        window = self.window
        while waiting and (window is None or self.active < window):
            self._start(waiting.popleft(), now)

    def _cancelled_before_start(self, job: AbstractJob, task: asyncio.Task[Any]) -> None:
        """Done callback of a task cancelled one job at a time: if it was cancelled before
        its first step, :meth:`_run_job` never ran, so its bookkeeping happens here."""
        if job._status is _RUNNING and self.tasks.get(job) is task:
            self._job_cancelled(job)

    async def _attempts(self, job: AbstractJob) -> Any:
        """A job with a timeout per attempt and/or retries."""
        delay = job.retry_delay
        while True:
            job.attempts += 1
            try:
                return await _attempt(job)
            except Exception as exc:
                if job.attempts > job.retries or self.closing:
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

    def drain_settling(self, now: float | None = None) -> None:
        """Settle the jobs that ended without a task (skipped, cancelled before they
        started), at ``now`` (by default, the clock's time): a loop, not recursion, so
        that a chain of 100k skipped jobs does not overflow the stack."""
        settling = self.settling
        if now is None:
            now = self.clock()
        while settling and not self.closing:
            self._settle(settling.popleft(), now)
        settling.clear()

    def cancel_job(self, job: AbstractJob, reason: str) -> bool:
        """Cancel one job of this run (``job.cancel()``); from any thread."""
        loop = self.loop
        if self.closing:
            return False
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            loop.call_soon_threadsafe(self.cancel_job, job, reason)
            return True
        status = job.status
        if status is Status.RUNNING:
            task = self.tasks.get(job)
            if task is None:
                if job not in self.deferred:
                    return False
                # started, but its task is not created yet
                self.deferred.remove(job)
                self.cancel_reasons[job] = reason
                self._job_cancelled(job)
                return True
            self.cancel_reasons[job] = reason
            task.cancel(reason)
            task.add_done_callback(functools.partial(self._cancelled_before_start, job))
            return True
        if status is Status.WAITING:
            self.waiting.remove(job)
            job._mark_cancelled(loop.time(), reason)
            self.settling.append(job)
            self.drain_settling()
            return True
        if status is Status.IDLE:
            # it ends when its requirements have ended, so the order still holds
            job._mark_cancelled(loop.time(), reason)
            return True
        return False

    # ---- the end ---------------------------------------------------------------------------
    async def wind_down(self) -> None:
        """Cancel what still runs, await every task, mark what never started, shut down."""
        sched = self.sched
        self.closing = True
        reason = self._end_reason()
        tasks = list(self.tasks.items())
        reasons = self.cancel_reasons
        for job, task in tasks:
            if not task.done():
                job_reason = (
                    "forever job stopped at the end of the run"
                    if (job.forever and sched._outcome == "success")
                    else reason
                )
                reasons[job] = job_reason
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
        now = self.loop.time()
        for job in self.deferred:
            # started, but the run ended before its task was created
            job._mark_cancelled(now, reason)
        self.deferred.clear()
        for job, _ in tasks:
            if job._status is Status.RUNNING:
                # its task was cancelled before its first step: _run_job never ran
                job._mark_cancelled(now, reasons.get(job) or reason)
        reasons.clear()
        counts = self.counts
        unstarted = counts[Status.IDLE] + counts[Status.WAITING]
        for job in sched._jobs if unstarted else ():
            if job.status in (Status.IDLE, Status.WAITING):
                job._mark_skipped(now, f"the run ended first ({reason})")
                if is_scheduler(job):
                    for inner in cast("PureScheduler", job).iterate_jobs(scan_schedulers=True):
                        if inner is not job and inner.status in (Status.IDLE, Status.WAITING):
                            inner._mark_skipped(now, f"the run ended first ({reason})")
        self.waiting.clear()
        self.tasks = {}
        self.active = 0
        if self.left:
            # jobs that did not settle still hold their lone successor (see plan.link)
            unlink(self.todo)
        await sched.co_shutdown()
        if self.closers:
            await self._close_resources()
        if interrupted is not None:
            raise interrupted

    async def _close_resources(self) -> None:
        """Await what the jobs asked to close at the end of the run (``at_run_end``), in
        the order they asked, each within the scheduler's ``shutdown_timeout``."""
        closers, self.closers = list(self.closers.values()), {}
        limit = self.sched.shutdown_timeout
        for closer in closers:
            try:
                await asyncio.wait_for(closer(), limit)
            except TimeoutError:
                logger.warning("%r: a closer did not return within %ss", self.sched, limit)
            except Exception:
                logger.exception("%r: a closer failed at the end of the run", self.sched)

    def _end_reason(self) -> str:
        sched = self.sched
        if sched._outcome == "timeout":
            return f"timeout after {sched.timeout:g}s"
        if sched._outcome == "success":
            return "run finished"
        return sched._outcome_reason or str(sched._outcome)


async def shutdown_jobs(sched: PureScheduler) -> bool:
    """Call the ``co_shutdown()`` of every job of ``sched`` that has one, within its
    ``shutdown_timeout``; True if all returned in time without raising."""
    items = sched._jobs.items()
    # this runs at the end of every run: when no job can have a hook (the usual case),
    # two scans in C say so rather than one Python iteration per job
    kinds = cast("set[type[AbstractJob]]", set(map(type, items)))
    if all(
        t.co_shutdown is _NOOP_SHUTDOWN or t.co_shutdown is _JOB_SHUTDOWN for t in kinds
    ) and not any(map(getattr, items, repeat("coshutdown"), repeat(None))):
        return True
    hooks = []
    for job in items:
        # a hook: a co_shutdown() of its class's own, or a Job's coshutdown=
        hook = type(job).co_shutdown
        if hook is _NOOP_SHUTDOWN or (hook is _JOB_SHUTDOWN and job.coshutdown is None):  # type: ignore[attr-defined]
            continue
        hooks.append(job)
    if not hooks:
        return True
    tasks = [asyncio.ensure_future(_shutdown_one(job)) for job in hooks]
    done, pending = await asyncio.wait(tasks, timeout=sched.shutdown_timeout)
    fine = not pending
    for task in pending:
        task.cancel()
    if pending:
        logger.warning(
            "%r: %d shutdown hook(s) did not return within %ss",
            sched,
            len(pending),
            sched.shutdown_timeout,
        )
        await asyncio.wait(pending)
    for task in done:
        if not task.result():
            fine = False
    return fine


# jobs whose co_shutdown() is one of these do nothing at the end of a run: no task for them
_NOOP_SHUTDOWN = AbstractJob.co_shutdown
_JOB_SHUTDOWN = Job.co_shutdown


async def _shutdown_one(job: AbstractJob) -> bool:
    try:
        await job.co_shutdown()
    except Exception:
        logger.exception("nbjobs: co_shutdown() of %r raised", job)
        return False
    return True


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


def _strip_engine_frames(exc: BaseException) -> None:
    """Drop nbjobs' frames from the head of a job's traceback (``user_traceback``: the
    one rule for which frames are nbjobs' own, which the views' tracebacks follow too).

    They are noise for the user, and they hold the runner and through it the scheduler:
    keeping them would tie the scheduler and its jobs into a reference cycle that only the
    garbage collector frees.
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


def at_run_end(
    key: object, closer: Callable[[], Awaitable[None]]
) -> Literal["added", "known"] | None:
    """Ask the run that the current job belongs to (its outermost running scheduler) to
    await ``closer()`` when it ends, after the shutdown hooks, whatever the outcome.

    For integrations that open something for the jobs of a run, such as a connection
    (``nbjobs.ssh``). ``key`` names what is closed: "added" the first time in a run,
    "known" when that key was already registered in this run (``closer`` is then not
    kept), None when no job of a run is running in this context.
    """
    job = _capture.current_job.get()
    if job is None or job._status is not Status.RUNNING:
        return None
    runner: _Runner | None = None
    owner = job._owner()
    while owner is not None:
        if owner._runner is not None:
            runner = owner._runner
        owner = owner._owner()
    if runner is None or runner.closing:
        return None
    if key in runner.closers:
        return "known"
    runner.closers[key] = closer
    return "added"
