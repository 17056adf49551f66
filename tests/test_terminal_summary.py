"""The final summary: counts, failures with tracebacks, cancelled and skipped, slowest."""

from __future__ import annotations

import asyncio
import re

from nbjobs import Job, PureScheduler, Scheduler
from nbjobs._views.summary import summary
from tests.conftest import run_checked


async def ok(seconds: float = 0.0) -> None:
    await asyncio.sleep(seconds)


async def boom(message: str = "boom", say: str | None = None) -> None:
    if say:
        print(say)
    await asyncio.sleep(0)
    raise ValueError(message)


async def forever() -> None:
    await asyncio.Event().wait()


def run(scheduler: PureScheduler) -> bool:
    async def main() -> bool:
        try:
            return bool(await scheduler.co_run())
        except Exception:
            return False

    result = run_checked(main)
    assert isinstance(result, bool)
    return result


def test_summary_of_a_run_that_went_fine_despite_a_non_critical_failure() -> None:
    slow = Job(ok, 0.03, label="slow")
    quick = Job(ok, 0.0, label="quick")
    flaky = Job(boom, "flaky went wrong", "trying the mirror", label="flaky", critical=False)
    ticker = Job(forever, label="ticker", forever=True)
    inner = Scheduler(Job(ok, 0.01, label="deep"), label="inner")
    top = Scheduler(slow, quick, flaky, ticker, inner, label="top")
    assert run(top) is True
    text = summary(top)
    lines = text.splitlines()
    assert re.fullmatch(r"== top: FINE \(0\.\d\ds\)", lines[0])
    assert lines[1] == "5 jobs: 3 succeeded, 1 failed, 1 cancelled"
    failed = text.split("-- failed: 1 (0 critical)\n", 1)[1].split("\n\n", 1)[0]
    assert re.match(r"x flaky \[non-critical\] after 0\.\d\ds\n", failed)
    # the traceback starts in the job's own code: the engine's frames are left out
    assert "    Traceback (most recent call last):\n" in failed
    assert re.search(r'File ".*test_terminal_summary\.py", line \d+, in boom', failed)
    assert "_engine/scheduler.py" not in failed
    assert "    ValueError: flaky went wrong\n" in failed
    assert failed.endswith("    last output:\n    | trying the mirror")
    assert "-- cancelled: 1\n- ticker: forever job stopped at the end of the run\n" in text
    # forever jobs are not "slow": they run as long as the rest
    slowest = text.split("-- slowest 4 of 4\n", 1)[1].splitlines()
    assert [line.split()[1] for line in slowest][:2] == ["slow", "inner/deep"]
    durations = [float(line.split()[0].rstrip("s")) for line in slowest]
    assert durations == sorted(durations, reverse=True)
    assert text.endswith("\n")


def test_summary_puts_critical_failures_first_and_says_why_the_run_failed() -> None:
    minor = Job(boom, "minor", label="minor", critical=False)
    major = Job(boom, "major", label="major")
    major.requires(minor)
    never = Job(ok, label="never")
    never.requires(major)
    top = Scheduler(minor, major, never, label="top")
    assert run(top) is False
    text = summary(top)
    assert text.startswith("== top: a CRITICAL job has raised an exception")
    assert "-- failed: 2 (1 critical)\nx major [critical] after" in text
    assert text.index("ValueError: major") < text.index("ValueError: minor")
    assert "-- skipped: 1\n- never: the run ended first" in text


def test_summary_cuts_long_lists() -> None:
    failing = [Job(boom, f"failure {i}", label=f"f{i}", critical=False) for i in range(4)]
    waiting = [Job(ok, label=f"w{i}") for i in range(13)]
    blocker = Job(forever, label="blocker")
    for job in waiting:
        job.requires(blocker)
    top = Scheduler(*failing, blocker, *waiting, label="top", timeout=0.05)
    assert run(top) is False
    text = summary(top, max_failures=2, max_listed=10, slowest=2)
    assert text.startswith("== top: TIMED OUT after 0.05s")
    assert text.count("Traceback (most recent call last)") == 2
    assert re.search(r"^x f2 \[non-critical\] after 0\.\d\ds: ValueError: failure 2$", text, re.M)
    assert "-- skipped: 13\n" in text
    assert "  ... and 3 more\n" in text
    assert "-- cancelled: 1\n- blocker: timeout after 0.05s\n" in text
    assert "-- slowest 2 of 5\n" in text


def test_summary_of_a_scheduler_that_never_ran() -> None:
    top = PureScheduler(Job(ok, label="a"))
    assert summary(top) == f"== {top.label_text()}: NOT RUN\n1 job: 1 idle\n"
