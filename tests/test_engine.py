"""The engine's behaviour: order, window, failures, timeouts, forever jobs, cancel, re-runs."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from nbjobs import (
    AbstractJob,
    Job,
    NotRerunnableError,
    PureScheduler,
    Scheduler,
    Sequence,
    Status,
)
from tests.conftest import run_checked, timed_run


class Log:
    """Records ('start', name) / ('end', name) in the order they happen."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.running = 0
        self.max_running = 0

    async def job(
        self, name: str, delay: float = 0.0, fail: bool = False, value: Any = None
    ) -> Any:
        self.events.append(("start", name))
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            await asyncio.sleep(delay)
            if fail:
                raise ValueError(f"{name} failed")
            return value if value is not None else name
        finally:
            self.running -= 1
            self.events.append(("end", name))

    def j(self, name: str, delay: float = 0.0, fail: bool = False, **options: Any) -> Job:
        """A job running ``self.job`` labelled by its name."""
        return Job(self.job, name, delay, fail, label=name, **options)

    def index(self, kind: str, name: str) -> int:
        return self.events.index((kind, name))


def test_independent_jobs_run_concurrently_and_return_true() -> None:
    log = Log()
    jobs = [log.j(f"j{i}", 0.01) for i in range(5)]
    s = Scheduler(*jobs)
    assert run_checked(s.co_run) is True
    # all started before any ended: they ran at the same time
    starts = [i for i, (kind, _) in enumerate(log.events) if kind == "start"]
    ends = [i for i, (kind, _) in enumerate(log.events) if kind == "end"]
    assert max(starts) < min(ends)
    assert [j.result() for j in jobs] == [f"j{i}" for i in range(5)]
    assert all(j.status is Status.SUCCEEDED for j in jobs)


def test_a_job_starts_only_after_its_requirements_ended() -> None:
    log = Log()
    a = log.j("a", 0.02)
    b = log.j("b", 0.0)
    c = log.j("c", 0.0, required=(a, b))
    s = Scheduler(c, b, a)
    assert run_checked(s.co_run)
    assert log.index("start", "c") > log.index("end", "a")
    assert log.index("start", "c") > log.index("end", "b")


def test_ready_jobs_start_in_insertion_order() -> None:
    log = Log()
    root = log.j("root")
    kids = [log.j(f"k{i}", required=root) for i in range(6)]
    order = [kids[3], kids[0], kids[5], kids[1], kids[4], kids[2]]
    s = Scheduler(root, *order)
    assert run_checked(s.co_run)
    started = [name for kind, name in log.events if kind == "start"][1:]
    assert started == [f"k{kids.index(k)}" for k in order]


def test_window_is_never_exceeded() -> None:
    log = Log()
    jobs = [log.j(f"j{i}", 0.002) for i in range(20)]
    s = Scheduler(*jobs, jobs_window=3)
    assert run_checked(s.co_run)
    assert log.max_running == 3


def test_window_slot_released_when_job_raises() -> None:
    log = Log()
    jobs = [log.j(f"j{i}", 0.001, fail=True, critical=False) for i in range(5)]
    s = Scheduler(*jobs, jobs_window=1)
    assert run_checked(s.co_run) is True
    assert all(j.status is Status.FAILED for j in jobs)
    assert log.max_running == 1


def test_waiting_jobs_show_waiting_status() -> None:
    seen: list[Status] = []

    async def body() -> None:
        seen.extend(j.status for j in jobs)
        await asyncio.sleep(0)

    jobs = [Job(body) for _ in range(3)]
    s = Scheduler(*jobs, jobs_window=1)
    assert run_checked(s.co_run)
    assert seen[:3] == [Status.RUNNING, Status.WAITING, Status.WAITING]


def test_non_critical_failure_lets_the_run_go_on_and_requirers_run() -> None:
    log = Log()
    bad = log.j("bad", fail=True, critical=False)
    after = log.j("after", required=bad)
    s = Scheduler(bad, after)
    assert run_checked(s.co_run) is True
    assert bad.status is Status.FAILED
    assert isinstance(bad.raised_exception(), ValueError)
    assert bad.is_done() and bad.result() is None
    assert after.status is Status.SUCCEEDED
    assert s.failures() == [bad]


def test_critical_failure_raises_cancels_running_and_skips_idle() -> None:
    log = Log()
    slow = log.j("slow", 1.0, critical=False)
    bad = log.j("bad", 0.005, fail=True)
    later = log.j("later", required=bad)
    s = Scheduler(slow, bad, later)
    with pytest.raises(ValueError, match="bad failed") as info:
        run_checked(s.co_run)
    assert any("critical job 'bad' failed" in note for note in info.value.__notes__)
    assert s.failed_critical() and not s.failed_time_out()
    assert slow.status is Status.CANCELLED
    assert slow.cancel_reason == "critical job 'bad' failed"
    assert later.status is Status.SKIPPED
    assert "critical job 'bad' failed" in (later.skip_reason or "")
    assert ("end", "slow") in log.events  # its finally ran: it was cancelled, not abandoned


def test_pure_scheduler_returns_false_on_critical_failure() -> None:
    bad = Log().j("bad", fail=True)
    s = PureScheduler(bad)
    assert run_checked(s.co_run) is False
    assert "CRITICAL" in s.why()


def test_non_critical_scheduler_returns_false_on_critical_failure() -> None:
    s = Scheduler(Log().j("bad", fail=True), critical=False)
    assert run_checked(s.co_run) is False


def test_traceback_stays_the_jobs_own_after_a_critical_scheduler_raised_it() -> None:
    bad = Log().j("bad", fail=True)
    s = Scheduler(bad)
    with pytest.raises(ValueError, match="bad failed"):
        s.run(view=False)
    text = bad.traceback_text or ""
    assert "in job" in text  # the job's own frame
    assert "run_blocking" not in text and "no running event loop" not in text


def test_critical_error_mentions_every_failure() -> None:
    log = Log()
    soft = log.j("soft", fail=True, critical=False)
    hard = log.j("hard", 0.01, fail=True)
    s = Scheduler(soft, hard)
    with pytest.raises(ValueError, match="hard failed") as info:
        run_checked(s.co_run)
    note = " ".join(info.value.__notes__)
    assert "'soft': ValueError" in note
    assert s.failures() == [soft, hard]


def test_global_timeout_cancels_and_raises_timeout_error() -> None:
    log = Log()
    quick = log.j("quick")
    slow = log.j("slow", 5)
    never = log.j("never", required=slow)
    s = Scheduler(quick, slow, never, timeout=0.03)
    with pytest.raises(TimeoutError, match=r"timeout of 0\.03s"):
        run_checked(s.co_run)
    assert s.failed_time_out()
    assert s.why() == "TIMED OUT after 0.03s"
    assert quick.status is Status.SUCCEEDED
    assert slow.status is Status.CANCELLED and slow.cancel_reason == "timeout after 0.03s"
    assert never.status is Status.SKIPPED


def test_timeout_non_critical_returns_false() -> None:
    s = Scheduler(Job(asyncio.sleep, 5), timeout=0.01, critical=False)
    assert run_checked(s.co_run) is False
    assert s.failed_time_out()


def test_forever_jobs_are_cancelled_at_the_end() -> None:
    ticks: list[int] = []

    async def monitor() -> None:
        while True:
            ticks.append(1)
            await asyncio.sleep(0.001)

    mon = Job(monitor, forever=True)
    work = Job(asyncio.sleep, 0.02)
    s = Scheduler(mon, work)
    assert run_checked(s.co_run) is True
    assert ticks
    assert mon.status is Status.CANCELLED
    assert mon.cancel_reason == "forever job stopped at the end of the run"
    assert not mon.is_done() and mon.is_running()


def test_only_forever_jobs_run_until_they_end() -> None:
    async def short() -> int:
        await asyncio.sleep(0.05)
        return 3

    job = Job(short, forever=True)
    s = Scheduler(job)

    ok, elapsed = timed_run(s)
    assert ok is True
    # the run waited for the forever job, which ended by itself (not stopped at the end)
    assert job.status is Status.SUCCEEDED
    assert job.result() == 3
    assert job.duration is not None and job.duration >= 0.045
    assert elapsed >= 0.045


def test_empty_scheduler_returns_true() -> None:
    assert run_checked(Scheduler().co_run) is True


def test_per_job_timeout_fails_that_job() -> None:
    slow = Job(asyncio.sleep, 1, timeout=0.01, critical=False)
    s = Scheduler(slow)
    assert run_checked(s.co_run) is True
    assert slow.status is Status.FAILED
    exc = slow.raised_exception()
    assert isinstance(exc, TimeoutError)
    assert str(exc) == "'sleep' did not finish within its timeout of 0.01s"
    assert exc.__context__ is None  # no asyncio internals chained to it


def test_retries_until_success() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("try again")
        return "ok"

    job = Job(flaky, retries=3, retry_delay=0.001)
    assert run_checked(Scheduler(job).co_run)
    assert job.result() == "ok"
    assert job.attempts == 3
    assert "attempt 2 failed (ConnectionError: try again)" in job.output.text()


def test_retries_exhausted_fail_with_last_exception() -> None:
    async def broken() -> None:
        raise KeyError("nope")

    job = Job(broken, retries=2, critical=False)
    run_checked(Scheduler(job).co_run)
    assert job.attempts == 3
    assert isinstance(job.raised_exception(), KeyError)


def test_sync_callable_runs_in_a_worker_thread() -> None:
    main = threading.get_ident()

    def blocking(x: int) -> tuple[int, int]:
        return threading.get_ident(), x * 2

    job = Job(blocking, 21)
    assert run_checked(Scheduler(job).co_run)
    thread, value = job.result()
    assert value == 42 and thread != main


def test_cancel_whole_run_from_a_job() -> None:
    log = Log()
    s = Scheduler()

    async def canceller() -> None:
        await asyncio.sleep(0.005)
        assert s.cancel("enough") is True

    slow = log.j("slow", 5, scheduler=s)
    Job(canceller, scheduler=s)
    after = log.j("after", required=slow, scheduler=s)
    assert run_checked(s.co_run) is False
    assert s.why() == "CANCELLED (enough)"
    assert slow.status is Status.CANCELLED and slow.cancel_reason == "enough"
    assert after.status is Status.SKIPPED
    assert s.cancel() is False  # not running any more


def test_cancel_one_running_job_lets_the_rest_go_on() -> None:
    log = Log()
    slow = log.j("slow", 5)
    requirer = log.j("requirer", required=slow)

    async def canceller() -> None:
        await asyncio.sleep(0.005)
        assert slow.cancel("not needed") is True

    s = Scheduler(slow, requirer, Job(canceller))
    assert run_checked(s.co_run) is True
    assert slow.status is Status.CANCELLED and slow.cancel_reason == "not needed"
    assert requirer.status is Status.SUCCEEDED  # requirers run, as after a failure


def test_cancel_idle_job_keeps_order_and_it_never_runs() -> None:
    log = Log()
    first = log.j("first", 0.01)
    middle = log.j("middle", required=first)
    last = log.j("last", required=middle)

    async def canceller() -> None:
        assert middle.cancel() is True

    s = Scheduler(first, middle, last, Job(canceller))
    assert run_checked(s.co_run)
    assert ("start", "middle") not in log.events
    assert middle.status is Status.CANCELLED
    assert log.index("start", "last") > log.index("end", "first")


def test_cancel_waiting_job() -> None:
    log = Log()
    a = log.j("a", 0.01)
    b = log.j("b")

    async def canceller() -> None:
        assert b.status is Status.WAITING
        assert b.cancel("no room") is True

    c = Job(canceller, required=None)
    s = Scheduler(c, a, b, jobs_window=2)
    assert run_checked(s.co_run)
    assert b.status is Status.CANCELLED and ("start", "b") not in log.events


def test_external_cancellation_cancels_everything_with_its_reason() -> None:
    log = Log()
    slow = log.j("slow", 5)
    idle = log.j("idle", required=slow)
    s = Scheduler(slow, idle)

    async def main() -> None:
        task = asyncio.ensure_future(s.co_run())
        await asyncio.sleep(0.01)
        task.cancel("interrupted")
        with pytest.raises(asyncio.CancelledError):
            await task

    run_checked(main)
    assert slow.status is Status.CANCELLED and slow.cancel_reason == "interrupted"
    assert idle.status is Status.SKIPPED
    assert s.why() == "CANCELLED (interrupted)"
    assert ("end", "slow") in log.events


def test_shutdown_hooks_run_once_at_the_end() -> None:
    calls: list[str] = []

    class Conn(AbstractJob):
        async def co_run(self) -> int:
            return 1

        async def co_shutdown(self) -> None:
            calls.append(self.label_text())

    s = Scheduler(Conn(label="a"), Conn(label="b"))
    assert run_checked(s.co_run)
    assert calls == ["a", "b"]
    assert run_checked(s.co_shutdown) is None  # already done for this run (asynciojobs)
    assert calls == ["a", "b"]


def test_shutdown_hook_that_hangs_is_cancelled_after_shutdown_timeout() -> None:
    class Stuck(AbstractJob):
        async def co_run(self) -> None:
            return None

        async def co_shutdown(self) -> None:
            try:
                await asyncio.sleep(1)
            except asyncio.CancelledError:
                cancelled.append(asyncio.get_running_loop().time())
                raise

    cancelled: list[float] = []
    s = Scheduler(Stuck(), shutdown_timeout=0.2)

    async def main() -> tuple[bool, float, float]:
        loop = asyncio.get_running_loop()
        begin = loop.time()
        ok = await s.co_run()
        return ok, begin, loop.time()

    ok, begin, end = run_checked(main)
    assert ok is True  # the run's outcome; the shutdown's own is logged
    assert len(cancelled) == 1  # the hook was cut, not left to finish its second
    assert 0.19 <= cancelled[0] - begin < 0.35, cancelled[0] - begin
    assert 0.19 <= end - begin < 0.35, end - begin


def test_rerun_reruns_only_what_did_not_succeed() -> None:
    calls: dict[str, int] = {"ok": 0, "flaky": 0}

    async def ok() -> str:
        calls["ok"] += 1
        return "ok"

    async def flaky(previous: str) -> str:
        assert previous == "ok"
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise RuntimeError("first time")
        return "fine"

    a = Job(ok)
    b = Job(flaky, a, critical=False)
    s = Scheduler(a, b)
    assert run_checked(s.co_run)
    assert b.status is Status.FAILED
    assert run_checked(s.co_run)
    assert calls == {"ok": 1, "flaky": 2}
    assert b.result() == "fine"


def test_rerun_with_spent_coroutine_raises_before_anything_runs() -> None:
    ran: list[str] = []

    async def fail() -> None:
        raise RuntimeError("x")

    async def record() -> None:
        ran.append("record")

    one_shot = Job(fail(), label="one-shot", critical=False)
    s = Scheduler(one_shot, Job(record, critical=False, required=None))
    run_checked(s.co_run)
    ran.clear()
    with pytest.raises(NotRerunnableError, match="one-shot") as info:
        run_checked(s.co_run)
    assert info.value.jobs == [one_shot]
    assert ran == []


def test_reset_reruns_everything() -> None:
    calls: list[int] = []

    async def work() -> None:
        calls.append(1)

    s = Scheduler(Job(work), Job(work))
    run_checked(s.co_run)
    s.reset()
    assert all(j.status is Status.IDLE for j in s.jobs)
    run_checked(s.co_run)
    assert len(calls) == 4


def test_sequence_chains_jobs() -> None:
    log = Log()
    seq = Sequence(log.j("a"), log.j("b"), log.j("c"))
    s = Scheduler(seq)
    assert run_checked(s.co_run)
    assert [e for e in log.events] == [
        ("start", "a"),
        ("end", "a"),
        ("start", "b"),
        ("end", "b"),
        ("start", "c"),
        ("end", "c"),
    ]


def test_nested_scheduler_runs_as_a_job() -> None:
    log = Log()
    inner = Scheduler(Sequence(log.j("i1"), log.j("i2")), label="inner")
    before = log.j("before")
    after = log.j("after")
    s = Scheduler(Sequence(before, inner, after))
    assert run_checked(s.co_run)
    assert [name for kind, name in log.events if kind == "start"] == ["before", "i1", "i2", "after"]
    assert inner.status is Status.SUCCEEDED and inner.result() is True
    assert [j.label_text() for j in s.iterate_jobs()] == ["before", "i1", "i2", "after"]


def test_nested_critical_failure_propagates_as_the_nested_job_failing() -> None:
    inner = Scheduler(Log().j("deep", fail=True), label="inner", critical=False)
    s = Scheduler(inner, Job(asyncio.sleep, 0))
    assert run_checked(s.co_run) is True
    assert inner.status is Status.SUCCEEDED and inner.result() is False
    inner2 = Scheduler(Log().j("deep", fail=True), label="inner2")
    s2 = Scheduler(inner2)
    with pytest.raises(ValueError, match="deep failed"):
        run_checked(s2.co_run)
    assert inner2.status is Status.FAILED


def test_cancel_nested_scheduler_as_a_job() -> None:
    log = Log()
    inner = Scheduler(log.j("deep", 5), label="inner")
    other = log.j("other", 0.02)

    async def canceller() -> None:
        await asyncio.sleep(0.005)
        assert inner.cancel("skip inner") is True

    s = Scheduler(inner, other, Job(canceller))
    assert run_checked(s.co_run) is True
    assert inner.status is Status.CANCELLED
    deep = next(iter(inner.jobs))
    assert deep.status is Status.CANCELLED and deep.cancel_reason == "skip inner"
    assert other.status is Status.SUCCEEDED


def test_statistics_is_an_immutable_snapshot() -> None:
    a = Job(asyncio.sleep, 0)
    b = Log().j("b", fail=True, critical=False)
    s = Scheduler(a, b)
    before = s.statistics()
    assert before.counts[Status.IDLE] == 2 and not before.started
    run_checked(s.co_run)
    after = s.statistics()
    assert after.counts[Status.SUCCEEDED] == 1 and after.counts[Status.FAILED] == 1
    assert after.finished and after.outcome == "success" and after.elapsed is not None
    assert before.counts[Status.IDLE] == 2  # the old snapshot did not change
    with pytest.raises(TypeError):
        after.counts[Status.IDLE] = 3  # type: ignore[index]


def test_run_blocks_outside_a_loop_and_works_twice() -> None:
    s = Scheduler(Job(asyncio.sleep, 0, label="z"))
    assert s.run(view=False) is True
    assert s.run(view=False) is True


def test_seed_engine_and_orchestrate() -> None:
    async def mycoro(timeout: float) -> float:
        await asyncio.sleep(timeout / 100)
        return 1000 * timeout

    from nbjobs import Engine

    a1, a2, a3 = Job(mycoro(1)), Job(mycoro(2)), Job(mycoro(1.5))
    assert Engine(a1, a2, a3).orchestrate(view=False) is True
    b1, b2, b3 = Job(mycoro(1), label="first"), Job(mycoro(2)), Job(mycoro(1.5), label="last")
    b3.requires(b1)
    e2 = Engine(b1, b2, b3)
    assert e2.orchestrate(view=False) is True
    assert b1.is_done()
    assert b3.result() == 1500.0
    assert [str(j.result()) for j in e2.jobs] == ["1000", "2000", "1500.0"]
    assert "requires [first]" in repr(b3)


def test_no_task_left_after_job_raises_keyboard_interrupt() -> None:
    async def interrupt() -> None:
        await asyncio.sleep(0.005)
        raise KeyboardInterrupt

    async def sleeper() -> None:
        await asyncio.sleep(5)

    slow = Job(sleeper)
    s = Scheduler(slow, Job(interrupt))
    with pytest.raises(KeyboardInterrupt):
        s.run(view=False)
    assert slow.status is Status.CANCELLED and slow.cancel_reason == "interrupted"
