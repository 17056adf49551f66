"""Job bodies on standard executors: a real ProcessPoolExecutor (2 processes) and a thread
pool; bad input rejected before anything runs."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import pytest

from nbjobs import ExecutorClosedError, Job, Scheduler, Status
from tests.conftest import run_checked


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as executor:
        yield executor


def pid_and(value: Any) -> tuple[int, Any]:
    return os.getpid(), value


def add(*values: int) -> int:
    return sum(values)


async def async_double(x: int) -> int:
    await asyncio.sleep(0.01)
    return 2 * x


def chatty(n: int) -> int:
    import logging

    print(f"printed {n}")
    logging.getLogger("body").warning("logged %d", n)
    return n


def fails() -> None:
    raise KeyError("missing")


def sleeps(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_results_and_data_edges_through_a_process_pool(pool: ProcessPoolExecutor) -> None:
    a = Job(pid_and, 1, executor=pool)
    b = Job(add, 2, 3, executor=pool)
    c = Job(lambda x, y: x[1] + y, a, b, executor=pool)  # a lambda: shipped by value
    d = Job(add, c, 10)  # on this loop
    assert Scheduler(a, b, c, d).run(view=False)
    assert a.result()[0] != os.getpid()
    assert c.result() == 6 and d.result() == 16
    assert a.where is not None and a.where.startswith("process pool, process ")


def test_async_body_runs_with_asyncio_run_in_the_worker(pool: ProcessPoolExecutor) -> None:
    job = Job(async_double, 21, executor=pool)
    assert Scheduler(job).run(view=False)
    assert job.result() == 42


def test_output_of_a_process_body_is_its_jobs(
    pool: ProcessPoolExecutor, capfd: pytest.CaptureFixture[str]
) -> None:
    jobs = [Job(chatty, n, executor=pool) for n in range(2)]
    assert Scheduler(*jobs).run(view=False)
    for n, job in enumerate(jobs):
        assert job.output.text("stdout") == f"printed {n}\n"
        assert job.output.text("log") == f"WARNING:body:logged {n}\n"
    assert "printed" not in capfd.readouterr().out


def test_remote_exception_keeps_its_type_and_the_remote_traceback(
    pool: ProcessPoolExecutor,
) -> None:
    job = Job(fails, executor=pool, critical=False)
    assert Scheduler(job).run(view=False)
    exc = job.raised_exception()
    assert isinstance(exc, KeyError)
    assert "in fails" in str(exc.__cause__)


def test_retries_and_timeouts_apply(pool: ProcessPoolExecutor, tmp_path: Any) -> None:
    slow = Job(sleeps, 5, executor=pool, timeout=0.3, critical=False)
    begin = time.monotonic()
    assert Scheduler(slow).run(view=False)
    assert time.monotonic() - begin < 5
    assert isinstance(slow.raised_exception(), TimeoutError)


def test_cancel_ends_a_pool_job_at_once(pool: ProcessPoolExecutor) -> None:
    long = Job(sleeps, 3, executor=pool, critical=False)

    async def cancel_soon() -> None:
        await asyncio.sleep(0.3)
        long.cancel("stop")

    begin = time.monotonic()
    run_checked(Scheduler(long, Job(cancel_soon)).co_run)
    assert time.monotonic() - begin < 3
    assert long.status is Status.CANCELLED


def test_thread_pool_output_is_captured_live() -> None:
    with ThreadPoolExecutor(2) as threads:
        seen: list[str] = []

        def body() -> str:
            print("from a pool thread")
            return threading.current_thread().name

        job = Job(body, executor=threads)
        s = Scheduler(job)
        s.subscribe(lambda event: seen.append(event.text or "") if event.text else None)
        assert s.run(view=False)
        assert job.result().startswith("ThreadPoolExecutor")
        assert job.output.text() == "from a pool thread\n"


def test_scheduler_executor_is_the_default_of_its_callable_jobs(
    pool: ProcessPoolExecutor,
) -> None:
    async def here() -> int:
        return os.getpid()

    coro_job = Job(here())  # a coroutine object stays on this loop
    fn_job = Job(pid_and, 0)
    s = Scheduler(coro_job, fn_job, executor=pool)
    assert s.run(view=False)
    assert coro_job.result() == os.getpid()
    assert fn_job.result()[0] != os.getpid()


def test_an_unpicklable_body_names_the_job(pool: ProcessPoolExecutor) -> None:
    lock = threading.Lock()
    job = Job(pid_and, lock, executor=pool, critical=False, label="with a lock")
    assert Scheduler(job).run(view=False)
    exc = job.raised_exception()
    assert isinstance(exc, pickle.PicklingError)
    assert "'with a lock'" in str(exc) and "pass arguments that pickle" in str(exc)


# ---- bad input --------------------------------------------------------------------------
def test_executor_that_is_not_an_executor_is_rejected() -> None:
    with pytest.raises(TypeError, match=r"executor= takes a concurrent.futures.Executor"):
        Job(pid_and, 1, executor="processes")
    with pytest.raises(TypeError, match=r"executor= takes"):
        Scheduler(executor=4)


def test_executor_on_a_coroutine_object_is_rejected() -> None:
    async def body() -> None:
        return None

    coro = body()
    with pytest.raises(TypeError, match="coroutine object is bound to this process"):
        Job(coro, executor=ThreadPoolExecutor(1))
    # it was closed: no "never awaited" warning


def test_a_closed_executor_is_an_error_before_the_run() -> None:
    threads = ThreadPoolExecutor(1)
    threads.shutdown()
    with pytest.raises(ExecutorClosedError, match="closed"):
        Job(pid_and, 1, executor=threads)
    with pytest.raises(ExecutorClosedError, match="closed"):
        Scheduler(executor=threads)
    other = ThreadPoolExecutor(1)
    job = Job(pid_and, 1, executor=other)
    s = Scheduler(job)
    other.shutdown()
    with pytest.raises(ExecutorClosedError, match="closed"):
        s.run(view=False)
    assert job.status is Status.IDLE


def test_no_child_process_is_left_after_a_pool_closes() -> None:
    before = set(multiprocessing.active_children())
    with ProcessPoolExecutor(2) as own:
        assert Scheduler(Job(pid_and, 1, executor=own)).run(view=False)
    assert not (set(multiprocessing.active_children()) - before)


# ---- views ------------------------------------------------------------------------------
def test_views_show_where_a_job_ran_and_link_a_dashboard(pool: ProcessPoolExecutor) -> None:
    from nbjobs._core.remote import RemoteExecutor
    from nbjobs._views.table import table_html, table_text

    class WithDashboard(RemoteExecutor):
        name = "demo"
        dashboard_link = "http://127.0.0.1:8787/status?a=1&b=2"  # type: ignore[assignment]

        async def run_body(self, job: Any, fn: Any, args: Any, kwargs: Any) -> Any:
            job.where = "demo worker 7"
            return fn(*args, **kwargs)

    there = Job(pid_and, 1, executor=pool, label="there")
    demo = Job(add, 1, 2, executor=WithDashboard(), label="demo")
    s = Scheduler(there, demo)
    assert s.run(view=False)
    text = table_text(s)
    assert "demo dashboard: http://127.0.0.1:8787/status?a=1&b=2" in text
    [row] = [line for line in text.splitlines() if line.strip().startswith("there")]
    assert "on process pool, process " in row
    assert "on demo worker 7" in text
    html = table_html(s)
    assert '<a href="http://127.0.0.1:8787/status?a=1&amp;b=2"' in html


class _PoolWithPage(ThreadPoolExecutor):
    """A thread pool that says it has a web page, as a Dask cluster with its dashboard."""

    def __init__(self, link: str) -> None:
        super().__init__(1)
        self.dashboard_link = link


def test_widget_detail_says_where_a_body_ran_and_links_its_engine(pool: Any) -> None:
    from nbjobs._widget.widget import job_detail

    there = Job(pid_and, 1, executor=pool, label="there")
    with (
        _PoolWithPage("http://127.0.0.1:8787/status") as paged,
        _PoolWithPage("javascript:alert(1)") as bad,
    ):
        inner = Scheduler(Job(add, 1, 2, label="inner"), executor=paged, label="nested")
        shady = Job(add, 3, executor=bad, label="shady")
        here = Job(add, 4, label="here")
        s = Scheduler(there, inner, shady, here)
        assert s.run(view=False) is True
    details = {job.label: job_detail(job, 0.0) for job in (there, shady, here, *inner.jobs)}
    assert details["there"]["where"].startswith("process pool")
    assert details["there"]["dashboard"] is None  # a process pool has no page
    assert details["inner"]["dashboard"] == "http://127.0.0.1:8787/status"  # its scheduler's
    assert details["shady"]["dashboard"] is None  # only http(s) addresses become links
    assert details["here"]["where"] is None and details["here"]["dashboard"] is None
