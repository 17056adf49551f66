"""Bad input gets a specific error, raised before anything runs, and nothing leaks."""

from __future__ import annotations

import asyncio
import gc
import re
import warnings

import pytest

from nbjobs import (
    AbstractJob,
    CycleError,
    Job,
    OwnershipError,
    PureScheduler,
    RequirementError,
    RunningLoopError,
    Scheduler,
    Sequence,
    Status,
)
from tests.conftest import run_checked


async def work(x: int = 0) -> int:
    return x


def test_non_awaitable_job_body_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match=r"got 42 of type int"):
        Job(42)
    with pytest.raises(TypeError, match=r"got 'hello' of type str"):
        Job("hello")


def test_async_generator_is_rejected_with_advice() -> None:
    async def agen():  # type: ignore[no-untyped-def]
        yield 1

    with pytest.raises(TypeError, match="async generator"):
        Job(agen)


def test_rejected_coroutine_is_closed_and_warns_nothing() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        coro = work(1)
        with pytest.raises(TypeError, match="cannot be retried"):
            Job(coro, retries=2)
        del coro
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]


def test_coroutine_with_job_arguments_says_pass_the_callable() -> None:
    producer = Job(work, 1)
    coro = work(2)
    with pytest.raises(TypeError, match="pass the function instead"):
        Job(coro, producer)


def test_spent_coroutine_is_rejected() -> None:
    coro = work(3)
    asyncio.run(coro)
    with pytest.raises(TypeError, match="already awaited or closed"):
        Job(coro)


def test_cycle_is_rejected_before_anything_runs_and_carries_the_cycle() -> None:
    ran: list[str] = []

    async def record(name: str) -> None:
        ran.append(name)

    free = Job(record, "free", label="free")
    a = Job(record, "a", label="a")
    b = Job(record, "b", label="b", required=a)
    c = Job(record, "c", label="c", required=b)
    a.requires(c)
    s = Scheduler(free, a, b, c)
    with pytest.raises(CycleError, match="form a cycle") as info:
        run_checked(s.co_run)
    cycle = info.value.cycle
    assert cycle[0] is cycle[-1]
    assert set(cycle) == {a, b, c}
    assert ran == []
    assert free.status is Status.IDLE
    assert s.check_cycles() is False


def test_cycle_in_nested_scheduler_is_found() -> None:
    a, b = Job(work), Job(work)
    a.requires(b)
    b.requires(a)
    s = Scheduler(Scheduler(a, b, label="inner"))
    assert s.check_cycles() is False
    with pytest.raises(CycleError):
        run_checked(s.co_run)


def test_requirement_outside_scheduler_is_an_error_unless_sanitized() -> None:
    outsider = Job(work, label="outsider")
    inside = Job(work, label="inside", required=outsider)
    s = Scheduler(inside)
    with pytest.raises(RequirementError, match=r"requires .*outsider.*sanitize\(\)"):
        run_checked(s.co_run)
    assert s.sanitize() is False
    assert run_checked(s.co_run) is True
    assert s.sanitize() is True


def test_job_in_two_schedulers_is_an_error_once_the_first_ran() -> None:
    job = Job(work, label="shared")
    first = Scheduler(job)
    assert run_checked(first.co_run) is True
    with pytest.raises(OwnershipError, match=r"already belongs to .*, which has run"):
        Scheduler(job)
    first.remove(job)
    assert Scheduler(job).jobs == {job}  # free again once removed


def test_job_moves_from_a_scheduler_that_never_ran() -> None:
    # asynciojobs allowed it, and code written for it adds jobs to throwaway schedulers
    job = Job(work, label="moving")
    first = Scheduler(job)
    second = Scheduler(job)
    assert job.scheduler is second
    assert job not in first and len(first) == 0
    assert second.jobs == {job}


def test_job_stays_put_when_an_enclosing_scheduler_ran() -> None:
    job = Job(work, label="deep")
    inner = Scheduler(job, label="inner")
    outer = Scheduler(inner)
    assert run_checked(outer.co_run) is True
    with pytest.raises(OwnershipError, match="inner"):
        Scheduler(job)


def test_same_job_added_twice_to_one_scheduler_is_fine() -> None:
    job = Job(work)
    s = Scheduler(job)
    s.add(job)
    s.update([job, Sequence(job)])
    assert len(s) == 1


def test_scheduler_cannot_contain_itself() -> None:
    outer = Scheduler()
    inner = Scheduler(scheduler=outer)
    with pytest.raises(OwnershipError):
        inner.add(outer)


def test_job_requiring_itself_is_an_error() -> None:
    job = Job(work, label="me")
    with pytest.raises(RequirementError, match="cannot require itself"):
        job.requires(job)


@pytest.mark.parametrize("bad", [0, -1, -0.5, float("nan")])
def test_non_positive_timeouts_are_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match="timeout must be > 0"):
        Scheduler(timeout=bad)
    with pytest.raises(ValueError, match="timeout must be > 0"):
        Job(work, timeout=bad)


def test_non_number_timeout_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="number of seconds"):
        Scheduler(timeout="10")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Scheduler(timeout=True)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, -3])
def test_negative_window_is_rejected_with_advice(bad: int) -> None:
    with pytest.raises(ValueError, match=re.escape("or None (or 0, as in asynciojobs)")):
        Scheduler(jobs_window=bad)


def test_window_must_be_an_int() -> None:
    with pytest.raises(TypeError, match="jobs_window must be an int"):
        PureScheduler(jobs_window=2.5)  # type: ignore[arg-type]


def test_bad_retries_are_rejected() -> None:
    with pytest.raises(ValueError, match="retries"):
        Job(work, retries=-1)
    with pytest.raises(ValueError, match="backoff"):
        Job(work, backoff=0.5)


def test_adding_something_that_is_not_a_job() -> None:
    with pytest.raises(TypeError, match=r"wrap a coroutine or a function in Job"):
        Scheduler(work)
    with pytest.raises(TypeError, match="a requirement must be a job"):
        Job(work).requires("other")


def test_run_inside_a_running_loop_outside_jupyter_points_at_co_run() -> None:
    s = Scheduler(Job(work))

    async def main() -> None:
        with pytest.raises(RunningLoopError, match=r"await .*co_run\(\)"):
            s.run()

    asyncio.run(main())
    assert s.statistics().counts[Status.IDLE] == 1


def test_co_run_while_running_is_an_error() -> None:
    s = Scheduler(Job(asyncio.sleep, 0.01))

    async def main() -> None:
        first = asyncio.ensure_future(s.co_run())
        await asyncio.sleep(0)
        from nbjobs import AlreadyRunningError

        with pytest.raises(AlreadyRunningError, match="already running"):
            await s.co_run()
        assert await first

    run_checked(main)


def test_abstract_job_without_co_run_fails_clearly() -> None:
    class Lazy(AbstractJob):
        pass

    job = Lazy(critical=False)
    run_checked(Scheduler(job).co_run)
    assert isinstance(job.raised_exception(), NotImplementedError)
    assert "must define 'async def co_run(self)'" in str(job.raised_exception())


def test_sync_co_run_is_reported() -> None:
    class Sync(AbstractJob):
        def co_run(self) -> int:  # type: ignore[override]
            return 1

    job = Sync(critical=False)
    run_checked(Scheduler(job).co_run)
    assert isinstance(job.raised_exception(), TypeError)
    assert "async def co_run" in str(job.raised_exception())


def test_result_of_unfinished_job_says_what_to_check() -> None:
    from nbjobs import JobNotDoneError

    job = Job(work, label="pending")
    with pytest.raises(JobNotDoneError, match="status is idle"):
        job.result()
    with pytest.raises(ValueError):  # asynciojobs raised ValueError: still true
        job.result()


def test_adding_to_a_running_scheduler_is_an_error() -> None:
    s = Scheduler()

    async def adder() -> None:
        s.add(Job(work))

    job = Job(adder, scheduler=s, critical=False)
    run_checked(s.co_run)
    assert "while it runs" in str(job.raised_exception())
