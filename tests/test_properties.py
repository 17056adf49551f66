"""Property tests over random DAGs: ordering, window, structure, outcomes.

Each example builds a random DAG (requirements point to earlier jobs), random bodies
(short sleeps, failures critical or not), a random window, and sometimes a global timeout,
a whole-run cancellation or single-job cancellations. Whatever the timing, these hold:
no job starts before all its requirements ended; the window is never exceeded; no task is
left when co_run() returns or raises; the returned value or exception and every job's
status follow the rules.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbjobs import Job, Scheduler, Status
from tests.conftest import run_checked

OK, SOFT_FAIL, HARD_FAIL = "ok", "soft", "hard"


@dataclass
class Spec:
    reqs: list[list[int]]
    data: list[list[int]]  # subset of reqs whose results are arguments
    outcome: list[str]
    delay: list[int]  # number of sleep(0.001) steps; 0 means a bare sleep(0)
    forever: list[bool]
    window: int | None
    timeout: float | None
    cancel_run_after: float | None
    cancel_jobs: list[int] = field(default_factory=list)


@st.composite
def specs(draw: st.DrawFn, max_jobs: int = 40, allow_chaos: bool = True) -> Spec:
    n = draw(st.integers(1, max_jobs))
    reqs: list[list[int]] = []
    data: list[list[int]] = []
    for i in range(n):
        if i == 0:
            reqs.append([])
            data.append([])
            continue
        chosen = draw(st.lists(st.integers(0, i - 1), max_size=min(i, 4), unique=True))
        reqs.append(chosen)
        data.append([r for r in chosen if draw(st.booleans())])
    outcome = draw(
        st.lists(
            st.sampled_from([OK] * 8 + [SOFT_FAIL] * 2 + ([HARD_FAIL] if allow_chaos else [])),
            min_size=n,
            max_size=n,
        )
    )
    delay = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    forever = [False] * n
    if allow_chaos and n > 1 and draw(st.booleans()):
        # a forever job nobody requires (a job requiring it would never start); never the
        # only job: with nothing finite to wait for, a run lasts until it is stopped
        required = {r for rs in reqs for r in rs}
        free = [i for i in range(n) if i not in required]
        if free:
            forever[draw(st.sampled_from(free))] = True
    # a forever job holds its window slot until the run ends (as in asynciojobs): with a
    # window of 1, the jobs queued behind it would wait for ever
    window = draw(st.one_of(st.none(), st.integers(2 if any(forever) else 1, 5)))
    timeout = (
        draw(st.one_of(st.none(), st.sampled_from([0.002, 0.01, 0.05]))) if allow_chaos else None
    )
    cancel_after = (
        draw(st.one_of(st.none(), st.sampled_from([0.0, 0.003]))) if allow_chaos else None
    )
    cancel_jobs = (
        draw(st.lists(st.integers(0, n - 1), max_size=3, unique=True)) if allow_chaos else []
    )
    return Spec(reqs, data, outcome, delay, forever, window, timeout, cancel_after, cancel_jobs)


class Probe:
    """What the job bodies observed."""

    def __init__(self, window: int | None) -> None:
        self.window = window
        self.active = 0
        self.max_active = 0
        self.violations: list[str] = []
        self.started: set[int] = set()
        self.received: dict[int, tuple[Any, ...]] = {}


def build(spec: Spec) -> tuple[Scheduler, list[Job], Probe]:
    probe = Probe(spec.window)
    jobs: list[Job] = []

    async def body(index: int, *inputs: Any) -> int:
        job = jobs[index]
        for req in job.required:
            if not req.status.finished:
                probe.violations.append(f"{index} started before {req.label} ended")
        probe.started.add(index)
        probe.received[index] = inputs
        probe.active += 1
        probe.max_active = max(probe.max_active, probe.active)
        try:
            if spec.forever[index]:
                await asyncio.Event().wait()  # until the run cancels it
            if spec.delay[index]:
                for _ in range(spec.delay[index]):
                    await asyncio.sleep(0.001)
            else:
                await asyncio.sleep(0)
            if spec.outcome[index] != OK:
                raise ValueError(f"job {index} fails")
            return index
        finally:
            probe.active -= 1

    for i in range(len(spec.reqs)):
        producers = [jobs[r] for r in spec.data[i]]
        plain = [jobs[r] for r in spec.reqs[i] if r not in spec.data[i]]
        jobs.append(
            Job(
                body,
                i,
                *producers,
                label=i,
                required=plain,
                critical=spec.outcome[i] == HARD_FAIL,
                forever=spec.forever[i],
            )
        )
    sched = Scheduler(*jobs, jobs_window=spec.window, timeout=spec.timeout)
    return sched, jobs, probe


def run_spec(spec: Spec) -> tuple[Scheduler, list[Job], Probe, Any]:
    sched, jobs, probe = build(spec)
    cancelled_run: list[bool] = []

    async def main() -> Any:
        task = asyncio.ensure_future(sched.co_run())
        if spec.cancel_jobs:
            await asyncio.sleep(0)
            for index in spec.cancel_jobs:
                jobs[index].cancel("property test")
        if spec.cancel_run_after is not None:
            await asyncio.sleep(spec.cancel_run_after)
            cancelled_run.append(sched.cancel("stop"))
        try:
            return await task
        except (ValueError, TimeoutError) as exc:
            return exc

    outcome = run_checked(main)
    return sched, jobs, probe, (outcome, bool(cancelled_run and cancelled_run[0]))


def check_common(spec: Spec, sched: Scheduler, jobs: list[Job], probe: Probe) -> None:
    assert probe.violations == []
    if spec.window is not None:
        assert probe.max_active <= spec.window
    for i, job in enumerate(jobs):
        status = job.status
        # nothing is left half-way once the run returned
        assert status.finished, (i, status)
        if i in probe.started:
            assert job.is_running()
            assert status in (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
        else:
            assert status in (Status.SKIPPED, Status.CANCELLED), (i, status)
        if status is Status.SUCCEEDED:
            assert job.result() == i
            # a consumer received exactly its producers' results
            assert probe.received[i] == tuple(spec.data[i])
        if status is Status.FAILED:
            assert str(job.raised_exception()) == f"job {i} fails"
        if status is Status.SKIPPED:
            assert job.skip_reason
        if status is Status.CANCELLED:
            assert job.cancel_reason


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_random_dags_keep_order_window_and_outcome_rules(spec: Spec) -> None:
    sched, jobs, probe, (result, run_was_cancelled) = run_spec(spec)
    check_common(spec, sched, jobs, probe)
    hard_failed = [j for j in jobs if j.status is Status.FAILED and j.critical]
    if isinstance(result, TimeoutError):
        assert sched.failed_time_out() and spec.timeout is not None
    elif isinstance(result, ValueError):
        assert sched.failed_critical()
        # the first critical failure is raised; every failure is listed
        first = next(j for j in sched.failures() if j.critical)
        assert result is first.raised_exception()
        assert set(hard_failed) <= set(sched.failures())
    elif result is False:
        assert run_was_cancelled and sched.why() == "CANCELLED (stop)"
    else:
        assert result is True
        assert sched.why() == "FINE"
        assert not hard_failed
        for i, job in enumerate(jobs):
            if spec.forever[i] and job.status is not Status.SKIPPED:
                assert job.status is Status.CANCELLED
            elif job.status is Status.SKIPPED:
                # skipped only because a producer of its arguments did not succeed
                assert any(jobs[p].status is not Status.SUCCEEDED for p in spec.data[i])


@settings(max_examples=100, deadline=None)
@given(specs(max_jobs=60, allow_chaos=False))
def test_without_chaos_statuses_are_exactly_predicted(spec: Spec) -> None:
    sched, jobs, probe, (result, _) = run_spec(spec)
    check_common(spec, sched, jobs, probe)
    assert result is True
    expected: list[Status] = []
    for i in range(len(jobs)):
        if any(expected[p] is not Status.SUCCEEDED for p in spec.data[i]):
            expected.append(Status.SKIPPED)
        elif spec.outcome[i] == OK:
            expected.append(Status.SUCCEEDED)
        else:
            expected.append(Status.FAILED)
    assert [j.status for j in jobs] == expected


@settings(max_examples=15, deadline=None)
@given(st.integers(100, 300), st.one_of(st.none(), st.integers(1, 50)), st.randoms())
def test_larger_dags_complete_in_topological_order(n: int, window: int | None, rnd: Any) -> None:
    order: list[int] = []

    async def body(i: int) -> int:
        order.append(i)
        await asyncio.sleep(0)
        return i

    jobs: list[Job] = []
    for i in range(n):
        reqs = rnd.sample(jobs, min(len(jobs), rnd.randint(0, 3)))
        jobs.append(Job(body, i, required=reqs, label=i))
    rnd.shuffle(insertion := list(jobs))
    sched = Scheduler(*insertion, jobs_window=window)
    assert run_checked(sched.co_run) is True
    position = {i: k for k, i in enumerate(order)}
    for job in jobs:
        for req in job.required:
            assert position[req.label] < position[job.label]
    assert sorted(order) == list(range(n))
