"""The engine's per-job shortcuts keep the behaviour of the long way round.

Each test here fails if a shortcut overreaches: the Task class built directly must not
bypass a loop's own task creation, the clock reading shared by a job's end and its
successor's start must be the same instant, a job's inline call must still check what the
callable returned, and the current-job variable left set after a job's body must never
make a view's or a subtask's output land on the wrong job.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from nbjobs import Job, Scheduler, Status
from nbjobs._core.events import Event, EventKind


async def tick(i: int = 0) -> int:
    await asyncio.sleep(0)
    return i


def test_job_tasks_go_through_the_loops_task_factory() -> None:
    made: list[asyncio.Task[Any]] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        made.append(task)
        return task

    async def main() -> bool:
        loop = asyncio.get_running_loop()
        loop.set_task_factory(factory)
        try:
            return await Scheduler(*(Job(tick, i) for i in range(5))).co_run()
        finally:
            loop.set_task_factory(None)

    assert asyncio.run(main())
    assert len(made) == 5, "each job's task is made by the factory the loop was given"


def test_job_tasks_go_through_a_loops_own_create_task() -> None:
    created: list[object] = []

    class CountingLoop(asyncio.SelectorEventLoop):
        def create_task(self, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
            created.append(coro)
            return super().create_task(coro, **kwargs)

    jobs = [Job(tick, i) for i in range(4)]
    with asyncio.Runner(loop_factory=CountingLoop) as runner:
        assert runner.run(Scheduler(*jobs).co_run())
    assert len(created) >= 4  # the run's own coroutine, plus one task per job
    assert [job.result() for job in jobs] == [0, 1, 2, 3]


def test_a_job_released_by_another_starts_when_that_one_ends() -> None:
    first = Job(tick, 1)
    second = Job(tick, 2, required=first)
    # with a window of one, the third waits for the slot the second frees
    third = Job(tick, 3)
    assert asyncio.run(Scheduler(first, second, third, jobs_window=1).co_run())
    # the first ends: the third, which waited for the slot, starts at that very time,
    # and the second is ready then (and waits for the slot in turn)
    assert third.start_time == first.end_time
    assert second.ready_time == first.end_time
    # the third ends: the second starts at that very time
    assert second.start_time == third.end_time
    assert first.start_time is not None and first.end_time is not None
    assert first.start_time < first.end_time < third.end_time < second.end_time  # type: ignore[operator]


def test_an_async_callable_that_returns_no_awaitable_fails_the_job_clearly() -> None:
    class Flaky:
        async def __call__(self) -> int:
            return 1

    flaky = Flaky()
    job = Job(flaky, critical=False)
    # the object turns out not to be async after all: its call returns a plain value
    Flaky.__call__ = lambda self: 42  # type: ignore[assignment, method-assign]
    # a non-critical failure: the run itself succeeds, as in asynciojobs
    assert asyncio.run(Scheduler(job).co_run()) is True
    assert job.status is Status.FAILED
    exc = job.raised_exception()
    assert isinstance(exc, TypeError)
    assert "returned 42, not an awaitable" in str(exc)


def test_a_view_printing_as_a_job_ends_is_not_that_jobs_output(
    capsys: pytest.CaptureFixture[str],
) -> None:
    job = Job(tick, 7)
    other = Job(tick, 8, required=job)
    sched = Scheduler(job, other)

    def view(event: Event) -> None:
        if event.kind is EventKind.STATUS and event.status is Status.SUCCEEDED:
            print(f"view: {event.job!r} succeeded")

    unsubscribe = sched.subscribe(view)
    try:
        assert asyncio.run(sched.co_run())
    finally:
        unsubscribe()
    assert "view:" in capsys.readouterr().out  # it printed, during each job's bookkeeping
    assert job.output.text() == ""
    assert other.output.text() == ""


def test_output_of_a_jobs_subtasks_is_that_jobs_output() -> None:
    async def part(name: str) -> None:
        await asyncio.sleep(0)
        print(f"part {name}")

    async def whole() -> None:
        await asyncio.gather(part("a"), part("b"))  # each part runs in a task of its own

    job = Job(whole)
    quiet = Job(tick)
    assert asyncio.run(Scheduler(job, quiet).co_run())
    assert job.output.text() == "part a\npart b\n"
    assert quiet.output.text() == ""


def test_the_direct_start_decided_at_construction_is_the_one_the_rule_gives() -> None:
    # Job._direct_way() is the one rule, for every kind of job
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from nbjobs._core.job import DIRECT_AWAIT, DIRECT_CALL

    async def work(x: int = 0) -> int:
        return x

    def plain(x: int = 0) -> int:
        return x

    class Own(Job):
        async def co_run(self) -> int:
            return 1

    pool = ThreadPoolExecutor(1)
    loop = asyncio.new_event_loop()
    future = loop.create_future()
    producer = Job(work, 1)
    jobs = {
        "coroutine": (Job(work(1)), DIRECT_AWAIT),
        "async fn": (Job(work, 1), DIRECT_CALL),
        "async fn, required": (Job(work, 1, required=producer), DIRECT_CALL),
        "async fn, keywords": (Job(work, x=1), 0),
        "async fn, a job's result": (Job(work, producer), 0),
        "plain fn": (Job(plain, 1), 0),
        "lambda": (Job(lambda: 1), 0),
        "future": (Job(future), 0),
        "executor": (Job(plain, 1, executor=pool), 0),
        "own co_run": (Own(work, 1), 0),
        "timeout": (Job(work, 1, timeout=5), DIRECT_CALL),
    }
    try:
        for name, (job, expected) in jobs.items():
            assert job._direct == expected, name
            assert job._direct == job._direct_way(), name
    finally:
        jobs["coroutine"][0].close()
        pool.shutdown()
        loop.close()


def test_a_job_starts_with_the_same_fields_as_any_abstract_job() -> None:
    # every job starts from AbstractJob._init_slots: a Job as any other
    from nbjobs import AbstractJob

    class Plain(AbstractJob):
        async def co_run(self) -> None:
            return None

    async def work() -> None:
        return None

    made = {"Job": Job(work), "AbstractJob": Plain()}
    fields = [
        name
        for name in AbstractJob.__slots__
        if name not in ("__dict__", "__weakref__", "_id", "_direct")
    ]
    values = {kind: {name: getattr(job, name) for name in fields} for kind, job in made.items()}
    assert values["Job"] == values["AbstractJob"]
    assert not hasattr(made["Job"], "_id")  # given when first asked for
