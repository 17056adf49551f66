"""Engine behaviour that a mutation check found untested: timeouts fire on time (not late),
jobs inside container arguments are data edges, and a reset forgets results.

Times are read on the running loop's clock (as the engine's timestamps are), with margins
for a loaded 2-core machine: a lower bound a hair under the limit, an upper bound well under
twice it (a limit armed at twice its value must fail).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from nbjobs import Job, PureScheduler, Scheduler, Status
from tests.conftest import run_checked, timed_run

LIMIT = 0.2
EARLY = 0.19  # a timeout never fires before its limit (10 ms for clock granularity)
LATE = 0.35  # nor long after it (twice the limit is 0.4)


async def hang() -> None:
    await asyncio.sleep(5)


# ---- per-job timeouts --------------------------------------------------------------------
def test_per_job_timeout_fires_after_its_limit_not_later() -> None:
    slow = Job(hang, timeout=LIMIT, critical=False, label="slow")
    s = Scheduler(slow)
    assert run_checked(s.co_run) is True
    assert slow.status is Status.FAILED
    assert isinstance(slow.raised_exception(), TimeoutError)
    assert slow.duration is not None
    assert EARLY <= slow.duration < LATE, slow.duration


def test_per_job_timeout_applies_to_each_attempt() -> None:
    per_attempt = 0.1
    starts: list[float] = []

    async def stuck() -> None:
        starts.append(asyncio.get_running_loop().time())
        await asyncio.sleep(5)

    slow = Job(stuck, timeout=per_attempt, retries=2, critical=False)
    s = Scheduler(slow)
    assert run_checked(s.co_run) is True
    assert slow.status is Status.FAILED
    assert isinstance(slow.raised_exception(), TimeoutError)
    assert slow.attempts == 3
    assert len(starts) == 3
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    for gap in gaps:  # each attempt was cut after its own limit
        assert 0.095 <= gap < 0.175, gaps
    assert slow.duration is not None
    assert 0.29 <= slow.duration < 0.5, slow.duration  # twice the limit would be 0.6


def test_per_job_timeout_does_not_cut_a_job_that_ends_in_time() -> None:
    async def quick() -> str:
        await asyncio.sleep(0.02)
        return "done"

    job = Job(quick, timeout=LIMIT)
    assert run_checked(Scheduler(job).co_run) is True
    assert job.status is Status.SUCCEEDED
    assert job.result() == "done"


# ---- the run's timeout -------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["PureScheduler", "Scheduler"])
def test_run_timeout_ends_the_run_after_its_limit_not_later(kind: str) -> None:
    stuck = Job(hang, label="stuck")
    if kind == "PureScheduler":
        s: PureScheduler = PureScheduler(stuck, timeout=LIMIT)
    else:
        s = Scheduler(stuck, timeout=LIMIT, critical=False)

    ok, elapsed = timed_run(s)
    assert ok is False
    assert s.failed_time_out()
    assert s.why() == f"TIMED OUT after {LIMIT:g}s"
    assert stuck.status is Status.CANCELLED
    assert EARLY <= elapsed < LATE, elapsed
    assert stuck.start_time is not None and stuck.end_time is not None
    assert EARLY <= stuck.end_time - stuck.start_time < LATE


def test_critical_scheduler_raises_timeout_after_its_limit_not_later() -> None:
    s = Scheduler(Job(hang), timeout=LIMIT)

    async def main() -> float:
        loop = asyncio.get_running_loop()
        begin = loop.time()
        with pytest.raises(TimeoutError):
            await s.co_run()
        return loop.time() - begin

    elapsed = run_checked(main)
    assert EARLY <= elapsed < LATE, elapsed


# ---- jobs inside container arguments are data edges ---------------------------------------
async def produce() -> int:
    await asyncio.sleep(0.02)  # the consumer would start before this ends without the edge
    return 42


def consume_async() -> Any:
    async def use(*args: Any, **kwargs: Any) -> Any:
        return args, kwargs

    return use


def _use_sync(*args: Any, **kwargs: Any) -> Any:
    return args, kwargs


Arguments = tuple[tuple[Any, ...], dict[str, Any]]
CASES: dict[str, tuple[Callable[[Job], Arguments], Arguments]] = {
    "dict": (lambda a: ((({"x": a, "y": 1}),), {}), ((({"x": 42, "y": 1}),), {})),
    "list": (lambda a: (([a, 1],), {}), (([42, 1],), {})),
    "tuple": (lambda a: (((a, 2),), {}), (((42, 2),), {})),
    "kw-dict": (lambda a: ((), {"d": {"k": a}}), ((), {"d": {"k": 42}})),
    "kw-list": (lambda a: ((), {"items": [0, a]}), ((), {"items": [0, 42]})),
    "kw-tuple": (lambda a: ((), {"pair": (a, a)}), ((), {"pair": (42, 42)})),
    "direct": (lambda a: ((a,), {"k": a}), ((42,), {"k": 42})),
}


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_job_inside_an_argument_is_required_and_replaced_by_its_result(
    case: str, sync: bool
) -> None:
    make_args, expected = CASES[case]
    a = Job(produce, label="a")
    args, kwargs = make_args(a)
    fn = _use_sync if sync else consume_async()
    consumer = Job(fn, *args, label="consumer", **kwargs)
    assert a in consumer.required
    assert consumer.data_required == (a,)
    s = Scheduler(a, consumer)
    assert run_checked(s.co_run) is True
    assert consumer.status is Status.SUCCEEDED
    assert consumer.result() == expected  # a's result, never the Job object
    assert a.end_time is not None and consumer.start_time is not None
    assert consumer.start_time >= a.end_time


def test_container_arguments_are_not_changed_by_the_substitution() -> None:
    a = Job(produce)
    given = {"x": a}
    listed = [a]
    consumer = Job(consume_async(), given, listed)
    assert run_checked(Scheduler(a, consumer).co_run) is True
    assert consumer.result() == (({"x": 42}, [42]), {})
    assert given == {"x": a} and listed == [a]  # fresh containers each run


def test_a_consumer_of_a_failed_job_in_a_dict_is_skipped() -> None:
    async def boom() -> int:
        raise ValueError("boom")

    calls: list[Any] = []

    async def use(d: dict[str, Any]) -> None:
        calls.append(d)

    a = Job(boom, critical=False)
    consumer = Job(use, {"x": a}, critical=False)
    s = Scheduler(a, consumer)
    assert run_checked(s.co_run) is True
    assert a.status is Status.FAILED
    assert consumer.status is Status.SKIPPED
    assert calls == []


# ---- a reset forgets results -------------------------------------------------------------
def test_rerun_after_reset_whose_body_returns_none_has_result_none() -> None:
    returns: list[Any] = ["first", None]

    async def body() -> Any:
        return returns.pop(0)

    job = Job(body)
    s = Scheduler(job)
    assert run_checked(s.co_run) is True
    assert job.result() == "first"
    s.reset()
    assert job.status is Status.IDLE
    assert run_checked(s.co_run) is True
    assert job.status is Status.SUCCEEDED
    assert job.result() is None
    assert returns == []


def test_rerun_after_reset_of_a_sync_job_returning_none_has_result_none() -> None:
    returns: list[Any] = [7, None]

    def body() -> Any:
        return returns.pop(0)

    job = Job(body, timeout=1)  # through the attempts path too
    s = Scheduler(job)
    assert run_checked(s.co_run) is True
    assert job.result() == 7
    s.reset()
    assert run_checked(s.co_run) is True
    assert job.result() is None
