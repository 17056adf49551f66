"""Bursts of ready jobs start in batches, and a job's task does its own bookkeeping.

``PureScheduler.START_BATCH`` bounds the tasks created per event-loop iteration; the
jobs beyond it are RUNNING already (they have their window slot) and get their task on
the next iterations, in order. These tests pin what that must never change: order,
completeness, cancellation of a job that has no task yet, and clean endings.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from itertools import pairwise
from typing import Any

import pytest

from nbjobs import Job, PureScheduler, Scheduler, Status
from tests.conftest import run_checked


@pytest.fixture
def small_batch(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(PureScheduler, "START_BATCH", 8)
    return 8


async def _co_run_counting_iterations(sched: Scheduler, ticks: list[int]) -> bool:
    """``sched.co_run()``, with ``ticks[0]`` counting the loop's iterations meanwhile."""
    loop = asyncio.get_running_loop()
    handle: list[asyncio.Handle] = []

    def tick() -> None:  # runs once per loop iteration
        ticks[0] += 1
        handle[:] = [loop.call_soon(tick)]

    tick()
    try:
        return await sched.co_run()
    finally:
        handle[0].cancel()


def test_a_burst_starts_in_order_and_in_batches(small_batch: int) -> None:
    n = 5 * small_batch + 3
    started: list[int] = []
    iteration_of_first_step: list[int] = []
    ticks = [0]

    statuses_when_first_ran: list[Status] = []

    async def body(i: int) -> int:
        if not started:
            statuses_when_first_ran.extend(job.status for job in jobs)
        started.append(i)
        iteration_of_first_step.append(ticks[0])
        await asyncio.sleep(0)
        return i

    jobs = [Job(body, i) for i in range(n)]
    sched = Scheduler(*jobs)

    assert run_checked(lambda: _co_run_counting_iterations(sched, ticks)) is True
    assert started == list(range(n))
    assert [job.result() for job in jobs] == list(range(n))
    # every job was RUNNING from the start (it had its slot) ...
    assert statuses_when_first_ran == [Status.RUNNING] * n
    # ... but no loop iteration ran more than a batch of first steps (all n at once
    # without batches), and the batches follow each other
    per_iteration = Counter(iteration_of_first_step)
    assert max(per_iteration.values()) == small_batch
    assert len(per_iteration) == -(-n // small_batch)


def test_a_burst_keeps_few_tasks_alive_at_once(small_batch: int) -> None:
    n = 20 * small_batch
    alive: list[int] = []

    async def body(i: int) -> None:
        alive.append(sum(1 for t in asyncio.all_tasks() if not t.done()))
        await asyncio.sleep(0)

    sched = Scheduler(*[Job(body, i) for i in range(n)])

    async def main() -> bool:
        return await sched.co_run()

    assert run_checked(main) is True
    assert len(alive) == n
    # without batches every one of the n tasks exists before the first body runs
    assert max(alive) <= 2 * small_batch + 2, max(alive)


def test_successors_of_a_fan_out_start_in_batches_after_the_queue(small_batch: int) -> None:
    order: list[str] = []

    async def body(name: str) -> None:
        order.append(name)
        await asyncio.sleep(0)

    root = Job(body, "root", label="root")
    children = [Job(body, f"c{i}", required=root) for i in range(3 * small_batch)]
    grandchild = Job(body, "g", required=children[0])
    sched = Scheduler(root, *children, grandchild)

    async def main() -> bool:
        return await sched.co_run()

    assert run_checked(main) is True
    assert order[0] == "root"
    # the grandchild became ready while the children's batches were still queued: it
    # starts after all of them (ready order), not before the ones waiting for a batch
    assert order[1:-1] == [f"c{i}" for i in range(3 * small_batch)]
    assert order[-1] == "g"


def test_cancelling_a_job_that_has_no_task_yet(small_batch: int) -> None:
    n = 3 * small_batch
    ran: list[int] = []

    async def body(i: int) -> int:
        ran.append(i)
        await asyncio.sleep(0)
        return i

    jobs = [Job(body, i, critical=False) for i in range(n)]
    sched = Scheduler(*jobs)
    last = jobs[-1]

    async def main() -> bool:
        task = asyncio.ensure_future(sched.co_run())
        await asyncio.sleep(0)  # the run started: the last batch has no task yet
        assert last.status is Status.RUNNING
        assert last.cancel("not needed") is True
        return await task

    assert run_checked(main) is True
    assert n - 1 not in ran
    assert last.status is Status.CANCELLED
    assert last.cancel_reason == "not needed"
    assert all(job.status is Status.SUCCEEDED for job in jobs[:-1])


def test_a_critical_failure_in_the_first_batch_ends_the_queued_ones(small_batch: int) -> None:
    n = 4 * small_batch
    ran: list[int] = []

    async def body(i: int) -> int:
        ran.append(i)
        if i == 0:
            raise ValueError("boom")
        await asyncio.sleep(0.05)
        return i

    jobs = [Job(body, i) for i in range(n)]
    sched = Scheduler(*jobs)

    async def main() -> Any:
        with pytest.raises(ValueError, match="boom"):
            await sched.co_run()

    run_checked(main)
    assert jobs[0].status is Status.FAILED
    # the first batch was running and is cancelled; the jobs queued for a later batch
    # never ran their body and end cancelled with the run's reason, none left RUNNING
    assert set(ran) == set(range(small_batch))
    for job in jobs[1:]:
        assert job.status is Status.CANCELLED, job
        assert "critical job" in (job.cancel_reason or ""), job.cancel_reason
    assert sched.statistics().running == 0


def test_a_task_cancelled_before_its_first_step_is_accounted_for() -> None:
    ran: list[str] = []

    async def body(name: str) -> str:
        ran.append(name)
        await asyncio.sleep(0)
        return name

    a = Job(body, "a", critical=False)
    b = Job(body, "b", required=a)
    sched = Scheduler(a, b)

    async def main() -> bool:
        task = asyncio.ensure_future(sched.co_run())
        # one loop turn: co_run creates a's task, which has not run its first step
        await asyncio.sleep(0)
        assert a.status is Status.RUNNING
        assert a.cancel("early") is True
        return await task

    assert run_checked(main) is True
    assert ran == ["b"]
    assert a.status is Status.CANCELLED and a.cancel_reason == "early"
    assert b.status is Status.SUCCEEDED


def test_a_timeout_while_jobs_wait_for_their_batch(small_batch: int) -> None:
    async def body(i: int) -> None:
        await asyncio.Event().wait()  # until the run's timeout cancels it

    jobs = [Job(body, i) for i in range(3 * small_batch)]
    sched = Scheduler(*jobs, timeout=0.05, critical=False)

    async def main() -> bool:
        return await sched.co_run()

    assert run_checked(main) is False
    assert sched.failed_time_out()
    assert all(job.status is Status.CANCELLED for job in jobs)


def test_jobs_ready_beyond_the_window_wait_in_order_with_their_counts() -> None:
    seen: list[tuple[list[Status], int, int]] = []
    order: list[int] = []

    async def body(i: int) -> int:
        if not seen:
            stats = sched.statistics()
            seen.append(([job.status for job in jobs], stats.running, stats.waiting))
        order.append(i)
        await asyncio.sleep(0)
        return i

    jobs = [Job(body, i) for i in range(10)]
    sched = Scheduler(*jobs, jobs_window=3)
    assert run_checked(sched.co_run) is True
    statuses, running, waiting = seen[0]
    assert statuses == [Status.RUNNING] * 3 + [Status.WAITING] * 7
    assert (running, waiting) == (3, 7)
    assert order == list(range(10))
    # the waiting ones were ready when the run started, and started later
    assert all(job.ready_time is not None for job in jobs)
    assert all(job.start_time > job.ready_time for job in jobs[3:])  # type: ignore[operator]
    assert sched.statistics().counts[Status.SUCCEEDED] == 10


@pytest.mark.parametrize("listening", [False, True])
def test_successors_ready_beyond_the_window_wait_in_order_with_their_counts(
    listening: bool,
) -> None:
    """A job ending in a fan-out makes its successors ready at once: those beyond the
    window wait, in insertion order, and the counts are right whenever someone looks
    (a status subscriber hears each change with the counts already up to date)."""
    seen: list[tuple[list[Status], int, int]] = []
    heard: list[tuple[str, int, int]] = []
    order: list[int] = []

    async def body(i: int, _: Any = None) -> int:
        if i and not seen:
            stats = sched.statistics()
            seen.append(([job.status for job in jobs], stats.running, stats.waiting))
        order.append(i)
        await asyncio.sleep(0)
        return i

    root = Job(body, 0)
    # the middle one takes its root's result: it is made ready the long way
    jobs = [Job(body, i, required=root) for i in range(1, 5)]
    jobs.append(Job(body, 5, root))
    jobs += [Job(body, i, required=root) for i in range(6, 12)]
    sched = Scheduler(root, *jobs, jobs_window=3)
    if listening:

        def listen(event: Any) -> None:
            if event.job is not None and event.status is Status.WAITING:
                stats = sched.statistics()
                heard.append((event.job.label_text(), stats.waiting, stats.counts[Status.IDLE]))

        sched.subscribe(listen)
    assert run_checked(sched.co_run) is True
    statuses, running, waiting = seen[0]
    assert statuses == [Status.RUNNING] * 3 + [Status.WAITING] * 8
    assert (running, waiting) == (3, 8)
    assert order == list(range(12))
    # the waiting ones became ready together, when the root ended (the one that takes a
    # result has its own clock read)
    assert len({job.ready_time for job in jobs[3:] if job is not jobs[4]}) == 1
    assert all(job.start_time > job.ready_time for job in jobs[3:])  # type: ignore[operator]
    assert sched.statistics().counts[Status.SUCCEEDED] == 12
    if listening:
        assert [(waiting, idle) for _, waiting, idle in heard] == [(k, 8 - k) for k in range(1, 9)]


@pytest.mark.parametrize("window", [None, 3])
def test_a_chain_longer_than_a_batch_never_waits_for_one(
    small_batch: int, window: int | None
) -> None:
    """Each job's end is an event of its own: the job it releases gets its task at once,
    however many jobs the run started before (counting starts over the whole run would
    defer every START_BATCH-th job of a chain by a loop iteration)."""
    n = 5 * small_batch
    first_step: list[int] = []
    ticks = [0]

    async def body(i: int) -> None:
        first_step.append(ticks[0])
        await asyncio.sleep(0)

    jobs: list[Job] = []
    for i in range(n):
        jobs.append(Job(body, i, required=jobs[-1:] or None))
    sched = Scheduler(*jobs, jobs_window=window)

    assert run_checked(lambda: _co_run_counting_iterations(sched, ticks)) is True
    gaps = Counter(b - a for a, b in pairwise(first_step))
    # a body's sleep(0) takes one iteration, its successor's first step the next one
    assert set(gaps) == {2}, gaps
