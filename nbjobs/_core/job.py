"""Jobs: what a scheduler runs, their states and outcomes.

``AbstractJob`` is asynciojobs' contract (subclass it and define ``async def co_run()``);
``Job`` wraps a coroutine object (one-shot), an async callable or a plain callable (both
re-runnable, so they can be retried and run again). The engine drives a job's state through
the ``_mark_*`` methods; everything else here is read-only for views.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import gc
import inspect
import itertools
import logging
import math
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableSet, Sequence
from gc import get_referents
from types import CoroutineType, FunctionType, TracebackType
from typing import TYPE_CHECKING, Any

from .capture import JobOutput
from .errors import JobNotDoneError, RequirementError
from .events import Event, EventKind, Subscribers
from .jobset import OrderedSet
from .remote import RemoteExecutor, RemoteResult, as_executor
from .text import bounded_repr, format_traceback

if TYPE_CHECKING:
    from .._engine.scheduler import PureScheduler


class Status(enum.Enum):
    """Where a job is in its life: idle -> waiting (for a window slot) -> running -> an end."""

    IDLE = "idle"
    WAITING = "waiting"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    # members are singletons compared by identity: hash them by identity too, in C
    # (Enum's own __hash__ is Python code, and the engine counts statuses in dicts)
    __hash__ = object.__hash__

    @property
    def finished(self) -> bool:
        return self in _FINISHED

    def __str__(self) -> str:
        return self.value


_FINISHED = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.SKIPPED})

_ids = itertools.count(1)
_ID_LOCK = threading.Lock()
_UNSET: Any = object()
#: values of AbstractJob._direct
DIRECT_CALL, DIRECT_AWAIT = 1, 2


_STATUS_EVENT = EventKind.STATUS
_IDLE = Status.IDLE
logger = logging.getLogger("nbjobs")


def check_timeout(value: object, what: str = "timeout") -> float | None:
    """None, or a positive finite number of seconds; anything else is a clear error."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number of seconds or None, got {value!r}")
    if not value > 0 or math.isnan(value):
        raise ValueError(f"{what} must be > 0 seconds (None means no {what}), got {value!r}")
    return float(value)


class JobChain:
    """Jobs in a chain, the base of ``Sequence``: as a requirement, a chain stands for its
    last job. Jobs know chains by this class, since ``sequence.py`` imports this module."""

    jobs: list[AbstractJob]


#: requirements kept in a tuple up to this many (scanning a few is cheap; a dict is bigger)
_FEW = 8


def requirements_of(job: AbstractJob) -> tuple[AbstractJob, ...] | dict[AbstractJob, None]:
    """``job``'s requirements as a collection, whichever form ``_req`` holds them in."""
    req = job._req
    if type(req) is tuple or type(req) is dict:
        return req
    second = job._req2
    if second is None:
        return (req,)
    third = job._req3
    return (req, second) if third is None else (req, second, third)


class Requirements(MutableSet["AbstractJob"]):
    """A job's requirements, in the order they were added: a live view (``job.required``)."""

    __slots__ = ("_job",)

    def __init__(self, job: AbstractJob) -> None:
        self._job = job

    def __contains__(self, item: object) -> bool:
        return item in requirements_of(self._job)

    def __iter__(self) -> Iterator[AbstractJob]:
        return iter(requirements_of(self._job))

    def __len__(self) -> int:
        return len(requirements_of(self._job))

    def add(self, value: AbstractJob) -> None:
        self._job._add_required([value])

    def discard(self, value: AbstractJob) -> None:
        self._job._discard_required(value)

    def update(self, *others: Iterable[AbstractJob]) -> None:
        for other in others:
            self._job._add_required(list(other))

    def copy(self) -> OrderedSet[AbstractJob]:
        return OrderedSet(requirements_of(self._job))

    @classmethod
    def _from_iterable(cls, it: Iterable[Any]) -> OrderedSet[AbstractJob]:  # type: ignore[override]
        return OrderedSet(it)

    def __repr__(self) -> str:
        return f"{{{', '.join(repr(job) for job in requirements_of(self._job))}}}"


_COLLECTIONS = (list, tuple, set, frozenset, OrderedSet, Requirements)


def _flatten_jobs(items: Iterable[Any], into: list[AbstractJob]) -> None:
    for item in items:
        if isinstance(item, AbstractJob):
            into.append(item)
        elif item is None:
            continue
        elif isinstance(item, JobChain):
            if item.jobs:
                into.append(item.jobs[-1])
        elif isinstance(item, _COLLECTIONS):
            _flatten_jobs(item, into)
        else:
            raise TypeError(
                f"a requirement must be a job, a Sequence, None or a collection of those; "
                f"got {item!r}"
            )


class AbstractJob:
    """A unit of work for a scheduler: subclass it and define ``async def co_run()``.

    Optional: ``async def co_shutdown()`` (called when the enclosing scheduler's run ends),
    ``text_label()``, ``graph_label()`` and ``details()`` for views.

    Parameters (keyword-only): ``forever`` (the run does not wait for it and cancels it at
    the end), ``critical`` (its failure aborts the run), ``label``, ``required`` (jobs that
    must finish first), ``scheduler`` (add it there at once), ``timeout`` (seconds per
    attempt: on expiry the attempt fails with ``TimeoutError``), ``retries`` (extra attempts
    after a failure), ``retry_delay`` and ``backoff`` (wait ``retry_delay * backoff**n``
    seconds before attempt n+2).
    """

    # What every run writes on every job lives in slots: storing a new key in an
    # instance's __dict__ costs several times a slot's store and grows the dict (jobs
    # still have a __dict__: subclasses add their own attributes).
    # What every job has lives in slots too: a job that stores nothing else never makes its
    # __dict__, which would cost more than the job itself (subclasses still add attributes).
    __slots__ = (
        "__dict__",
        "__weakref__",
        "_consumed",
        "_direct",
        "_id",
        "_nsucc",
        "_owner_ref",
        "_pending",
        "_plan_token",
        "_req",
        "_req2",
        "_req3",
        "_result",
        "_started",
        "_status",
        "_succ_end",
        "critical",
        "end_time",
        "forever",
        "label",
        "ready_time",
        "start_time",
    )
    _status: Status
    _started: bool
    _result: Any
    _owner_ref: weakref.ref[PureScheduler] | None
    # a one-shot body (a coroutine object) was used: the job cannot run again
    _consumed: bool
    # how the engine may start the body itself, without Job._body() (see _Runner._run_job)
    _direct: int
    _plan_token: object
    # where the job's successors end in its run's list of them, or its lone successor
    # itself (see _engine/plan.link)
    _succ_end: Any
    _nsucc: int
    _pending: int
    # the requirements: up to three held in the job itself (_req, then _req2 and _req3,
    # else None), without a container: one object less per job for each of the garbage
    # collector's passes over a large graph, where most jobs have a few requirements; a
    # tuple of four to eight (far smaller than the smallest dict), a dict beyond
    # (membership in constant time). requirements_of() reads any of these forms.
    # (typed Any: the engine's loops tell the forms apart by type(), which mypy does not follow)
    _req: Any
    _req2: AbstractJob | None
    _req3: AbstractJob | None
    # given when first asked for (see ``id``): an int object per job otherwise
    _id: int
    forever: bool
    critical: bool
    label: Any
    ready_time: float | None
    start_time: float | None
    end_time: float | None

    # Other defaults live on the class: an instance stores only what differs, which keeps
    # a job small (CPython stops sharing dict keys between instances past ~30 attributes)
    # and lets a reset fall back to them by deleting instance attributes.
    _exception: BaseException | None = None
    _traceback: TracebackType | None = None
    _user_scheduler: Any = _UNSET
    _output: JobOutput | None = None
    _sched_id: str | None = None
    _time_limit: float | None = None
    retries = 0
    retry_delay = 0.0
    backoff = 2.0
    #: jobs whose results this job takes as arguments (a subset of ``required``)
    data_required: tuple[AbstractJob, ...] = ()
    cancel_reason: str | None = None
    skip_reason: str | None = None
    attempts = 0
    #: where the body runs, set by place_jobs() before each run: the job's own executor,
    #: else its scheduler's (see Job), else None for this loop
    _run_on: RemoteExecutor | None = None
    #: where the body ran last (an executor's worker), for views; None on this loop
    where: str | None = None

    def __init__(
        self,
        *,
        forever: bool = False,
        critical: bool = True,
        label: Any = None,
        required: Any = None,
        scheduler: PureScheduler | None = None,
        timeout: float | None = None,
        retries: int = 0,
        retry_delay: float = 0.0,
        backoff: float = 2.0,
    ) -> None:
        self._init_slots(forever, critical, label)
        if timeout is not None or retries != 0 or retry_delay != 0.0 or backoff != 2.0:
            self._set_options(timeout, retries, retry_delay, backoff)
        if required is not None:
            self.requires(required)
        if scheduler is not None:
            scheduler.add(self)

    def _init_slots(self, forever: bool, critical: bool, label: Any) -> None:
        self._status = _IDLE
        self._started = self._consumed = False
        self._result = self.ready_time = self.start_time = self.end_time = None
        # the plan of the run of the scheduler that owns the job (see _engine/plan.py):
        # where its successors end in that run's list of them and how many there are, its
        # count of unfinished requirements, which plan
        self._succ_end = 0
        self._nsucc = 0
        self._pending = 0
        self._plan_token = None
        # DIRECT_CALL for Job(async_fn, *args) without keyword or job arguments: the engine
        # then calls ``corun(*_args)`` itself; DIRECT_AWAIT for Job(coroutine): it awaits
        # ``corun`` (see _Runner._run_job); two or three calls less per job
        self._direct = 0
        self._owner_ref = None
        self._req = ()
        self._req2 = self._req3 = None
        self.forever = bool(forever)
        self.critical = bool(critical)
        self.label = label

    def _set_options(
        self, timeout: float | None, retries: int, retry_delay: float, backoff: float
    ) -> None:
        if timeout is not None:
            # kept apart from a plain ``timeout`` attribute: asynciojobs subclasses use
            # that name for their own purposes
            self._time_limit = check_timeout(timeout, "timeout")
        if retries != 0:
            if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
                raise ValueError(f"retries must be an int >= 0, got {retries!r}")
            self.retries = retries
        if retry_delay != 0.0:
            if isinstance(retry_delay, bool) or not isinstance(retry_delay, int | float):
                raise TypeError(f"retry_delay must be a number of seconds, got {retry_delay!r}")
            if not retry_delay >= 0:
                raise ValueError(f"retry_delay must be >= 0 seconds, got {retry_delay!r}")
            self.retry_delay = float(retry_delay)
        if backoff != 2.0:
            if (
                isinstance(backoff, bool)
                or not isinstance(backoff, int | float)
                or not backoff >= 1
            ):
                raise ValueError(f"backoff must be a number >= 1, got {backoff!r}")
            self.backoff = float(backoff)

    @property
    def id(self) -> int:
        """A number that names the job in views, given the first time something asks:
        views number jobs in the order they walk their schedulers."""
        try:
            return self._id
        except AttributeError:
            # under a lock: two threads asking at once must get the same number
            with _ID_LOCK:
                try:
                    return self._id
                except AttributeError:
                    given = self._id = next(_ids)
                    return given

    @id.setter
    def id(self, value: int) -> None:
        self._id = value

    # ---- ownership ---------------------------------------------------------------------
    def _owner(self) -> PureScheduler | None:
        ref = self._owner_ref
        return ref() if ref is not None else None

    @property
    def scheduler(self) -> Any:
        """The scheduler this job belongs to, or None. Held weakly: a job does not keep its
        scheduler alive. Assigning it (as some asynciojobs subclasses do, for their own
        use) stores that value for the subclass and changes nothing for nbjobs."""
        if self._user_scheduler is not _UNSET:
            return self._user_scheduler
        ref = self._owner_ref
        return ref() if ref is not None else None

    @scheduler.setter
    def scheduler(self, value: Any) -> None:
        self._user_scheduler = value

    # ---- state -----------------------------------------------------------------------
    _RESET = ("_exception", "_traceback", "cancel_reason", "skip_reason", "attempts", "where")

    def _reset_state(self, now: float | None = None) -> None:
        attrs = self.__dict__
        for name in self._RESET:
            attrs.pop(name, None)
        self._started = False
        self._result = None
        self.ready_time = self.start_time = self.end_time = None
        if self._output is not None:
            self._output.clear()
        if self._status is not Status.IDLE:
            self._set_status(Status.IDLE, now)

    @property
    def status(self) -> Status:
        return self._status

    @property
    def output(self) -> JobOutput:
        """What the job wrote (stdout, stderr, logging) while it ran."""
        out = self._output
        if out is None:
            out = self._output = JobOutput()
        return out

    @property
    def duration(self) -> float | None:
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time

    @property
    def traceback_text(self) -> str | None:
        """The formatted traceback of the exception this job raised, if any."""
        exc = self._exception
        if exc is None:
            return None
        return format_traceback(exc, self._traceback)

    def _emit(self, kind: EventKind, time: float | None = None, **fields: Any) -> None:
        if not Subscribers.active:
            return
        ref = self._owner_ref
        first = ref() if ref is not None else None
        owner = first
        event: Event | None = None
        status = kind is _STATUS_EVENT
        key = self.id if status else 0  # (a property: read once)
        while owner is not None:
            subscribers = owner._subscribers
            # status watchers (Subscribers.watch_statuses), served here: views watch every status
            # change of every job, several per job and run
            if status and subscribers._watchers:
                for dirty, wake in subscribers._watchers:
                    if not dirty:
                        try:
                            wake()
                        except Exception:
                            logger.exception("nbjobs: a status watcher raised; the run goes on")
                    dirty[key] = self
            if subscribers._callbacks or (not status and subscribers._quiet):
                if event is None:
                    event = Event(kind, first, self, time, self._status, **fields)
                subscribers.send(event)
            owner = owner._owner()

    def _set_status(self, status: Status, now: float | None) -> None:
        # the engine inlines this in its per-job transitions (nbjobs._engine.runner:
        # waiting in _Runner._make_ready, start and _settle; running in _start; succeeded
        # in _run_job): keep them in step
        old = self._status
        self._status = status
        ref = self._owner_ref
        if ref is not None:
            owner = ref()
            if owner is not None:
                counts = owner._counts
                counts[old] -= 1
                counts[status] += 1
        if Subscribers.statuses:
            self._emit(EventKind.STATUS, now)

    def _mark_failed(self, now: float, exc: BaseException) -> None:
        self._exception = exc
        # as it is now: re-raising the exception later (a critical Scheduler does) grows
        # its __traceback__ with the caller's frames
        self._traceback = exc.__traceback__
        self.end_time = now
        self._set_status(Status.FAILED, now)

    def _mark_cancelled(self, now: float, reason: str) -> None:
        self.cancel_reason = reason
        if self._started:
            self.end_time = now
        self._set_status(Status.CANCELLED, now)

    def _mark_skipped(self, now: float, reason: str) -> None:
        self.skip_reason = reason
        self._set_status(Status.SKIPPED, now)

    def _record_output(self, stream: str, text: str) -> None:
        self.output.append(stream, text)
        if not Subscribers.active:
            return
        owner = self._owner()
        runner = owner._runner if owner is not None else None
        if runner is None or runner.thread == threading.get_ident():
            self._emit(EventKind.OUTPUT, None, text=text, stream=stream)
            return
        # written from a worker thread (a sync job): views live on the loop's thread
        loop = runner.loop
        if not loop.is_closed():
            emit = functools.partial(self._emit, EventKind.OUTPUT, None, text=text, stream=stream)
            loop.call_soon_threadsafe(emit)

    # ---- asynciojobs predicates and accessors ------------------------------------------
    def is_idle(self) -> bool:
        """True until the job's requirements are met (asynciojobs' meaning)."""
        return self._status in (Status.IDLE, Status.SKIPPED) or (
            self._status is Status.CANCELLED and self.ready_time is None
        )

    def is_scheduled(self) -> bool:
        """True once its requirements are met (it may still wait for a window slot)."""
        return not self.is_idle()

    def is_running(self) -> bool:
        """True once it got a window slot and started; stays True when it is done."""
        return self._started

    def is_done(self) -> bool:
        """True when it completed, successfully or with an exception."""
        return self._status in (Status.SUCCEEDED, Status.FAILED)

    def raised_exception(self) -> BaseException | None:
        """The exception it raised, or None."""
        return self._exception

    def is_critical(self) -> bool:
        return self.critical

    def result(self) -> Any:
        """The value ``co_run()`` returned; None if it raised (as asynciojobs).

        Raises JobNotDoneError (a ValueError) when the job has not completed.
        """
        if self._status is Status.SUCCEEDED:
            result = self._result
            if isinstance(result, RemoteResult):
                # it stayed where it was made: fetched once, on demand
                result = self._result = result.fetch()
            return result
        if self._status is Status.FAILED:
            return None
        extra = ""
        if self.cancel_reason:
            extra = f" (cancelled: {self.cancel_reason})"
        elif self.skip_reason:
            extra = f" (skipped: {self.skip_reason})"
        raise JobNotDoneError(
            f"{self!r} has not completed, its status is {self._status.value}{extra}; "
            "check job.is_done() or job.status before asking for its result"
        )

    # ---- requirements ------------------------------------------------------------------
    def requires(self, *requirements: Any, remove: bool = False) -> AbstractJob:
        """Add (or with ``remove=True`` drop) requirements; nested collections are fine.

        Returns self, for chaining. Removing a requirement that is not there is a KeyError.
        """
        found: list[AbstractJob] = []
        _flatten_jobs(requirements, found)
        if self in found:
            self._refuse_itself()
        if remove:
            for job in found:
                if job in self.data_required:
                    raise RequirementError(
                        f"{self!r} takes the result of {job!r} as an argument: that "
                        "requirement cannot be removed"
                    )
                if job not in requirements_of(self):
                    raise KeyError(job)
                self._discard_required(job)
        elif found:
            self._add_required(found)
        owner = self._owner()
        if found and owner is not None:
            owner._structure_changed()
        return self

    @property
    def required(self) -> Requirements:
        """The jobs that must finish before this one: a live, ordered set."""
        return Requirements(self)

    @required.setter
    def required(self, jobs: Iterable[AbstractJob]) -> None:
        # asynciojobs subclasses may assign the attribute; keep its meaning
        self._store_required(())
        self._add_required(list(jobs))

    def _init_required(self, required: Any) -> None:
        """``requires(required)`` for a new job: in no scheduler, no requirements yet."""
        found: list[AbstractJob] = []
        if isinstance(required, AbstractJob):
            if required is self:
                self._refuse_itself()
            self._req = required
            return
        if type(required) is list or type(required) is tuple:
            # the usual forms, straight into _req: one job, or a few distinct jobs
            n = len(required)
            if n == 1:
                only = required[0]
                if isinstance(only, AbstractJob) and only is not self:
                    self._req = only
                    return
            elif n == 2:
                first, second = required
                if (
                    isinstance(first, AbstractJob)
                    and isinstance(second, AbstractJob)
                    and first is not second
                    and self is not first
                    and self is not second
                ):
                    self._req, self._req2 = first, second
                    return
            elif n == 3:
                first, second, third = required
                if (
                    isinstance(first, AbstractJob)
                    and isinstance(second, AbstractJob)
                    and isinstance(third, AbstractJob)
                    and first is not second
                    and first is not third
                    and second is not third
                    and self is not first
                    and self is not second
                    and self is not third
                ):
                    self._req, self._req2, self._req3 = first, second, third
                    return
            elif n <= _FEW:
                for item in required:
                    if not isinstance(item, AbstractJob):
                        break
                else:
                    if self not in required and len(set(required)) == n:
                        self._req = tuple(required)
                        return
            # the general case: duplicates, nested collections, Sequences, None
            for item in required:
                if not isinstance(item, AbstractJob):
                    found = []
                    _flatten_jobs((required,), found)
                    break
                found.append(item)
        else:
            _flatten_jobs((required,), found)
        if self in found:
            self._refuse_itself()
        if found:
            self._add_required(found)

    def _refuse_itself(self) -> None:
        raise RequirementError(
            f"{self!r} cannot require itself; a job's requirements must be other jobs"
        )

    def _add_required(self, found: list[AbstractJob]) -> None:
        req = self._req
        if type(req) is dict:
            for job in found:
                req[job] = None
            return
        if type(req) is tuple and not req and len(found) == 1:
            self._req = found[0]  # the usual case: one requirement, held alone
            return
        held = requirements_of(self)
        if len(found) > _FEW:
            merged = tuple(dict.fromkeys((*held, *found)))
        else:
            # a few jobs: scans beat building a dict to drop duplicates
            new: list[AbstractJob] = []
            for job in found:
                if job not in held and job not in new:
                    new.append(job)
            if not new:
                return
            merged = (*held, *new)
        self._store_required(merged)

    def _discard_required(self, job: AbstractJob) -> None:
        req = self._req
        if type(req) is dict:
            req.pop(job, None)
            if len(req) <= _FEW:
                self._store_required(tuple(req))
            return
        held = requirements_of(self)
        if job in held:
            self._store_required(tuple(other for other in held if other is not job))

    def _store_required(self, jobs: tuple[AbstractJob, ...]) -> None:
        """Hold ``jobs`` (distinct) as the requirements, in the form for their number."""
        n = len(jobs)
        self._req2 = self._req3 = None
        if n == 0:
            self._req = ()
        elif n <= 3:
            self._req = jobs[0]
            if n > 1:
                self._req2 = jobs[1]
            if n > 2:
                self._req3 = jobs[2]
        else:
            self._req = jobs if n <= _FEW else dict.fromkeys(jobs)

    # ---- what subclasses define ---------------------------------------------------------
    async def co_run(self) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__} must define 'async def co_run(self)', the job's work"
        )

    async def co_shutdown(self) -> Any:
        """Called when the enclosing scheduler's run ends; does nothing by default."""
        return None

    def text_label(self) -> str | None:
        """A one-line description, used when the job has no ``label``."""
        return None

    def graph_label(self) -> str | None:
        """A label for graphs (may hold newlines); defaults to the text label."""
        return None

    def details(self) -> str | None:
        """Extra details for ``list(details=True)``."""
        return None

    def label_text(self) -> str:
        """The label every view shows: ``label``, else ``text_label()``, else the class name."""
        if self.label is not None:
            return str(self.label)
        text = self.text_label()
        if text is not None:
            return str(text)
        return type(self).__name__

    # ---- engine hooks -------------------------------------------------------------------
    def _make_awaitable(self) -> Awaitable[Any]:
        awaitable = self.co_run()
        if not inspect.isawaitable(awaitable):
            raise TypeError(
                f"{type(self).__name__}.co_run() returned {awaitable!r}, not an awaitable: "
                "define it with 'async def co_run(self)'"
            )
        return awaitable

    def cancel(self, reason: str = "cancelled by user") -> bool:
        """Cancel this job in its scheduler's ongoing run (running, waiting or not started).

        Returns False when there is nothing to cancel (no run going on, or already finished).
        The rest of the run goes on; jobs that consume this job's result are skipped.
        """
        owner = self._owner()
        if owner is None or self._status.finished:
            return False
        return owner._cancel_job(self, str(reason))

    def close(self) -> None:
        """Release what the job holds without running it (a coroutine object, say)."""

    # ---- asynciojobs-style text ---------------------------------------------------------
    def repr_id(self) -> str:
        return self._sched_id or "??"

    def repr_short(self) -> str:
        """A 4-sign badge: critical, outcome, life cycle, forever."""
        crit = "⚠" if self.critical else " "
        boom = "★" if self._exception is not None else ("☉" if self._started else " ")
        life = {
            Status.IDLE: "⚐",
            Status.WAITING: "⚑",
            Status.RUNNING: "↺",
        }.get(self._status, "☓")
        forever = "∞" if self.forever else " "
        return f"{crit} {boom} {life} {forever}"

    def repr_main(self) -> str:
        return f"<{type(self).__name__} `{self.label_text()}`>"

    def repr_result(self) -> str:
        st = self._status
        if st is Status.FAILED:
            kind = "CRIT. EXC." if self.critical else "exception"
            exc = self._exception
            return f"!! {kind} => {type(exc).__name__}: {exc} !!"
        if st is Status.SUCCEEDED:
            return f"[[ -> {bounded_repr(self._result, _REPR_MAX)}]]"
        if st is Status.CANCELLED:
            return f"[cancelled: {self.cancel_reason}]"
        if st is Status.SKIPPED:
            return f"[skipped: {self.skip_reason}]"
        return f"[{st.value}]"

    def repr_requires(self) -> str:
        if not self.required:
            return ""
        return "requires={" + ", ".join(req.repr_id() for req in self.required) + "}"

    def __repr__(self) -> str:
        parts = [f"<{type(self).__name__} #{self.id} {self.label_text()!r} {self._status.value}"]
        if self._status is Status.SUCCEEDED:
            parts.append(f"-> {bounded_repr(self._result, _REPR_MAX)}")
        elif self._status is Status.FAILED:
            parts.append(f"!! {type(self._exception).__name__}: {self._exception}")
        elif self._status is Status.CANCELLED:
            parts.append(f"({self.cancel_reason})")
        elif self._status is Status.SKIPPED:
            parts.append(f"({self.skip_reason})")
        if self.required:
            labels = ", ".join(req.label_text() for req in self.required)
            parts.append(f"requires [{labels}]")
        return " ".join(parts) + ">"

    # jobs are compared by identity: two jobs with equal labels are still two jobs
    __hash__ = object.__hash__


#: characters of a result's repr in a job's own repr
_REPR_MAX = 80


#: the last plain function asked about (weakly) and the answer: a graph is usually built
#: in a loop over one function, and inspect's answer takes several calls
_last_function: tuple[weakref.ref[Any], bool] | None = None


def _is_async_callable(fn: Any) -> bool:
    global _last_function
    if type(fn) is FunctionType:
        last = _last_function  # one read: another thread may replace it
        if last is not None and last[0]() is fn:
            return last[1]
        answer = inspect.iscoroutinefunction(fn)
        _last_function = (weakref.ref(fn), answer)
        return answer
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    return call is not None and inspect.iscoroutinefunction(call)


def _described_call(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """What a callable says of one call of it, for labels: ``fn.__nbjobs_label__(*args,
    **kwargs)``, given the instance first when ``fn`` is a bound method (integrations such
    as ``nbjobs.ssh`` label ``Job(host.run, "make")`` "host: make" this way); None when
    it says nothing, or fails to."""
    describe = getattr(fn, "__nbjobs_label__", None)
    if describe is None:
        return None
    owner = getattr(fn, "__self__", None)
    try:
        text = describe(owner, *args, **kwargs) if owner is not None else describe(*args, **kwargs)
    except Exception:
        return None
    return text if isinstance(text, str) else None


def _callable_name(fn: Any) -> str:
    for attr in ("__qualname__", "__name__"):
        name = getattr(fn, attr, None)
        if isinstance(name, str):
            return name
    func = getattr(fn, "func", None)  # functools.partial
    if func is not None:
        return _callable_name(func)
    return type(fn).__name__


_NO_KWARGS: dict[str, Any] = {}
_ASYNC_GENERATOR = inspect.CO_ASYNC_GENERATOR
_COROUTINE = inspect.CO_COROUTINE

#: what an argument must be for jobs to be found in it
_MAY_HOLD_JOBS = (AbstractJob, list, tuple, dict)


def _find_job_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[AbstractJob]:
    """Jobs given as arguments, directly or one level deep inside a list/tuple/dict."""
    found: dict[AbstractJob, None] = {}
    for value in (*args, *kwargs.values()):
        # no nested recursive function here: it would be a reference cycle (the function
        # and its own cell) left to the garbage collector by every Job
        if isinstance(value, AbstractJob):
            found[value] = None
            continue
        if isinstance(value, list | tuple):
            items: Iterable[Any] = value
        elif isinstance(value, dict):
            items = value.values()
        else:
            continue
        for item in items:
            if isinstance(item, AbstractJob):
                found[item] = None
    return list(found)


def _substitute(value: Any, values: dict[AbstractJob, Any] | None = None, depth: int = 0) -> Any:
    """``value`` with the jobs in it (one level deep in a list, tuple or dict) replaced by
    their results, or by what ``values`` gives for them."""
    if isinstance(value, AbstractJob):
        return value.result() if values is None else values[value]
    if depth == 0 and isinstance(value, list):
        return [_substitute(item, values, 1) for item in value]
    if depth == 0 and isinstance(value, tuple):
        return tuple(_substitute(item, values, 1) for item in value)
    if depth == 0 and isinstance(value, dict):
        return {key: _substitute(item, values, 1) for key, item in value.items()}
    return value


_ONE_SHOT, _ASYNC_FN, _SYNC_FN = 0, 1, 2


def checked_awaitable(fn: Any, value: Any) -> Awaitable[Any]:
    """``value``, which calling the async callable ``fn`` returned, if it is awaitable."""
    if inspect.isawaitable(value):
        return value
    raise TypeError(f"{fn!r} returned {value!r}, not an awaitable")


class Job(AbstractJob):
    """A job made of a coroutine object, an async callable or a plain callable.

    - ``Job(coro(1, 2))``: a coroutine object, awaited once (as in asynciojobs): one-shot,
      so no retries and no re-run once it ran.
    - ``Job(async_fn, 1, 2, key=3)``: calls ``async_fn(1, 2, key=3)`` each time it runs.
    - ``Job(fn, ...)``: a plain callable runs in a worker thread, so it never blocks the loop.

    Arguments that are jobs (also inside a list, tuple or dict, one level deep) become
    requirements and are replaced by those jobs' results when this job starts; if such a
    job did not succeed, this job is skipped. ``coshutdown`` is an optional coroutine
    object or callable run at shutdown. Other keyword arguments are those of AbstractJob.
    """

    coshutdown: Any = None
    #: what ``executor=`` was given (None: the scheduler's, else this loop)
    executor: Any = None
    #: that executor, as nbjobs drives it (a scheduler's default does not replace it)
    _executor: RemoteExecutor | None = None

    __slots__ = ("_args", "_kwargs", "_mode", "corun")
    corun: Any
    _mode: int
    _args: tuple[Any, ...]
    _kwargs: dict[str, Any]

    def __init__(
        self,
        corun: Any,
        *args: Any,
        coshutdown: Any = None,
        forever: bool = False,
        critical: bool = True,
        label: Any = None,
        required: Any = None,
        scheduler: PureScheduler | None = None,
        timeout: float | None = None,
        retries: int = 0,
        retry_delay: float = 0.0,
        backoff: float = 2.0,
        executor: Any = None,
        **kwargs: Any,
    ) -> None:
        self.corun = corun
        self._args = args
        # most jobs have no keyword arguments: share one empty dict, never written
        self._kwargs = kwargs if kwargs else _NO_KWARGS
        try:
            # the two usual cases first, with the checks they need (a graph of a million
            # jobs makes a million of them)
            if type(corun) is CoroutineType:
                if args or kwargs:
                    _reject_coroutine_arguments(corun, args, kwargs)
                if retries:
                    raise TypeError(
                        f"Job({corun!r}, retries={retries!r}): a coroutine object can be "
                        "awaited only once, so it cannot be retried; pass the async function "
                        "and its arguments instead: Job(fn, *args, retries=...)"
                    )
                if corun.cr_running or corun.cr_suspended or len(get_referents(corun)) < 5:
                    # rarely: a coroutine that ran, runs, or may be closed (one that has
                    # not started refers to at least five objects: _is_closed says why)
                    _check_fresh(corun)
                self._mode = _ONE_SHOT
                data: Sequence[AbstractJob] = ()  # (no list per job: most have no data)
            else:
                data = ()
                if kwargs:
                    data = _find_job_args(args, kwargs)
                else:
                    for arg in args:
                        if isinstance(arg, _MAY_HOLD_JOBS):
                            data = _find_job_args(args, kwargs)
                            break
                if type(corun) is FunctionType and corun.__code__.co_flags & _COROUTINE:
                    self._mode = _ASYNC_FN  # an async def function: the usual case
                else:
                    self._mode = self._mode_of(corun, args, kwargs, data, retries)
            if executor is not None:
                self._set_executor(corun, executor)
            if coshutdown is not None:
                if not (inspect.isawaitable(coshutdown) or callable(coshutdown)):
                    raise TypeError(
                        f"coshutdown must be a coroutine object or a callable, got {coshutdown!r}"
                    )
                self.coshutdown = coshutdown
            self._init_slots(forever, critical, label)
            if timeout is not None or retries != 0 or retry_delay != 0.0 or backoff != 2.0:
                self._set_options(timeout, retries, retry_delay, backoff)
            if required is not None:
                self._init_required(required)
            if data:
                self.data_required = tuple(data)
                self.requires(data)
            else:
                self._direct = self._direct_way()
            if scheduler is not None:
                scheduler.add(self)
        except BaseException:
            # a rejected coroutine object would warn "never awaited": close it
            self._close_coroutines()
            raise

    def _direct_way(self) -> int:
        """How the engine may start the body itself, doing inline what ``_body()`` would
        (see ``_Runner._run_job``): never for a body that runs elsewhere, takes other
        jobs' results or is a subclass' own ``co_run()``."""
        if self._own_co_run or self._run_on is not None or self.data_required:
            return 0
        if self._mode == _ASYNC_FN and not self._kwargs:
            return DIRECT_CALL
        if type(self.corun) is CoroutineType:
            return DIRECT_AWAIT
        return 0

    def _set_executor(self, corun: Any, executor: Any) -> None:
        if self._mode == _ONE_SHOT:
            raise TypeError(
                f"Job({corun!r}, executor={executor!r}): a coroutine object is bound to "
                "this process and its event loop, it cannot run on an executor; pass the "
                "function and its arguments instead: Job(fn, *args, executor=...)"
            )
        who = f"Job({_callable_name(corun)})"
        remote = as_executor(executor, who)
        remote.check_open(who)
        self.executor = executor
        self._executor = self._run_on = remote

    def _mode_of(
        self,
        corun: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        data: Sequence[AbstractJob],
        retries: int,
    ) -> int:
        if type(corun) is FunctionType and not corun.__code__.co_flags & _ASYNC_GENERATOR:
            # a plain or async function, the usual case: the answer without inspect's walk
            return _ASYNC_FN if _is_async_callable(corun) else _SYNC_FN
        if inspect.isawaitable(corun):
            if data:
                raise TypeError(
                    f"Job({corun!r}, ...) got jobs as arguments, but a coroutine object's "
                    "arguments are fixed when it is created; pass the function instead: "
                    "Job(fn, other_job, ...) calls fn(other_job.result(), ...) when ready"
                )
            if args or kwargs:
                _reject_coroutine_arguments(corun, args, kwargs)
            if retries:
                raise TypeError(
                    f"Job({corun!r}, retries={retries!r}): an awaitable can be awaited only "
                    "once, so it cannot be retried; pass the async function and its "
                    "arguments instead: Job(fn, *args, retries=...)"
                )
            if inspect.iscoroutine(corun):
                _check_fresh(corun)
            return _ONE_SHOT
        if inspect.isasyncgenfunction(corun) or inspect.isasyncgen(corun):
            raise TypeError(
                f"Job() cannot run an async generator ({corun!r}); wrap it in an "
                "'async def' that iterates it"
            )
        if callable(corun) and not isinstance(corun, AbstractJob):
            return _ASYNC_FN if _is_async_callable(corun) else _SYNC_FN
        raise TypeError(
            f"Job() takes a coroutine object, an async function or a plain callable; "
            f"got {corun!r} of type {type(corun).__name__}"
        )

    def text_label(self) -> str:
        target = self.corun
        if inspect.iscoroutine(target):
            return str(target.__qualname__)
        if self._mode != _ONE_SHOT:
            described = _described_call(target, self._args, self._kwargs)
            return described if described is not None else _callable_name(target)
        return type(target).__name__

    def _body(self) -> Awaitable[Any]:
        """The awaitable for one attempt: the coroutine, or a fresh call."""
        mode = self._mode
        remote = self._run_on
        if remote is not None and mode != _ONE_SHOT:
            return _run_elsewhere(self, remote)
        if mode == _ASYNC_FN and not self.data_required:
            # the usual case first: an async function and its arguments
            kwargs = self._kwargs
            awaitable = self.corun(*self._args, **kwargs) if kwargs else self.corun(*self._args)
            if type(awaitable) is CoroutineType:
                return awaitable
            return checked_awaitable(self.corun, awaitable)
        if mode == _ONE_SHOT:
            if self._consumed:
                raise RuntimeError(f"{self!r}: its coroutine object was already awaited")
            return self._take_coroutine()  # type: ignore[no-any-return]
        args, kwargs = self._args, self._kwargs
        if self.data_required:
            if any(isinstance(job._result, RemoteResult) for job in self.data_required):
                return _run_here_with_remote_inputs(self)
            args = tuple(_substitute(a) for a in args)
            kwargs = {k: _substitute(v) for k, v in kwargs.items()}
        if mode == _ASYNC_FN:
            awaitable = self.corun(*args, **kwargs)
            if not inspect.isawaitable(awaitable):
                raise TypeError(f"{self.corun!r} returned {awaitable!r}, not an awaitable")
            return awaitable
        return _call_in_thread(self.corun, args, kwargs)

    def _take_coroutine(self) -> Any:
        """The one-shot body, which this job cannot run again (the engine inlines this)."""
        self._consumed = True
        _unstarted.discard(self.corun)
        return self.corun

    # True in subclasses that define their own co_run() (as asynciojobs allows)
    _own_co_run = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._own_co_run = cls.co_run is not Job.co_run

    def _make_awaitable(self) -> Awaitable[Any]:
        if self._own_co_run:
            return AbstractJob._make_awaitable(self)  # honour the subclass' co_run()
        return self._body()

    async def co_run(self) -> Any:
        """Run the body once (asynciojobs' entry point)."""
        return await self._body()

    async def co_shutdown(self) -> Any:
        shutdown = self.coshutdown
        if shutdown is None:
            return None
        if inspect.isawaitable(shutdown):
            self.coshutdown = None  # one-shot, like the job's own coroutine
            _unstarted.discard(shutdown)
            return await shutdown
        result = shutdown()
        if inspect.isawaitable(result):
            return await result
        return result

    def _close_coroutines(self) -> None:
        # getattr, not self.__dict__: reading __dict__ makes CPython build a dict object for
        # the instance, which otherwise keeps its attributes in a compact values array
        for obj in (getattr(self, "corun", None), self.coshutdown):
            if inspect.iscoroutine(obj) and inspect.getcoroutinestate(obj) == (
                inspect.CORO_CREATED
            ):
                obj.close()

    def close(self) -> None:
        """Close the coroutine objects this job holds, if they never ran."""
        self._close_coroutines()
        _release_coroutines(self.corun, self.coshutdown)

    def _hold_unstarted(self) -> None:
        """A run ended: keep the coroutine objects it did not start (see _unstarted)."""
        if self._mode == _ONE_SHOT and not self._consumed:
            _unstarted.add(self.corun)
        if type(self.coshutdown) is CoroutineType:
            _unstarted.add(self.coshutdown)

    def __del__(self) -> None:
        # a coroutine object handed to a job that never started it: close it, so that
        # Python does not warn that it was never awaited (its state is on the job)
        try:
            one_shot = self._mode == _ONE_SHOT and not self._consumed
        except AttributeError:  # Job() raised before it was made
            return
        shutdown = self.coshutdown
        if one_shot or shutdown is not None:
            _release_coroutines(self.corun if one_shot else None, shutdown)


def _reject_coroutine_arguments(corun: Any, args: tuple[Any, ...], kwargs: Any) -> None:
    if _find_job_args(args, kwargs):
        raise TypeError(
            f"Job({corun!r}, ...) got jobs as arguments, but a coroutine object's "
            "arguments are fixed when it is created; pass the function instead: "
            "Job(fn, other_job, ...) calls fn(other_job.result(), ...) when ready"
        )
    raise TypeError(
        f"Job({corun!r}, ...) got extra arguments {args!r} {kwargs!r}; they "
        "are for a callable: pass the function, not a coroutine object"
    )


def _check_fresh(coro: Any) -> None:
    """A coroutine object that already started or ended cannot be a job's body."""
    if coro.cr_running or coro.cr_suspended:
        raise TypeError(
            f"Job({coro!r}): this coroutine object is already being awaited elsewhere; "
            "create a fresh one, or pass the async function"
        )
    if _is_closed(coro):
        raise TypeError(
            f"Job({coro!r}): this coroutine object was already awaited or closed; "
            "create a fresh one, or pass the async function"
        )


def _is_closed(coro: Any) -> bool:
    # ``cr_frame`` tells, but for a coroutine that has not run it builds a frame object
    # that then lives as long as the coroutine (as much again as the coroutine itself).
    # A coroutine with a frame to run refers to its function (what the garbage collector
    # sees of it); a closed one does not, and its cr_frame is None without building
    # anything. cr_frame decides whenever the function is not seen. What the collector
    # sees of a closed coroutine is its code, name and qualified name (and the origin
    # tuple when origin tracking is on); of one that has not run, those and its frame's
    # function and code at least: five objects or more say "not closed" at once.
    for ref in gc.get_referents(coro):
        if type(ref) is FunctionType:
            return False
    return coro.cr_frame is None


#: The coroutine objects that a run's jobs did not start (skipped, or the run ended
#: first), held from the run's end until the job starts them or goes away. A one-shot job
#: that never ran would make Python warn "coroutine ... was never awaited" about a
#: coroutine the user handed over to us, whose state is visible on the job:
#: ``Job.__del__`` closes it. A run that failed leaves cycles behind (a stored exception's
#: frames hold the caller's frames, and so the scheduler), which only the garbage collector
#: frees, calling the finalizers of what it frees in no set order. Held here, such a
#: coroutine is never garbage while its job is, and its job's finalizer closes it first.
#: Before a run no such cycle comes from nbjobs, so jobs are not held then: a set entry
#: per job of every graph would cost as much memory as a third of the job itself.
_unstarted: set[Any] = set()


def hold_unstarted(jobs: Iterable[AbstractJob]) -> None:
    """A run of these jobs ended: hold the coroutine objects it did not start."""
    for job in jobs:
        if isinstance(job, Job):
            job._hold_unstarted()


def _release_coroutines(corun: Any, coshutdown: Any) -> None:
    for obj in (corun, coshutdown):
        if type(obj) is CoroutineType:
            if _unstarted:
                _unstarted.discard(obj)
            if inspect.getcoroutinestate(obj) == inspect.CORO_CREATED:
                obj.close()


async def _call_in_thread(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Any) -> Any:
    result = await asyncio.to_thread(fn, *args, **kwargs)
    if inspect.isawaitable(result):
        return await result
    return result


# ---- bodies that run elsewhere, or take results that stayed elsewhere ----------------------
async def _inputs(
    job: Job, remote: RemoteExecutor | None
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``job``'s arguments with its producers replaced: by what stays where it is when the
    executor takes it as it is, else by the value (fetched without blocking the loop)."""
    values: dict[AbstractJob, Any] = {}
    for producer in job.data_required:
        result = producer._result
        if isinstance(result, RemoteResult):
            if remote is not None and remote.accepts(result):
                values[producer] = result.ref()
            else:
                values[producer] = await result.fetch_async()
        else:
            values[producer] = producer.result()
    args = tuple(_substitute(a, values) for a in job._args)
    kwargs = {k: _substitute(v, values) for k, v in job._kwargs.items()}
    return args, kwargs


def _inputs_used(job: Job) -> None:
    """``job`` succeeded: the results it consumed may be released where they stayed."""
    for producer in job.data_required:
        result = producer._result
        if isinstance(result, RemoteResult):
            remote = producer._run_on
            result.used_by(job, keep=bool(getattr(remote, "keep_results", False)))


async def _run_elsewhere(job: Job, remote: RemoteExecutor) -> Any:
    if job.data_required:
        args, kwargs = await _inputs(job, remote)
    else:
        args, kwargs = job._args, job._kwargs
    result = await remote.run_body(job, job.corun, args, kwargs)
    if job.data_required:
        _inputs_used(job)
    return result


async def _run_here_with_remote_inputs(job: Job) -> Any:
    args, kwargs = await _inputs(job, None)
    if job._mode == _ASYNC_FN:
        awaitable = job.corun(*args, **kwargs)
        if not inspect.isawaitable(awaitable):
            raise TypeError(f"{job.corun!r} returned {awaitable!r}, not an awaitable")
        result = await awaitable
    else:
        result = await _call_in_thread(job.corun, args, kwargs)
    _inputs_used(job)
    return result
