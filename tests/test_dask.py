"""Job bodies on Dask distributed, on a real LocalCluster of 2 worker processes (dashboard
off): results and data edges, a worker killed mid-run, a body that kills its worker,
cancel and timeout, remote exceptions and output, pickling, a real kernel, and no child
process left after close.

Without Dask distributed these tests skip with the reason (and fail under CI, which
installs the ``dask`` extra)."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nbjobs import ExecutorClosedError, Job, PureScheduler, Scheduler, Status
from tests.browser.support import need
from tests.conftest import run_checked

try:
    import dask
    import distributed
except ImportError:  # the dask extra is not installed
    dask = distributed = None

ROOT = Path(__file__).resolve().parent.parent
NEED = "Dask distributed is not installed (pip install 'nbjobs[dask]')"

# A killed worker makes Dask log and warn about the streams that died with it; a task
# graph with a local value in it may make Dask warn that it is large.
KILL_WARNINGS = [
    pytest.mark.filterwarnings("ignore:Worker stream died"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


def needs_dask() -> None:
    need(distributed is not None, NEED)


@pytest.fixture(scope="module")
def ex() -> Iterator[Any]:
    needs_dask()
    from nbjobs.dask import DaskExecutor

    executor = DaskExecutor(n_workers=2, threads_per_worker=1)
    # a task whose worker dies twice fails with KilledWorker (the default is 4 deaths)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        executor.client.wait_for_workers(2, timeout=60)
    yield executor
    executor.close()


def scheduler_keys(ex: Any) -> list[str]:
    """The keys of the tasks the Dask scheduler runs, or holds in memory on a worker (a
    released task stays known while a task that depends on it is, without its data)."""

    def keys(dask_scheduler: Any) -> list[str]:
        return [
            str(key)
            for key, task in dask_scheduler.tasks.items()
            if task.state in ("memory", "processing", "waiting", "queued", "no-worker")
        ]

    return ex.client.run_on_scheduler(keys)  # type: ignore[no-any-return]


def wait_until(predicate: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


# ---- bodies (module level: shipped to the workers by reference) -------------------------------
def square(x: int) -> int:
    return x * x


def add(*values: int) -> int:
    return sum(values)


def pid_and(value: Any) -> tuple[int, Any]:
    return os.getpid(), value


async def async_inc(x: int) -> tuple[int, bool]:
    await asyncio.sleep(0.01)
    # a fresh loop of its own, in a worker thread
    return x + 1, threading.current_thread() is not threading.main_thread()


def chatty(n: int) -> int:
    import logging

    print(f"hello from the worker {n}")
    logging.getLogger("body").warning("a warning %d", n)
    return n


def slow(x: int, delay: float = 0.3) -> int:
    time.sleep(delay)
    return x


def fails_with_key_error() -> None:
    raise KeyError("not there")


def dies_until(marker: str, deaths: int) -> str:
    path = Path(marker)
    count = int(path.read_text()) if path.exists() else 0
    if count < deaths:
        path.write_text(str(count + 1))
        os.kill(os.getpid(), signal.SIGKILL)
    return f"survived after {count} deaths"


def fails_once(marker: str) -> str:
    path = Path(marker)
    if not path.exists():
        path.write_text("1")
        raise RuntimeError("first attempt fails")
    return "second attempt"


# ---- results and data edges ----------------------------------------------------------------
def test_results_and_data_edges_stay_on_the_workers_until_asked(ex: Any) -> None:
    a = Job(square, 3, executor=ex, label="a")
    b = Job(add, a, 1, executor=ex, label="b")  # gets a's Dask future
    c = Job(add, b, 100, label="c")  # local: b's value is fetched for it
    d = Job(pid_and, c, executor=ex, label="d")
    s = Scheduler(a, b, c, d)
    assert s.run(view=False) is True
    # a's result went to b on Dask without coming here; b's was fetched for c, once
    assert not a._result._fetched and not a._result.released
    assert b._result._fetched
    assert b.result() == 10 and c.result() == 110
    pid, value = d.result()
    assert value == 110 and pid != os.getpid()
    assert d.where is not None and d.where.startswith("dask worker tcp://")
    # asked after the run, a's result is fetched then
    assert a.result() == 9


def test_the_issue_example_every_result_can_be_asked_after_the_run(ex: Any) -> None:
    # a and b run on Dask, c too (the scheduler's executor is the default): every
    # result stays on the workers until asked, and is fetched once
    a = Job(square, 6, executor=ex)
    b = Job(add, a, 1, executor=ex)
    c = Job(add, b, 2)
    s = Scheduler(a, b, c, executor=ex)
    assert s.run(view=False)
    assert b.result() == 37 and c.result() == 39 and a.result() == 36


def test_results_leave_the_cluster_when_their_jobs_are_freed(ex: Any) -> None:
    a = Job(square, 7, executor=ex, label="gone-a")
    b = Job(square, a, executor=ex, label="gone-b")
    s = Scheduler(a, b)
    assert s.run(view=False)
    assert any(k.startswith("gone-a") for k in scheduler_keys(ex))
    assert any(k.startswith("gone-b") for k in scheduler_keys(ex))
    del a, b, s
    gc.collect()
    assert wait_until(lambda: not any(k.startswith("gone-") for k in scheduler_keys(ex)))


def test_keep_results_false_releases_what_every_consumer_used(ex: Any) -> None:
    from nbjobs import ResultReleasedError
    from nbjobs.dask import DaskExecutor

    lean = DaskExecutor(client=ex.client, keep_results=False)
    a = Job(square, 4, executor=lean, label="rel-a")
    b = Job(square, a, executor=lean, label="rel-b")
    s = Scheduler(a, b)
    assert s.run(view=False)
    assert a._result.released
    assert wait_until(lambda: not any(k.startswith("rel-a") for k in scheduler_keys(ex)))
    assert any(k.startswith("rel-b") for k in scheduler_keys(ex))  # b's is still held
    assert b.result() == 256
    # fetched once: the workers need not hold it any more
    assert wait_until(lambda: not any(k.startswith("rel-") for k in scheduler_keys(ex)))
    # a consumed result that was released says so
    with pytest.raises(ResultReleasedError, match="keep_results"):
        a.result()
    lean.close()
    assert ex.client.status != "closed"  # a client given to it stays the caller's


def test_scheduler_executor_is_a_default_a_jobs_own_wins(ex: Any) -> None:
    here = Job(pid_and, 1, executor=None, label="here")
    there = Job(pid_and, 2, label="there")
    nested = Scheduler(Job(pid_and, 3, label="inner"), label="nested")
    s = Scheduler(here, there, nested, executor=ex)
    assert s.run(view=False)
    # executor=None on a job means "the scheduler's": both went to Dask
    assert here.result()[0] != os.getpid()
    assert there.result()[0] != os.getpid()
    [inner] = nested.jobs
    assert inner.result()[0] != os.getpid()
    s.executor = None
    s.reset()
    assert s.run(view=False)
    assert here.result()[0] == os.getpid() and there.result()[0] == os.getpid()


def test_async_body_runs_in_a_fresh_loop_on_the_worker(ex: Any) -> None:
    job = Job(async_inc, 41, executor=ex)
    assert Scheduler(job).run(view=False)
    assert job.result() == (42, True)


def test_await_co_run_and_window(ex: Any) -> None:
    jobs = [Job(slow, i, 0.2, executor=ex) for i in range(4)]
    s = Scheduler(*jobs, jobs_window=2)
    assert run_checked(s.co_run) is True
    assert [j.result() for j in jobs] == [0, 1, 2, 3]
    starts = sorted(j.start_time for j in jobs)
    ends = sorted(j.end_time for j in jobs)
    assert starts[2] >= ends[0]  # the window held


# ---- failures, retries, lost workers -------------------------------------------------------
def test_remote_exception_keeps_its_type_and_the_bodys_frame(ex: Any) -> None:
    job = Job(fails_with_key_error, executor=ex, critical=False)
    assert Scheduler(job).run(view=False)
    exc = job.raised_exception()
    assert isinstance(exc, KeyError) and exc.args == ("not there",)
    frames = [f.name for f in traceback.extract_tb(exc.__traceback__)]
    assert "fails_with_key_error" in frames


def test_a_retry_gets_a_fresh_key(ex: Any, tmp_path: Path) -> None:
    job = Job(fails_once, str(tmp_path / "m"), executor=ex, retries=1)
    assert Scheduler(job).run(view=False)
    assert job.result() == "second attempt" and job.attempts == 2
    assert "attempt 1 failed (RuntimeError: first attempt fails)" in job.output.text()


@pytest.mark.filterwarnings("ignore:Worker stream died")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_body_that_kills_its_worker_fails_with_killed_worker_then_retries(
    ex: Any, tmp_path: Path
) -> None:
    marker = str(tmp_path / "deaths")
    # allowed-failures is 1: two deaths make a KilledWorker, the retry then survives
    job = Job(dies_until, marker, 2, executor=ex, retries=1, label="suicidal")
    assert Scheduler(job).run(view=False) is True
    assert job.result() == "survived after 2 deaths"
    assert job.attempts == 2
    assert "attempt 1 failed (KilledWorker" in job.output.text()
    ex.client.wait_for_workers(2, timeout=60)

    lone = Job(dies_until, str(tmp_path / "other"), 2, executor=ex, critical=False)
    assert Scheduler(lone).run(view=False)
    assert type(lone.raised_exception()).__name__ == "KilledWorker"
    ex.client.wait_for_workers(2, timeout=60)


@pytest.mark.filterwarnings("ignore:Worker stream died")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_worker_killed_mid_run_loses_no_job_and_no_result(ex: Any) -> None:
    ex.client.wait_for_workers(2, timeout=60)
    first = [Job(slow, i, 0.2, executor=ex, label=f"L0-{i}") for i in range(4)]
    second = [
        Job(add, first[i], first[(i + 1) % 4], executor=ex, label=f"L1-{i}") for i in range(4)
    ]
    killed: list[int] = []

    def kill_a_worker() -> None:
        pid = sorted(ex.client.run(os.getpid).values())[0]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = Job(kill_a_worker, required=first[:2], label="killer")  # a local job
    third = [Job(slow, j, 0.3, executor=ex, label=f"L2-{n}") for n, j in enumerate(second)]
    s = Scheduler(*first, *second, killer, *third)
    assert s.run(view=False) is True, s.why()
    assert killed
    assert [j.result() for j in third] == [1, 3, 5, 3]
    assert all(j.attempts == 0 for j in (*first, *second, *third))  # Dask recovered
    ex.client.wait_for_workers(2, timeout=60)


# ---- cancel and timeout ----------------------------------------------------------------------
def test_cancel_ends_the_job_at_once_and_cancels_the_dask_task(ex: Any) -> None:
    long = Job(slow, 0, 30, executor=ex, label="cancel-me", critical=False)

    async def cancel_soon() -> None:
        await asyncio.sleep(0.5)
        long.cancel("enough")

    s = Scheduler(long, Job(cancel_soon))
    begin = time.monotonic()
    run_checked(s.co_run)
    assert time.monotonic() - begin < 20
    assert long.status is Status.CANCELLED and long.cancel_reason == "enough"
    assert wait_until(lambda: not any(k.startswith("cancel-me") for k in scheduler_keys(ex)))


def test_timeout_fails_the_attempt_and_cancels_the_dask_task(ex: Any) -> None:
    long = Job(slow, 0, 30, executor=ex, label="time-me-out", timeout=0.5, critical=False)
    s = Scheduler(long)
    begin = time.monotonic()
    s.run(view=False)
    assert time.monotonic() - begin < 20
    assert isinstance(long.raised_exception(), TimeoutError)
    assert wait_until(lambda: not any(k.startswith("time-me-out") for k in scheduler_keys(ex)))


def test_cancelling_the_run_cancels_remote_jobs(ex: Any) -> None:
    jobs = [Job(slow, i, 30, executor=ex, label=f"whole-{i}") for i in range(2)]
    s = PureScheduler(*jobs, timeout=0.5)
    assert s.run(view=False) is False and s.failed_time_out()
    assert all(j.status is Status.CANCELLED for j in jobs)
    assert wait_until(lambda: not any(k.startswith("whole-") for k in scheduler_keys(ex)))


# ---- output, pickling ----------------------------------------------------------------------
def test_what_a_remote_body_prints_and_logs_reaches_its_job(
    ex: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = [Job(chatty, n, executor=ex) for n in range(3)]
    assert Scheduler(*jobs).run(view=False)
    for n, job in enumerate(jobs):
        assert job.output.text("stdout") == f"hello from the worker {n}\n"
        assert job.output.text("log") == f"WARNING:body:a warning {n}\n"
    # not in the kernel's (here: the test's) own output
    assert "hello from the worker" not in capsys.readouterr().out


def test_an_unpicklable_function_names_the_job_and_says_what_to_do(ex: Any) -> None:
    import pickle

    lock = threading.Lock()

    def holds_a_lock() -> bool:
        return lock.locked()

    job = Job(holds_a_lock, executor=ex, critical=False, label="locked")
    assert Scheduler(job).run(view=False)
    exc = job.raised_exception()
    assert isinstance(exc, pickle.PicklingError)
    assert "'locked'" in str(exc) and "define the function at the top level" in str(exc)


SCRIPT = """
from nbjobs import Job, Scheduler
from nbjobs.dask import DaskExecutor

def double(x):
    return 2 * x

if __name__ == "__main__":
    with DaskExecutor(n_workers=1, threads_per_worker=1) as ex:
        a = Job(double, 21, executor=ex)
        b = Job(lambda v: v + 0.5, a, executor=ex)
        assert Scheduler(a, b).run(view=False)
        print("result", b.result())
"""


def test_functions_of_a_scripts_main_are_shipped(tmp_path: Path) -> None:
    needs_dask()
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "result 42.5" in done.stdout


# ---- bad input, life cycle --------------------------------------------------------------------
def test_bad_arguments_of_dask_executor() -> None:
    needs_dask()
    from nbjobs.dask import DaskExecutor

    with pytest.raises(TypeError, match="address of a Dask scheduler"):
        DaskExecutor(8786)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="options of the embedded LocalCluster"):
        DaskExecutor("tcp://127.0.0.1:8786", n_workers=2)
    with pytest.raises(TypeError, match=r"takes a distributed\.Client"):
        DaskExecutor(client=object())


def test_a_closed_executor_is_an_error_before_the_run() -> None:
    needs_dask()
    from nbjobs.dask import DaskExecutor

    closed = DaskExecutor()
    closed.close()  # never started: closing costs nothing
    with pytest.raises(ExecutorClosedError, match="closed"):
        Job(square, 2, executor=closed)
    other = DaskExecutor()
    job = Job(square, 2, executor=other)
    s = Scheduler(job)
    other.close()
    with pytest.raises(ExecutorClosedError, match="closed"):
        s.run(view=False)
    assert job.status is Status.IDLE


def test_import_nbjobs_does_not_import_dask() -> None:
    code = "import sys, nbjobs; print('distributed' in sys.modules, 'dask' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.split() == ["False", "False"]


def test_no_child_process_is_left_after_close() -> None:
    needs_dask()
    from nbjobs.dask import DaskExecutor

    before = set(multiprocessing.active_children())
    with DaskExecutor(n_workers=2, threads_per_worker=1) as own:
        job = Job(pid_and, 1, executor=own)
        assert Scheduler(job).run(view=False)
        assert len(set(multiprocessing.active_children()) - before) >= 2
        pids = set(own.client.run(os.getpid).values())
    assert wait_until(lambda: not (set(multiprocessing.active_children()) - before))
    for pid in pids:
        assert wait_until(lambda pid=pid: not _alive(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes once reaped; its parent (the nanny) was ours
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


# ---- a real kernel -----------------------------------------------------------------------------
KERNEL_CELL = textwrap.dedent(
    """
    from nbjobs import Job, Scheduler
    from nbjobs.dask import DaskExecutor
    import os

    def body(x):                      # defined in the notebook: shipped by value
        print("remote says", x)
        return os.getpid(), x * 10

    ex = DaskExecutor(n_workers=1, threads_per_worker=1)
    a = Job(body, 1, executor=ex)
    b = Job(lambda r: r[1] + 1, a, executor=ex)
    s = Scheduler(a, b)
    """
)


@pytest.mark.kernel
def test_in_a_kernel_await_run_and_start(request: pytest.FixtureRequest) -> None:
    needs_dask()
    from tests.conftest_kernel import start_kernel

    kernel = start_kernel()
    try:
        kernel.ok(KERNEL_CELL, timeout=90)
        cell = kernel.ok("await s.co_run()", timeout=90)
        assert cell.result == "True", cell.describe()
        assert "remote says" not in cell.stdout
        assert kernel.value("a.output.text()") == repr("remote says 1\n")
        assert kernel.value("b.result()") == "11"
        assert kernel.value("a.where.startswith('dask worker tcp://')") == "True"
        cell = kernel.ok("s.reset(); s.run(view=False)", timeout=90)
        assert cell.result == "True", cell.describe()
        kernel.ok("s.reset(); h = s.start(view=False)", timeout=90)
        cell = kernel.ok("await h", timeout=90)
        assert cell.result == "True", cell.describe()
        assert kernel.value("b.result()") == "11"
        kernel.ok("ex.close()", timeout=60)
        assert kernel.value("ex.closed") == "True"
    finally:
        kernel.close()


def test_the_table_says_which_worker_ran_a_job(ex: Any) -> None:
    from nbjobs._views.table import table_text

    job = Job(square, 2, executor=ex, label="where-am-i")
    s = Scheduler(job)
    assert s.run(view=False)
    [row] = [line for line in table_text(s).splitlines() if "where-am-i" in line]
    assert "on dask worker tcp://127.0.0.1:" in row
    assert ex.dashboard_link is None  # the dashboard is off by default


# ---- semantics kept, output live, scripts ---------------------------------------------------
def test_a_failed_remote_producer_skips_its_consumer(ex: Any) -> None:
    bad = Job(fails_with_key_error, executor=ex, critical=False, label="bad")
    consumer = Job(square, bad, executor=ex, label="consumer")
    s = Scheduler(bad, consumer)
    assert s.run(view=False) is True
    assert consumer.status is Status.SKIPPED
    assert "needs the result of 'bad'" in (consumer.skip_reason or "")
    critical = Job(fails_with_key_error, executor=ex, label="critical")
    after = Job(square, 3, executor=ex, required=critical)
    s = PureScheduler(critical, after)
    assert s.run(view=False) is False and s.failed_critical()
    assert after.status is Status.SKIPPED


def talks_then_waits(seconds: float) -> str:
    print("first words", flush=True)
    time.sleep(seconds)
    return "done"


def test_remote_output_arrives_while_the_body_still_runs(ex: Any) -> None:
    talker = Job(talks_then_waits, 3, executor=ex, label="talker")
    seen: list[str] = []

    async def watch() -> None:
        while talker.status is not Status.SUCCEEDED:
            text = talker.output.text()
            if text:
                seen.append(text)
                return
            await asyncio.sleep(0.05)

    s = Scheduler(talker, Job(watch, label="watcher"))
    assert run_checked(s.co_run)
    assert seen == ["first words\n"]  # seen before the body ended


NBJOBS_RUN_SCRIPT = """
from nbjobs import Job, Scheduler
from nbjobs.dask import DaskExecutor

def triple(x):
    return 3 * x

ex = DaskExecutor(n_workers=1, threads_per_worker=1)
a = Job(triple, 2, executor=ex, label="a")
scheduler = Scheduler(a, Job(print, a, label="show"))
"""


def test_under_nbjobs_run(tmp_path: Path) -> None:
    needs_dask()
    script = tmp_path / "flow.py"
    script.write_text(NBJOBS_RUN_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "nbjobs", "run", str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "6" in done.stdout.split()


EXIT_SCRIPT = """
import os
from nbjobs import Job, Scheduler
from nbjobs.dask import DaskExecutor

if __name__ == "__main__":
    ex = DaskExecutor(n_workers=2, threads_per_worker=1)
    assert Scheduler(Job(os.getpid, executor=ex)).run(view=False)
    print("workers", *sorted(ex.client.run(os.getpid).values()))
    # no close(): the end of the interpreter closes the cluster
"""


def test_the_cluster_is_closed_at_interpreter_exit(tmp_path: Path) -> None:
    needs_dask()
    script = tmp_path / "leave.py"
    script.write_text(EXIT_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    [line] = [ln for ln in done.stdout.splitlines() if ln.startswith("workers")]
    pids = [int(p) for p in line.split()[1:]]
    assert len(pids) == 2
    for pid in pids:
        assert wait_until(lambda pid=pid: not _alive(pid)), f"worker {pid} outlived the script"


def big_local_value() -> bytes:
    return b"x" * 12_000_000


def test_a_large_local_result_is_scattered_not_sent_in_the_graph(ex: Any) -> None:
    # "Sending large graph" would be a warning, hence an error here
    local = Job(big_local_value, label="local")
    remote = Job(len, local, executor=ex, label="remote len")
    assert Scheduler(local, remote).run(view=False)
    assert remote.result() == 12_000_000


def test_show_workers_false_sends_no_message_for_a_silent_body(ex: Any) -> None:
    from nbjobs.dask import DaskExecutor

    quiet = DaskExecutor(client=ex.client, show_workers=False)
    silent = Job(square, 3, executor=quiet)
    talker = Job(chatty, 1, executor=quiet)
    assert Scheduler(silent, talker).run(view=False)
    assert silent.where is None
    assert talker.where is not None and talker.where.startswith("dask worker tcp://")
    assert talker.output.text("stdout") == "hello from the worker 1\n"
    quiet.close()
