"""What a graph and a run leave for the garbage collector.

Every container object that lives as long as the graph (or the run) is one more for each
full pass of the garbage collector; with 100k jobs those passes dominate a run. These
tests pin the number of such objects per job.
"""

from __future__ import annotations

import gc
import inspect
import platform
import sys

import pytest

from nbjobs import Job, Scheduler

# CPython keeps an instance's attributes in a compact values array, without a dict
# object, until something asks for its __dict__ (3.11 and later)
compact_attributes = pytest.mark.skipif(
    platform.python_implementation() != "CPython" or sys.version_info < (3, 11),
    reason="CPython's compact instance attributes",
)


async def body(i: int) -> int:
    return i


def _own_dicts(job: Job) -> list[object]:
    # every job without keyword arguments shares one empty dict for them
    from nbjobs._core.job import _NO_KWARGS

    return [o for o in gc.get_referents(job) if type(o) is dict and o is not _NO_KWARGS]


@compact_attributes
def test_a_job_has_no_dict_object() -> None:
    first = Job(body, 0)
    second = Job(body, 1, required=first, label="second")
    assert _own_dicts(second) == []
    assert Scheduler(first, second, view=False).run() is True
    assert _own_dicts(second) == []
    assert second.result() == 1


def _layered(n: int, width: int, started: list[int]) -> list[Job]:
    async def record(i: int) -> int:
        started.append(i)
        return i

    jobs: list[Job] = []
    for i in range(n):
        layer = i // width
        required = [jobs[(layer - 1) * width + (i * k) % width] for k in (1, 3)] if layer else None
        jobs.append(Job(record, i, required=required))
    return jobs


@pytest.mark.parametrize("insertion", ["in order", "reversed"])
def test_a_run_leaves_no_object_per_job(insertion: str) -> None:
    started: list[int] = []
    jobs = _layered(2000, 50, started)
    order = jobs if insertion == "in order" else jobs[::-1]
    sched = Scheduler(*order, view=False)
    gc.collect()
    before = len(gc.get_objects())
    assert sched.run() is True
    gc.collect()
    grown = len(gc.get_objects()) - before
    # the successors of every job live in one list per run, not in one per job
    assert grown < 100, grown
    # each body ends in its first step: jobs start breadth first, the successors a job
    # makes ready in insertion order, whichever order the plan found the jobs in
    position = {job: k for k, job in enumerate(order)}
    successors: dict[Job, list[Job]] = {job: [] for job in order}
    for job in order:
        for req in job.required:
            successors[req].append(job)  # type: ignore[index]
    left = {job: len(job.required) for job in order}
    queue = [job for job in order if not left[job]]
    expected = []
    for job in queue:
        expected.append(job)
        for nxt in sorted(successors[job], key=position.__getitem__):
            left[nxt] -= 1
            if not left[nxt]:
                queue.append(nxt)
    assert started == [job.result() for job in expected]


def test_a_graph_holds_two_containers_per_job() -> None:
    # the job and the tuple of its requirements: no per-job set, dict or finalizer
    first = Job(body, 0)
    gc.collect()
    before = len(gc.get_objects())
    jobs = [first]
    for i in range(1, 1001):
        jobs.append(Job(body, i, required=jobs[-1]))
    sched = Scheduler(*jobs, view=False)
    gc.collect()
    assert (len(gc.get_objects()) - before) / 1000 < 2.05
    assert sched.run() is True
    assert jobs[-1].result() == 1000


def test_an_unstarted_coroutine_in_a_garbage_cycle_is_closed_without_a_warning() -> None:
    import warnings

    coro = body(7)
    job = Job(coro)
    job.cycle = job  # type: ignore[attr-defined]  # freed only by the garbage collector
    del job
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert [w for w in caught if "never awaited" in str(w.message)] == []
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


def test_a_coroutine_job_that_ran_leaves_nothing_held() -> None:
    from nbjobs._core import job as job_module

    before = len(job_module._unstarted)
    jobs = [Job(body(i)) for i in range(50)]
    assert len(job_module._unstarted) == before + 50
    assert Scheduler(*jobs, view=False).run() is True
    assert len(job_module._unstarted) == before
    skipped = Job(body(1))
    del skipped
    assert len(job_module._unstarted) == before
