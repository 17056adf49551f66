"""The final summary of a run, as text: asynciojobs' ``debrief()``, made to be read.

It answers, in this order, what a user asks after a run: did it work, how many jobs did
what, what failed and why (the traceback, and the last lines the job wrote), what was
cancelled or skipped and why, and where the time went.  Long lists are cut: a run of 100k
jobs with 10k failures needs the first few tracebacks, not a 10k-page report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from nbjobs._core.job import AbstractJob, Status
from nbjobs._core.protocol import SchedulerView
from nbjobs._core.text import format_traceback
from nbjobs._views.format import format_duration
from nbjobs._views.terminal import job_path, scheduler_label

if TYPE_CHECKING:
    from nbjobs._engine.scheduler import PureScheduler

__all__ = ("summary",)

_ORDER = (
    Status.SUCCEEDED,
    Status.FAILED,
    Status.CANCELLED,
    Status.SKIPPED,
    Status.RUNNING,
    Status.WAITING,
    Status.IDLE,
)


def _leaves(scheduler: SchedulerView) -> Iterator[AbstractJob]:
    """Leaf jobs, depth first in each scheduler's order; nested schedulers are not work."""
    for job in scheduler.jobs:
        if isinstance(job, SchedulerView):
            yield from _leaves(job)
        else:
            yield job


def _seconds(value: float | None) -> str:
    return format_duration(value) or "-"


def _indent(text: str, prefix: str) -> list[str]:
    return [prefix + line if line else prefix.rstrip() for line in text.rstrip("\n").split("\n")]


def _output_tail(job: AbstractJob, lines: int) -> list[str]:
    if lines <= 0:
        return []
    # Only the last chunks matter; joining a job's whole output could be megabytes.
    tail = ""
    for _stream, text in reversed(job.output.chunks):
        tail = text + tail
        if tail.count("\n") > lines or len(tail) > 200 * lines:
            break
    kept = [line.rsplit("\r", 1)[-1] for line in tail.rstrip("\n").split("\n")]
    return [line for line in kept if line.strip()][-lines:]


def summary(
    scheduler: PureScheduler,
    *,
    slowest: int = 5,
    max_failures: int = 5,
    max_listed: int = 10,
    output_lines: int = 3,
) -> str:
    """A report of ``scheduler``'s last run, in plain text, ending with a newline.

    ``slowest``: how many of the longest jobs to list; ``max_failures``: how many failed
    jobs get their traceback (the others get one line); ``max_listed``: how many
    cancelled or skipped jobs are named; ``output_lines``: how many of a failed job's
    last output lines to show under its traceback.
    """
    jobs = list(_leaves(scheduler))
    counts = Counter(job.status for job in jobs)
    stats = scheduler.statistics(recursive=True)
    lines: list[str] = []

    elapsed = f" ({_seconds(stats.elapsed)})" if stats.elapsed is not None else ""
    lines.append(f"== {scheduler_label(scheduler)}: {scheduler.why()}{elapsed}")
    parts = [f"{counts[s]} {s.value}" for s in _ORDER if counts[s]]
    lines.append(f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}: " + (", ".join(parts) or "none"))

    failed = [job for job in jobs if job.status is Status.FAILED]
    if failed:
        critical = sum(1 for job in failed if job.critical)
        lines.append("")
        lines.append(f"-- failed: {len(failed)} ({critical} critical)")
        # Critical failures first: they are the ones that stopped the run.
        failed.sort(key=lambda job: not job.critical)
        for index, job in enumerate(failed):
            exc = job.raised_exception()
            tag = "critical" if job.critical else "non-critical"
            head = f"{job_path(job, scheduler)} [{tag}] after {_seconds(job.duration)}"
            if job.attempts > 1:
                head += f", {job.attempts} attempts"
            if index >= max_failures or exc is None:
                brief = f": {type(exc).__name__}: {exc}" if exc is not None else ""
                lines.append(f"x {head}{brief}")
                continue
            lines.append(f"x {head}")
            lines.extend(_indent(format_traceback(exc), "    "))
            tail = _output_tail(job, output_lines)
            if tail:
                lines.append("    last output:")
                lines.extend("    | " + line for line in tail)

    for status, title in ((Status.CANCELLED, "cancelled"), (Status.SKIPPED, "skipped")):
        chosen = [job for job in jobs if job.status is status]
        if not chosen:
            continue
        lines.append("")
        lines.append(f"-- {title}: {len(chosen)}")
        for job in chosen[:max_listed]:
            reason = job.cancel_reason if status is Status.CANCELLED else job.skip_reason
            lines.append(f"- {job_path(job, scheduler)}" + (f": {reason}" if reason else ""))
        if len(chosen) > max_listed:
            lines.append(f"  ... and {len(chosen) - max_listed} more")

    timed = [job for job in jobs if job.duration is not None and not job.forever]
    if timed and slowest > 0:
        timed.sort(key=lambda job: job.duration or 0.0, reverse=True)
        lines.append("")
        lines.append(f"-- slowest {min(slowest, len(timed))} of {len(timed)}")
        width = max(len(_seconds(job.duration)) for job in timed[:slowest])
        for job in timed[:slowest]:
            lines.append(f"{_seconds(job.duration):>{width}}  {job_path(job, scheduler)}")
    return "\n".join(lines) + "\n"
