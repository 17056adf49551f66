"""Before a run: what can be wrong besides the graph (``validate``), and the plan of the
run (``make_plan``): which jobs run, which are ready at once, and the successors of each,
checked for missing requirements and cycles before anything starts."""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from .._core import graph as _graph
from .._core.errors import AlreadyRunningError, NotRerunnableError, RequirementError
from .._core.job import _ONE_SHOT, AbstractJob, Job, Status, check_timeout, requirements_of

if TYPE_CHECKING:
    from .scheduler import PureScheduler

_SUCCEEDED = Status.SUCCEEDED


class Plan(NamedTuple):
    """What ``make_plan()`` gives; made once per run."""

    #: the jobs to run, in insertion order
    todo: list[AbstractJob]
    #: the jobs among them that are ready at once
    roots: list[AbstractJob]
    #: how many of them are not forever
    finite: int
    #: the successors of every job, in one list (see ``link``)
    successors: list[AbstractJob]


def check_window(value: object) -> int | None:
    """The window as the runner uses it: None for no limit. 0 also means no limit, as in
    asynciojobs (whose users, apssh's command-line tools among them, set it by default)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"jobs_window must be an int or None, got {value!r}")
    if value < 0:
        raise ValueError(
            f"jobs_window must be >= 1, or None (or 0, as in asynciojobs) for no limit; "
            f"got {value!r}"
        )
    return value or None


def validate(sched: PureScheduler) -> None:
    """What can be wrong besides the graph itself (``make_plan`` checks requirements and
    cycles), checked before anything runs, nested schedulers included."""
    check_window(sched.jobs_window)
    check_timeout(sched.timeout, "timeout")
    place_jobs(sched)
    for nested in sched._nested:
        if nested._status is not _SUCCEEDED:
            if nested._runner is not None:
                raise AlreadyRunningError(
                    f"{nested.label_text_or_repr()} is running on its own; wait for it "
                    f"(or cancel it) before running {sched.label_text_or_repr()}"
                )
            validate(nested)
            unlink(make_plan(nested).todo)  # a check: its run makes its own plan
    spent = list(spent_jobs(sched))
    if spent:
        shown = ", ".join(repr(job) for job in spent[:10])
        more = f" and {len(spent) - 10} more" if len(spent) > 10 else ""
        raise NotRerunnableError(
            f"cannot run {sched.label_text_or_repr()} again: these jobs did not succeed "
            f"and their coroutine object was already used: {shown}{more}; build them "
            "from an async function (Job(fn, *args)) so they can run again, or create "
            "new jobs",
            spent,
        )


def place_jobs(sched: PureScheduler) -> None:
    """Where each callable job of ``sched`` runs: its own executor, else the nearest
    scheduler's (``executor=``), else this loop; an executor that is closed is an error
    now, before anything runs. Only schedulers that have or had an executor cost a pass
    over their jobs."""
    remote = None
    for owner in sched._ancestors():
        if owner.executor is not None:
            remote = owner._remote_executor()
            break
    if remote is None and not sched._placed:
        if any(map(_run_on, sched._jobs.items())):
            for job in sched._jobs:
                if job._run_on is not None:
                    job._run_on.check_open(job)
        return
    sched._placed = remote is not None
    for job in sched._jobs:
        if isinstance(job, Job) and job._mode != _ONE_SHOT and not job._own_co_run:
            own = job._executor
            job._run_on = own if own is not None else remote
            # the engine's direct call runs a body here: not for a job placed elsewhere
            job._direct = job._direct_way()
        if job._run_on is not None:
            job._run_on.check_open(job)


_run_on = operator.attrgetter("_run_on")

# read over every job before each run, in C (see spent_jobs)
_is_consumed = operator.attrgetter("_consumed")


def spent_jobs(sched: PureScheduler) -> Iterator[AbstractJob]:
    """Jobs that must run again but cannot: one-shot jobs whose coroutine was used."""
    # this runs before every run: the usual answer (none) comes from a scan in C
    if any(map(_is_consumed, sched._jobs.items())):
        for job in sched._jobs:
            if job._consumed and job._status is not _SUCCEEDED:
                yield job
    for nested in sched._nested:
        if nested._status is not _SUCCEEDED:
            yield from spent_jobs(nested)


def make_plan(sched: PureScheduler) -> Plan:
    """One pass over the graph: the jobs that run, the jobs ready at once, how many
    are not forever, and the successors of every job in this run, all in one flat
    list (see :func:`link`); on each job that runs, its count of unfinished
    requirements (``_pending``) and of successors (``_nsucc``): slots, not dicts,
    since the run reads and updates them once per edge.

    Jobs that succeeded in an earlier run are done already; the rest run (again).
    A requirement outside the scheduler raises RequirementError, a cycle CycleError,
    before anything starts. When every job comes after its requirements in insertion
    order (the usual way to build a graph) this pass proves the graph acyclic too;
    otherwise :func:`_plan_any_order` runs Kahn's algorithm.
    """
    jobs = sched._jobs.items()
    # a job is in the scheduler when its _owner_ref is the scheduler's (see SchedulerJobs)
    here = sched._jobs.ref
    token = object()  # marks the jobs of this plan
    todo: list[AbstractJob] = []
    roots: list[AbstractJob] = []
    finite = 0
    edges = 0
    in_order = True
    for job in jobs:
        required = job._req
        inline = type(required) is not tuple and type(required) is not dict
        if inline and job._req2 is None:
            # one requirement, held alone (see AbstractJob._req): the usual case, inline
            if job._status is _SUCCEEDED:
                if required._owner_ref is not here:
                    _missing_requirement(sched, job, required)
                continue
            todo.append(job)
            job._nsucc = 0
            count = 0
            if required._plan_token is token:
                required._nsucc += 1
                count = 1
            elif required._owner_ref is not here:
                _missing_requirement(sched, job, required)
            elif required._status is not _SUCCEEDED:
                in_order = False  # it comes later
        else:
            if inline:  # two or three, held in the job
                third = job._req3
                second = job._req2
                required = (required, second) if third is None else (required, second, third)
            if job._status is _SUCCEEDED:
                for req in required:
                    if req._owner_ref is not here:
                        _missing_requirement(sched, job, req)
                continue
            todo.append(job)
            job._nsucc = 0
            count = 0
            for req in required:
                if req._plan_token is token:
                    req._nsucc += 1
                    count += 1
                elif req._owner_ref is not here:
                    _missing_requirement(sched, job, req)
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
        return _plan_any_order(todo, finite)
    return Plan(todo, roots, finite, link(todo, token, edges, True))


def _preds(job: AbstractJob) -> Any:
    return job.required


def _plan_any_order(todo: list[AbstractJob], finite: int) -> Plan:
    token = object()
    for job in todo:
        job._nsucc = 0
        job._plan_token = token
    roots: list[AbstractJob] = []
    edges = 0
    for job in todo:
        count = 0
        for req in requirements_of(job):
            if req._plan_token is token:
                req._nsucc += 1
                count += 1
        job._pending = count
        edges += count
        if not count:
            roots.append(job)
    successors = link(todo, token, edges, False)
    left = {job: job._pending for job in todo}
    ready = deque(roots)
    seen = 0
    while ready:
        job = ready.popleft()
        seen += 1
        for nxt in successors_of(job, successors):
            left[nxt] -= 1
            if not left[nxt]:
                ready.append(nxt)
    if seen != len(todo):
        _graph.check_acyclic(todo, _preds)  # raises, with the cycle
    return Plan(todo, roots, finite, successors)


def link(todo: list[AbstractJob], token: object, edges: int, in_order: bool) -> list[AbstractJob]:
    """The successors of every job of a plan: a job with one successor holds it in
    ``_succ_end``; the successors of a job that has more are in one list for the run, in
    a row, in insertion order: ``successors[job._succ_end - job._nsucc : job._succ_end]``
    (see :func:`successors_of`).

    ``token`` marks the jobs of the plan, ``_nsucc`` holds their counts of successors
    and ``edges`` the sum; ``in_order`` says that every job comes after its requirements
    in ``todo``. One list per run rather than one per job: every object that lives
    through the run is one more for each pass of the garbage collector, and a run of 100k
    jobs would otherwise create 100k of them; a lone successor held by its job needs
    neither a place in that list nor an int object for where it is (a chain has no list).
    """
    if not edges:
        return []  # no job has successors: _succ_end is never read
    successors: list[Any] = [None] * edges
    end = 0
    if not in_order:
        # some requirements come after their jobs: first, where each job's successors go
        for job in todo:
            n = job._nsucc
            if n > 1:
                job._succ_end = end
                end += n
    for job in todo:
        if in_order:
            # a job's requirements came before it: where its successors go is known now
            n = job._nsucc
            if n > 1:
                # where they start; _succ_end moves to their end as they are placed
                job._succ_end = end
                end += n
        if not job._pending:
            continue
        required = job._req
        if type(required) is tuple or type(required) is dict:
            pass
        elif job._req2 is not None:  # two or three, held in the job
            third = job._req3
            second = job._req2
            required = (required, second) if third is None else (required, second, third)
        else:
            # one requirement, held alone (in the plan: the job waits for it), inline
            if required._nsucc == 1:
                required._succ_end = job
            else:
                at = required._succ_end
                successors[at] = job
                required._succ_end = at + 1
            continue
        for req in required:
            if req._plan_token is token:
                if req._nsucc == 1:
                    req._succ_end = job
                else:
                    at = req._succ_end
                    successors[at] = job
                    req._succ_end = at + 1
    del successors[end:]
    return successors


def unlink(todo: list[AbstractJob]) -> None:
    """Let the jobs of a plan go of their lone successor: held by its requirement, a job
    would make a reference cycle with it (a run does this as each job settles)."""
    for job in todo:
        if job._nsucc == 1:
            job._succ_end = 0


def successors_of(job: AbstractJob, successors: list[AbstractJob]) -> list[AbstractJob]:
    """The successors of ``job`` in the run whose plan linked ``successors``."""
    n = job._nsucc
    if n == 1:
        return [job._succ_end]
    end = job._succ_end
    return successors[end - n : end] if n else []


def _missing_requirement(sched: PureScheduler, job: AbstractJob, req: AbstractJob) -> None:
    if req in job.data_required:
        raise RequirementError(
            f"{job!r} takes the result of {req!r} as an argument, but that "
            f"job is not in the same scheduler {sched.label_text_or_repr()}; "
            "add both jobs to the same scheduler"
        )
    raise RequirementError(
        f"{job!r} requires {req!r}, which is not in the same scheduler "
        f"{sched.label_text_or_repr()}; add it there, or call "
        "scheduler.sanitize() to drop requirements outside the scheduler"
    )
