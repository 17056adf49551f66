"""Per-job output capture: concurrent jobs never mix, output is still echoed."""

from __future__ import annotations

import asyncio
import logging
import sys

import pytest

from nbjobs import Job, Scheduler
from tests.conftest import run_checked


async def chatty(name: str, lines: int) -> None:
    for i in range(lines):
        print(f"{name} line {i}")
        await asyncio.sleep(0)  # interleave with the other jobs


def test_concurrent_jobs_outputs_never_mix(capsys: pytest.CaptureFixture[str]) -> None:
    jobs = [Job(chatty, f"job{k}", 5, label=f"job{k}") for k in range(4)]
    assert run_checked(Scheduler(*jobs).co_run)
    for k, job in enumerate(jobs):
        assert job.output.text() == "".join(f"job{k} line {i}\n" for i in range(5))
    echoed = capsys.readouterr().out
    # still echoed where it would have gone, interleaved as it happened
    assert "job0 line 0\njob1 line 0\n" in echoed


def test_stderr_and_logging_are_captured_by_stream() -> None:
    log = logging.getLogger("tests.capture")

    async def noisy() -> None:
        print("to stdout")
        print("to stderr", file=sys.stderr)
        log.warning("a warning")

    job = Job(noisy)
    assert run_checked(Scheduler(job).co_run)
    assert job.output.text("stdout") == "to stdout\n"
    assert job.output.text("stderr") == "to stderr\n"
    assert job.output.text("log") == "WARNING:tests.capture:a warning\n"
    assert job.output.last_line() == "WARNING:tests.capture:a warning"


def test_output_of_a_sync_job_in_a_worker_thread_is_captured() -> None:
    def blocking() -> int:
        print("from the thread")
        return 1

    job = Job(blocking)
    assert run_checked(Scheduler(job).co_run)
    assert job.output.text() == "from the thread\n"


def test_output_outside_jobs_is_not_captured_and_streams_are_restored() -> None:
    before = sys.stdout
    job = Job(chatty, "x", 1)

    async def main() -> None:
        print("not a job's")
        await Scheduler(job).co_run()

    run_checked(main)
    assert job.output.text() == "x line 0\n"
    assert sys.stdout is before


def test_output_is_bounded_and_says_what_was_dropped() -> None:
    from nbjobs._core.capture import JobOutput

    out = JobOutput(limit=100)
    for i in range(50):
        out.append("stdout" if i % 2 else "stderr", "0123456789\n")
    assert len(out) <= 100
    assert out.dropped > 0
    assert out.text().endswith("0123456789\n")


def test_rerun_starts_with_fresh_output() -> None:
    calls = {"n": 0}

    async def flaky() -> None:
        calls["n"] += 1
        print(f"attempt {calls['n']}")
        if calls["n"] == 1:
            raise RuntimeError("first")

    job = Job(flaky, critical=False)
    s = Scheduler(job)
    run_checked(s.co_run)
    run_checked(s.co_run)
    assert job.output.text() == "attempt 2\n"


def test_nothing_is_attributed_to_a_job_that_has_ended(capsys: pytest.CaptureFixture[str]) -> None:
    # a callback scheduled by a job runs in a copy of that job's context, as the protocol
    # callbacks of a connection it opened do: after the job ended, its output is no longer
    # the job's (it used to land there, with what later jobs asked of the connection)
    log = logging.getLogger("tests.capture.late")
    ended = asyncio.Event()

    def late() -> None:
        print("printed after a ended")
        log.warning("logged after a ended")
        ended.set()

    async def opener() -> None:
        print("a's own line")
        asyncio.get_running_loop().call_later(0.05, late)

    async def waiter() -> None:
        await asyncio.wait_for(ended.wait(), 30)
        print("b's own line")

    a = Job(opener, label="a")
    b = Job(waiter, label="b", required=a)
    assert run_checked(Scheduler(a, b).co_run)
    assert a.output.text() == "a's own line\n"
    assert b.output.text() == "b's own line\n"
    assert "printed after a ended" in capsys.readouterr().out  # still printed


def test_a_thread_outliving_its_job_writes_to_no_job() -> None:
    import contextvars
    import threading

    go = threading.Event()
    done = threading.Event()

    def worker() -> None:
        go.wait(30)
        print("from a thread after its job")
        done.set()

    async def starter() -> None:
        print("starter")
        # a thread that carries the job's context (as executors' threads do)
        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(worker,), daemon=True).start()

    async def later() -> None:
        go.set()
        await asyncio.to_thread(done.wait, 30)

    a = Job(starter, label="a")
    b = Job(later, label="b", required=a)
    assert run_checked(Scheduler(a, b).co_run)
    assert a.output.text() == "starter\n"
    assert b.output.text() == ""
