"""The runners compared by the benchmarks, all driven by the same DAG description and body.

Each runner turns a :class:`~benchmarks.dags.Dag` into a :class:`Prepared` run. What
``prepare`` does is measured as graph construction; only awaiting ``Prepared.run`` is the
run. Libraries are imported lazily so that a missing extra only disables its runner.
"""

from __future__ import annotations

import asyncio
import importlib
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

from benchmarks.dags import Dag

Body = Callable[[int], Coroutine[Any, Any, None]]


async def sleep_body(i: int) -> None:
    """The job body of every benchmark: one trip through the event loop, nothing else."""
    await asyncio.sleep(0)


@dataclass(frozen=True, slots=True)
class Prepared:
    run: Callable[[], Awaitable[object]]
    # Counts, after the run, the jobs that completed: a run that "succeeds" quickly
    # without running its jobs must not produce a number.
    completed: Callable[[], int]


@dataclass(frozen=True, slots=True)
class Runner:
    name: str
    prepare: Callable[[Dag, Body, int | None], Prepared]
    description: str
    # gather has no notion of requirements or window: it only runs the independent shape.
    independent_only: bool = False

    def supports(self, dag_shape: str, window: int | None) -> bool:
        return not self.independent_only or (dag_shape == "independent" and window is None)


# ---------------------------------------------------------------------------- gather


def _prepare_gather(dag: Dag, body: Body, window: int | None) -> Prepared:
    if dag.edges or window is not None:
        raise ValueError("asyncio.gather only runs independent jobs without a window")
    results: list[object] = []

    async def run() -> None:
        # Coroutine objects are created inside the run, as gather users write it.
        results.extend(await asyncio.gather(*[body(i) for i in range(dag.n)]))

    return Prepared(run, lambda: len(results))


# ---------------------------------------------------------------------------- minimal


async def run_minimal(dag: Dag, body: Body, window: int | None) -> int:
    """The reference: Kahn's algorithm driven by task completion callbacks.

    O(jobs + edges) per run: in-degrees and successor lists are computed here (any real
    scheduler pays that per run), a task is created only when its job is ready and a
    window slot is free, and a completion only touches that job's successors. On a
    failure nothing new starts, the running tasks finish, and the error is raised.
    Returns the number of jobs that completed.
    """
    loop = asyncio.get_running_loop()
    n = dag.n
    waiting_on = [len(r) for r in dag.required]
    successors: list[list[int]] = [[] for _ in range(n)]
    for i, required in enumerate(dag.required):
        for r in required:
            successors[r].append(i)
    ready = deque(i for i in range(n) if not waiting_on[i])
    limit = n if window is None else window
    tasks: set[asyncio.Task[None]] = set()
    finished: asyncio.Future[None] = loop.create_future()
    completed = 0
    failure: BaseException | None = None

    def start_ready() -> None:
        while ready and len(tasks) < limit and failure is None:
            i = ready.popleft()
            task = loop.create_task(body(i))
            # The set keeps a strong reference: the loop only holds tasks weakly.
            tasks.add(task)
            task.add_done_callback(partial(on_done, i))
        if not tasks and not finished.done():
            finished.set_result(None)

    def on_done(i: int, task: asyncio.Task[None]) -> None:
        nonlocal completed, failure
        tasks.discard(task)
        if task.cancelled():
            failure = failure or asyncio.CancelledError(f"job {i} was cancelled")
        elif (exc := task.exception()) is not None:
            failure = failure or exc
        else:
            completed += 1
            for s in successors[i]:
                waiting_on[s] -= 1
                if not waiting_on[s]:
                    ready.append(s)
        start_ready()

    start_ready()
    try:
        await finished
    finally:
        # Structured even when the run itself is cancelled (e.g. by a timeout).
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
    if failure is not None:
        raise failure
    if completed != n:
        raise RuntimeError(f"only {completed} of {n} jobs could run: the graph has a cycle")
    return completed


def _prepare_minimal(dag: Dag, body: Body, window: int | None) -> Prepared:
    done: list[int] = []

    async def run() -> None:
        done.append(await run_minimal(dag, body, window))

    return Prepared(run, lambda: sum(done))


# ---------------------------------------------------------------------------- libraries


def build_scheduler(
    library: str, dag: Dag, body: Body, window: int | None, *, coroutine: bool = True
) -> tuple[list[Any], Any]:
    """Jobs and Scheduler of ``library`` ("nbjobs" or "asynciojobs") for ``dag``, in index
    order. ``coroutine`` gives each job a coroutine object (``Job(body(i))``, the only form
    asynciojobs takes, one-shot); otherwise ``Job(body, i)``, whose coroutine is created
    when the job starts, as the minimal runner does."""
    module = importlib.import_module(library)
    jobs: list[Any] = []
    for i, required in enumerate(dag.required):
        job_required = [jobs[r] for r in required] or None
        if coroutine:
            jobs.append(module.Job(body(i), required=job_required))
        else:
            jobs.append(module.Job(body, i, required=job_required))
    return jobs, module.Scheduler(*jobs, jobs_window=window)


def _library_runner(
    library: str, *, coroutine: bool
) -> Callable[[Dag, Body, int | None], Prepared]:
    def prepare(dag: Dag, body: Body, window: int | None) -> Prepared:
        jobs, scheduler = build_scheduler(library, dag, body, window, coroutine=coroutine)

        async def run() -> None:
            ok = await scheduler.co_run()
            if ok is not True:
                raise RuntimeError(f"co_run() returned {ok!r}: {scheduler.why()}")

        return Prepared(run, lambda: sum(1 for job in jobs if job.is_done()))

    return prepare


RUNNERS: dict[str, Runner] = {
    runner.name: runner
    for runner in (
        Runner("gather", _prepare_gather, "asyncio.gather", independent_only=True),
        Runner("minimal", _prepare_minimal, "in-degree counting reference"),
        Runner(
            "asynciojobs",
            _library_runner("asynciojobs", coroutine=True),
            "asynciojobs 0.21.3, Job(coroutine)",
        ),
        Runner("nbjobs", _library_runner("nbjobs", coroutine=False), "nbjobs, Job(async_fn, i)"),
        # The asynciojobs form on nbjobs, to compare like with like.
        Runner("nbjobs-coro", _library_runner("nbjobs", coroutine=True), "nbjobs, Job(coroutine)"),
    )
}
DEFAULT_RUNNERS = ("gather", "minimal", "asynciojobs", "nbjobs")


# ---------------------------------------------------------------------------- checks


@dataclass(slots=True)
class Trace:
    """What a recording body saw: ``events`` holds ``(is_end, job)`` in the order they happened."""

    events: list[tuple[bool, int]]

    def body(self) -> Body:
        events = self.events

        async def recording_body(i: int) -> None:
            events.append((False, i))
            await asyncio.sleep(0)
            events.append((True, i))

        return recording_body


def check_trace(dag: Dag, trace: Trace, window: int | None) -> None:
    """Raise AssertionError unless every job ran exactly once, after its requirements,
    with never more than ``window`` jobs in their body at once."""
    start: dict[int, int] = {}
    end: dict[int, int] = {}
    running = peak = 0
    for position, (is_end, i) in enumerate(trace.events):
        seen = end if is_end else start
        if i in seen:
            raise AssertionError(f"job {i} {'ended' if is_end else 'started'} twice")
        seen[i] = position
        running += -1 if is_end else 1
        peak = max(peak, running)
    missing = [i for i in range(dag.n) if i not in end]
    if missing or len(start) != dag.n:
        raise AssertionError(f"{len(missing)} of {dag.n} jobs never completed: {missing[:10]}")
    for i, required in enumerate(dag.required):
        for r in required:
            if end[r] > start[i]:
                raise AssertionError(f"job {i} started before its requirement {r} ended")
    if window is not None and peak > window:
        raise AssertionError(f"{peak} jobs ran at once with a window of {window}")
