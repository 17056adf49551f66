"""What a graph and a run leave for the garbage collector.

Every container object that lives as long as the graph (or the run) is one more for each
full pass of the garbage collector; with 100k jobs those passes dominate a run. These
tests pin the number of such objects per job.
"""

from __future__ import annotations

import asyncio
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


@pytest.mark.parametrize("form", ["fn", "coro"])
def test_a_chain_holds_one_container_per_job(form: str) -> None:
    # the job alone: its one requirement is held without a tuple, and no per-job set,
    # dict or finalizer (the coroutine objects are the caller's, made before the count)
    coros = [body(i) for i in range(1001)] if form == "coro" else []
    first = Job(coros[0]) if coros else Job(body, 0)
    gc.collect()
    before = len(gc.get_objects())
    jobs = [first]
    for i in range(1, 1001):
        jobs.append(Job(coros[i], required=jobs[-1]) if coros else Job(body, i, required=jobs[-1]))
    sched = Scheduler(*jobs, view=False)
    gc.collect()
    assert (len(gc.get_objects()) - before) / 1000 < 1.05
    assert list(jobs[-1].required) == [jobs[-2]]
    assert sched.run() is True
    assert jobs[-1].result() == 1000


def test_requirements_keep_their_order_through_every_form() -> None:
    a, b, c = Job(body, 0), Job(body, 1), Job(body, 2)
    job = Job(body, 3, required=a)
    assert list(job.required) == [a] and a in job.required and b not in job.required
    job.requires(b, c)
    assert list(job.required) == [a, b, c]
    job.requires(a, remove=True)
    assert list(job.required) == [b, c]
    job.requires(c, remove=True)
    assert list(job.required) == [b] and len(job.required) == 1
    job.requires(b, remove=True)
    assert list(job.required) == [] and not job.required
    with pytest.raises(KeyError):
        job.requires(b, remove=True)
    many = [Job(body, i) for i in range(12)]
    job.requires(many)
    assert list(job.required) == many
    assert Scheduler(a, b, c, *many, job, view=False).run() is True


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


async def _fails(sched: Scheduler) -> None:
    raise ValueError("no")


def _failing_graph(skipped: int) -> Scheduler:
    # the body's frame holds the scheduler, and the failure's traceback holds that frame:
    # after the run, only the garbage collector frees the scheduler and its jobs
    sched = Scheduler(critical=False, view=False)
    # coroutines older than their jobs: the collector would finalize them first
    coros = [body(i) for i in range(skipped)]
    gc.collect()
    first = Job(_fails(sched), scheduler=sched)
    for coro in coros:
        Job(coro, required=first, scheduler=sched)
    return sched


def test_the_coroutines_a_failed_run_skipped_are_closed_when_its_cycle_is_freed() -> None:
    import warnings
    import weakref

    from nbjobs._core import job as job_module

    gc.collect()
    sched = _failing_graph(20)
    assert sched.run() is False
    assert [job.status.value for job in sched.jobs][1:] == ["skipped"] * 20
    # held from the run's end (nothing is held before a run)
    assert len(job_module._unstarted) == 20
    alive = weakref.ref(sched)
    del sched
    assert alive() is not None  # a cycle
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert alive() is None
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []
    assert len(job_module._unstarted) == 0


def test_a_coroutine_job_that_ran_leaves_nothing_held() -> None:
    from nbjobs._core import job as job_module

    before = len(job_module._unstarted)
    jobs = [Job(body(i)) for i in range(50)]
    # nothing is held before a run: a job freed before it closes its coroutine itself
    assert len(job_module._unstarted) == before
    assert Scheduler(*jobs, view=False).run() is True
    assert len(job_module._unstarted) == before
    skipped = Job(body(1))
    del skipped
    assert len(job_module._unstarted) == before


def test_a_scheduler_lists_its_jobs_without_a_table_and_keeps_membership_exact() -> None:
    a, b, c, d = (Job(body, i, label=f"j{i}") for i in range(4))
    sched = Scheduler(a, b, a, c, view=False)  # a job given twice is added once
    assert list(sched.jobs) == [a, b, c] and len(sched) == 3
    assert sched._counts[a.status] == 3
    assert type(sched._jobs._list) is list  # no dict next to the list
    assert a in sched and d not in sched and "a string" not in sched
    sched.remove(b)
    assert b not in sched and list(sched.jobs) == [a, c] and len(sched) == 2
    assert b.scheduler is None
    sched.add(b)  # back, at the end, listed once
    assert list(sched.jobs) == [a, c, b] and len(sched) == 3
    other = Scheduler(view=False)
    other.add(c)  # moves: the first scheduler never ran
    assert c not in sched and c in other and list(sched.jobs) == [a, b]
    sched.update([c, d])
    assert list(sched.jobs) == [a, b, c, d] and list(other.jobs) == []
    assert sched.run() is True
    assert [job.result() for job in sched.jobs] == [0, 1, 2, 3]


def test_removing_many_jobs_keeps_order_and_counts() -> None:
    jobs = [Job(body, i) for i in range(1000)]
    sched = Scheduler(*jobs, view=False)
    for job in jobs[::3]:
        sched.remove(job)
    kept = [job for k, job in enumerate(jobs) if k % 3]
    assert list(sched.jobs) == kept and len(sched) == len(kept)
    assert len(sched._jobs._list) < 1000  # compacted on the way
    assert sum(sched._counts.values()) == len(kept)
    assert sched.run() is True
    assert all(job.result() == k for k, job in enumerate(jobs) if k % 3)


def test_job_ids_are_given_when_first_asked_for() -> None:
    a, b = Job(body, 0), Job(body, 1)
    assert b.id < a.id  # asked for first
    assert a.id == a.id and f"#{a.id}" in repr(a)


def test_every_form_of_required_at_construction_gives_the_same_requirements() -> None:
    from nbjobs import Sequence

    a, b, c = Job(body, 0), Job(body, 1), Job(body, 2)
    forms: list[tuple[object, list[Job]]] = [
        (a, [a]),
        ([a], [a]),
        ((a, b), [a, b]),
        ([a, b, c], [a, b, c]),
        ([a, a], [a]),  # given twice, required once
        ([b, a, b, c, a], [b, a, c]),
        ([a, None, [b, (c,)]], [a, b, c]),
        (Sequence(Job(body, 3), b), [b]),  # a sequence stands for its last job
        ([], []),
    ]
    for given, expected in forms:
        job = Job(body, 9, required=given)
        assert list(job.required) == expected, given
    many = [Job(body, i) for i in range(10)]
    assert list(Job(body, 9, required=many).required) == many
    with pytest.raises(TypeError, match="a requirement must be a job"):
        Job(body, 9, required=[a, "b"])


def test_requirements_move_between_their_forms_in_order() -> None:
    # up to three held in the job, four to eight in a tuple, a dict beyond: the view
    # and the run see the same ordered requirements whichever form holds them
    pool = [Job(body, i) for i in range(12)]
    job = Job(body, 99)
    for k, req in enumerate(pool):
        job.requires(req)
        assert list(job.required) == pool[: k + 1]
    for k, req in enumerate(pool):
        job.requires(req, remove=True)
        assert list(job.required) == pool[k + 1 :]
        assert len(job.required) == len(pool) - k - 1
    assert job._req == () and job._req2 is None and job._req3 is None
    job.required = pool[:3]  # type: ignore[assignment]  # as asynciojobs subclasses assign it
    assert (
        list(job.required) == pool[:3] and pool[2] in job.required and pool[3] not in job.required
    )
    job.requires(pool[1], remove=True)
    assert list(job.required) == [pool[0], pool[2]]
    assert Scheduler(*pool, job, view=False).run() is True


@pytest.mark.parametrize("fanin", [1, 2, 3, 4])
def test_a_graph_of_few_requirements_holds_one_container_per_job(fanin: str) -> None:
    coros = [body(i) for i in range(1000)]
    gc.collect()
    before = len(gc.get_objects())
    jobs: list[Job] = []
    for i, coro in enumerate(coros):
        jobs.append(Job(coro, required=jobs[-fanin:] if i >= fanin else None))
    sched = Scheduler(*jobs, view=False)
    gc.collect()
    per_job = (len(gc.get_objects()) - before) / 1000
    # the job alone up to three requirements; a tuple beyond
    assert per_job < (1.05 if fanin <= 3 else 2.05), per_job
    assert sched.run() is True
    assert [job.result() for job in jobs] == list(range(1000))


@pytest.mark.parametrize("ending", ["success", "failure", "cancelled", "never run"])
def test_a_graph_is_freed_by_reference_counting_after_a_run(ending: str) -> None:
    # no reference cycle among jobs (a lone successor held by its requirement would make
    # one): dropping the names frees the graph at once, without the garbage collector
    import weakref

    async def fails() -> None:
        raise ValueError("no")

    async def sleeps() -> None:
        await asyncio.sleep(3600)

    jobs: list[Job] = [Job(body, 0)]
    for i in range(1, 200):
        if ending == "failure" and i == 50:
            jobs.append(Job(fails, required=jobs[-1], label="fails"))
        elif ending == "cancelled" and i == 50:
            jobs.append(Job(sleeps, required=jobs[-1], label="sleeps"))
        else:
            jobs.append(Job(body, i, required=jobs[-1]))
    inner = [Job(body, 7), Job(body, 8)]
    inner[1].requires(inner[0])
    nested = Scheduler(*inner, required=jobs[60])  # never runs when the run stops at 50
    sched = Scheduler(*jobs, nested, view=False, critical=False)
    if ending == "cancelled":
        sched.timeout = 0.2  # the run ends with jobs 51 and on never started
    if ending != "never run":
        sched.run()
    alive = [weakref.ref(job) for job in (*jobs, *inner)] + [weakref.ref(sched)]
    gc.disable()
    try:
        del jobs, inner, nested, sched
        if ending == "failure":
            # a failure's traceback holds the frames that held its job: a cycle of
            # Python's making, which the garbage collector frees
            gc.collect()
        assert [ref for ref in alive if ref() is not None] == []
    finally:
        gc.enable()


def test_a_refused_job_leaves_the_ones_added_before_it_in_place() -> None:
    from nbjobs import OwnershipError

    ran = Scheduler(Job(body, 0), view=False)
    taken = next(iter(ran.jobs))
    assert ran.run() is True
    a, b = Job(body, 1), Job(body, 2)
    sched = Scheduler(view=False)
    events: list[object] = []
    sched.subscribe(events.append)
    with pytest.raises(OwnershipError):
        sched.update([a, b, taken, Job(body, 3)])
    assert list(sched.jobs) == [a, b] and len(sched) == 2
    assert a in sched and taken not in sched and taken in ran
    assert sum(sched._counts.values()) == 2
    assert [e.kind.value for e in events] == ["structure"]  # views hear of a and b


def test_a_job_gets_one_id_when_threads_ask_at_once() -> None:
    import threading

    jobs = [Job(body, i) for i in range(20000)]
    seen: list[list[int]] = [[], []]
    start = threading.Barrier(2)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can

    def ask(k: int) -> None:
        start.wait()
        seen[k] = [job.id for job in jobs]

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert seen[0] == seen[1] == [job.id for job in jobs]
    assert len(set(seen[0])) == len(jobs)
