"""Text views: ``list()``, ``list_safe()``, ``debrief()``, ``stats()`` and reprs.

These print on purpose: they are what the user asked to see.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .._core.job import AbstractJob, Status
from .._core.protocol import is_scheduler

if TYPE_CHECKING:
    from .._engine.scheduler import PureScheduler


def _total(sched: PureScheduler) -> int:
    count = 0
    for job in sched.jobs:
        count += 1
        if is_scheduler(job):
            count += _total(job)  # type: ignore[arg-type]
    return count


def set_sched_ids(sched: PureScheduler) -> None:
    """Number jobs in topological order, nested ones included (asynciojobs' ``01``...)."""
    total = _total(sched)
    width = 1 if total <= 9 else int(math.log10(total - 1)) + 1
    counter = [1]

    def number(scheduler: PureScheduler) -> None:
        for job in scheduler.topological_order():
            job._sched_id = f"{counter[0]:0{width}d}"
            counter[0] += 1
            if is_scheduler(job):
                number(job)  # type: ignore[arg-type]

    number(sched)


def _line(job: AbstractJob, depth: int, details: bool) -> str:
    indent = (">" * depth + " ") if depth else ""
    text = f"{job.repr_id()} {job.repr_short()} {indent}{job.repr_main()} {job.repr_result()}"
    req = job.repr_requires()
    if req:
        text += f" {req}"
    if details:
        extra = job.details()
        if extra:
            text += f"\n    {extra}"
    return text


def list_lines(
    sched: PureScheduler, details: bool = False, silence_done_jobs: bool = False
) -> list[str]:
    set_sched_ids(sched)
    lines: list[str] = []

    def walk(scheduler: PureScheduler, depth: int) -> None:
        for job in scheduler.topological_order():
            if is_scheduler(job):
                nested: PureScheduler = job  # type: ignore[assignment]
                entries = ", ".join(j.repr_id() for j in nested.entry_jobs())
                lines.append(f"{_line(job, depth, details)} -> entries={{{entries}}}")
                walk(nested, depth + 1)
                exits = ", ".join(j.repr_id() for j in nested.exit_jobs())
                lines.append(
                    f"{job.repr_id()} --end-- {'<' * (depth + 1)} {job.repr_main()} "
                    f"exits={{{exits}}}"
                )
            elif not (silence_done_jobs and job.is_done()):
                lines.append(_line(job, depth, details))

    walk(sched, 0)
    return lines


def list_jobs(sched: PureScheduler, details: bool = False, silence_done_jobs: bool = False) -> None:
    for line in list_lines(sched, details, silence_done_jobs):
        print(line)


def list_safe(sched: PureScheduler, silence_done_jobs: bool = False) -> None:
    """Works on broken (cyclic) graphs: insertion order, dotted ids for nested jobs."""

    def walk(scheduler: PureScheduler, root: str) -> None:
        jobs = list(scheduler.jobs)
        for index, job in enumerate(jobs, 1):
            job._sched_id = f"{root}{index}"
        for job in jobs:
            if silence_done_jobs and job.is_done() and not is_scheduler(job):
                continue
            print(f"{job.repr_short()} {job.repr_id()} {job.repr_main()} {job.repr_requires()}")
            if is_scheduler(job):
                walk(job, f"{job.repr_id()}.")  # type: ignore[arg-type]
                print("--end--", job.repr_id())

    walk(sched, "")


def _counts(jobs: Iterable[AbstractJob]) -> tuple[int, int, int, int]:
    done = ongoing = idle = total = 0
    for job in jobs:
        total += 1
        if job.is_done():
            done += 1
        elif job.is_running():
            ongoing += 1
        else:
            idle += 1
    return done, ongoing, idle, total


def stats_line(sched: PureScheduler) -> str:
    done, ongoing, idle, total = _counts(sched.jobs)
    return f"{done}D + {ongoing}R + {idle}I = {total}"


def status_counts(sched: PureScheduler) -> str:
    stats = sched.statistics(recursive=True)
    parts = [f"{n} {status.value}" for status, n in stats.counts.items() if n]
    return ", ".join(parts) if parts else "no jobs"


def scheduler_repr(sched: PureScheduler) -> str:
    label = getattr(sched, "label", None)
    name = type(sched).__name__ + (f" {label!r}" if label is not None else "")
    n = len(sched.jobs)
    return f"<{name}: {n} job(s): {status_counts(sched)}; {sched.why()}>"


def debrief_lines(
    sched: PureScheduler, details: bool = False, silence_done_jobs: bool = False
) -> list[str]:
    total = len(sched.jobs)
    lines = [f"----- {sched.why()}"]
    lines.append(f"scheduler has a total of {total} jobs: {status_counts(sched)}")
    lines.extend(list_lines(sched, details, silence_done_jobs))
    failed = [job for job in sched.iterate_jobs() if job.status is Status.FAILED]
    if failed:
        criticals = [job for job in failed if job.critical]
        lines.append(
            f"===== {len(failed)} job(s) with an exception, including {len(criticals)} critical"
        )
        for job in failed:
            kind = "CRITICAL JOB" if job.critical else "non-critical job"
            lines.append(f"--- {kind} {job.repr_id()} {job.repr_main()}")
            lines.append((job.traceback_text or "").rstrip())
    stopped = [
        job for job in sched.iterate_jobs() if job.status in (Status.CANCELLED, Status.SKIPPED)
    ]
    if stopped:
        lines.append(f"===== {len(stopped)} job(s) cancelled or skipped")
        for job in stopped:
            why = job.cancel_reason if job.status is Status.CANCELLED else job.skip_reason
            lines.append(f"{job.status.value}: {job.label_text()}: {why}")
    return lines


def debrief(sched: PureScheduler, details: bool = False, silence_done_jobs: bool = False) -> None:
    for line in debrief_lines(sched, details, silence_done_jobs):
        print(line)
