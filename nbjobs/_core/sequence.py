"""``Sequence``: a convenience to chain jobs, each requiring the previous one."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .job import AbstractJob, JobChain

if TYPE_CHECKING:
    from .._engine.scheduler import PureScheduler


def flatten(items: Iterable[Any]) -> list[AbstractJob]:
    """Jobs and sequences (and None, ignored) into an ordered list of jobs."""
    result: list[AbstractJob] = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, AbstractJob):
            result.append(item)
        elif isinstance(item, Sequence):
            result.extend(item.jobs)
        else:
            raise TypeError(
                f"expected a job (AbstractJob) or a Sequence, got {item!r} of type "
                f"{type(item).__name__}; wrap a coroutine or a function in Job(...)"
            )
    return result


class Sequence(JobChain):
    """Jobs in a chain: each job requires the previous one.

    ``required`` applies to the first job; with ``scheduler``, the jobs are added there.
    A sequence can stand wherever a job can: in a scheduler, as a requirement (meaning its
    last job), or requiring something (meaning its first job does).
    """

    def __init__(
        self, *sequences_or_jobs: Any, required: Any = None, scheduler: PureScheduler | None = None
    ) -> None:
        self.jobs: list[AbstractJob] = flatten(sequences_or_jobs)
        for before, after in itertools.pairwise(self.jobs):
            after.requires(before)
        if self.jobs:
            self.jobs[0].requires(required)
        self.scheduler = scheduler
        if scheduler is not None:
            scheduler.update(self.jobs)

    def append(self, *sequences_or_jobs: Any) -> None:
        """Add jobs or sequences at the end of this sequence."""
        new_jobs = flatten(sequences_or_jobs)
        if not new_jobs:
            return
        for before, after in itertools.pairwise(new_jobs):
            after.requires(before)
        if self.jobs:
            new_jobs[0].requires(self.jobs[-1])
        self.jobs.extend(new_jobs)
        if self.scheduler is not None:
            self.scheduler.update(new_jobs)

    def requires(self, *requirements: Any) -> Sequence:
        """Add requirements to the first job of the sequence."""
        if self.jobs:
            self.jobs[0].requires(*requirements)
        return self

    def close_idle_jobs(self) -> None:
        for job in self.jobs:
            if job.is_idle():
                job.close()

    def __repr__(self) -> str:
        return f"Sequence({', '.join(job.label_text() for job in self.jobs)})"
