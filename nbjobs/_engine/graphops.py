"""Graph queries and edits on a scheduler's jobs (asynciojobs' API), over the pure graph
algebra of ``nbjobs._core.graph``: a mixin of ``PureScheduler`` with that one purpose."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, cast

from .._core import graph as _graph
from .._core.errors import RequirementError
from .._core.job import AbstractJob
from .._core.jobset import OrderedSet, SchedulerJobs
from .._core.protocol import is_scheduler
from .._core.sequence import flatten

if TYPE_CHECKING:
    from .scheduler import PureScheduler, Scheduler

logger = logging.getLogger("nbjobs")


class GraphMethods:
    """What a scheduler answers about its graph, and how it edits it."""

    _jobs: SchedulerJobs[AbstractJob]
    _nested: list[Scheduler]
    verbose: bool

    if TYPE_CHECKING:

        def remove(self, job: AbstractJob) -> PureScheduler: ...

        def _structure_changed(self) -> None: ...

    @staticmethod
    def _preds(job: AbstractJob) -> Iterable[AbstractJob]:
        return job.required

    def _succs(self) -> Callable[[AbstractJob], Iterable[AbstractJob]]:
        succ = _graph.successors_map(self._jobs, self._preds)
        return lambda job: succ.get(job, ())

    def topological_order(self) -> Iterator[AbstractJob]:
        """The jobs, each after all those it requires (ties in insertion order).

        Raises CycleError (with the cycle) if there is none.
        """
        return iter(_graph.topological_order(self._jobs, self._preds))

    def check_cycles(self) -> bool:
        """True if this scheduler and every nested one are acyclic (asynciojobs' API)."""
        try:
            self._check_acyclic()
        except ValueError:
            return False
        return True

    def _check_acyclic(self) -> None:
        _graph.check_acyclic(self._jobs, self._preds)
        for job in self._nested:
            job._check_acyclic()

    def entry_jobs(self) -> Iterator[AbstractJob]:
        """Jobs that require nothing in this scheduler."""
        return (job for job in self._jobs if not any(r in self._jobs for r in job.required))

    def exit_jobs(
        self, *, discard_forever: bool = True, compute_backlinks: bool = True
    ) -> Iterator[AbstractJob]:
        """Jobs that no other job of this scheduler requires."""
        succ = _graph.successors_map(self._jobs, self._preds)
        return (
            job for job in self._jobs if not succ[job] and not (discard_forever and job.forever)
        )

    def predecessors(self, *starts: AbstractJob) -> OrderedSet[AbstractJob]:
        """The jobs that any of ``starts`` requires directly."""
        return OrderedSet(_graph.neighbours(starts, self._preds, self._jobs))

    def successors(
        self, *starts: AbstractJob, compute_backlinks: bool = True
    ) -> OrderedSet[AbstractJob]:
        """The jobs that require any of ``starts`` directly."""
        return OrderedSet(_graph.neighbours(starts, self._succs(), self._jobs))

    def predecessors_upstream(self, *starts: AbstractJob) -> OrderedSet[AbstractJob]:
        """Every job that any of ``starts`` depends on, directly or not."""
        return OrderedSet(_graph.closure(starts, self._preds, self._jobs))

    def successors_downstream(
        self, *starts: AbstractJob, compute_backlinks: bool = True
    ) -> OrderedSet[AbstractJob]:
        """Every job that depends on any of ``starts``, directly or not."""
        return OrderedSet(_graph.closure(starts, self._succs(), self._jobs))

    def bypass_and_remove(self, job: AbstractJob) -> None:
        """Remove ``job``, making the jobs that required it require what it required."""
        if job not in self._jobs:
            raise ValueError(f"{job!r} is not in {self!r}")
        ups = [req for req in job.required]
        for down in self._jobs:
            if job in down.required:
                if job in down.data_required:
                    raise RequirementError(
                        f"cannot bypass {job!r}: {down!r} takes its result as an argument"
                    )
                down.required.discard(job)
                down.requires(ups)
        self.remove(job)

    def keep_only(self, remains: Iterable[Any]) -> None:
        """Keep only the jobs in ``remains`` (others are removed), then ``sanitize()``."""
        keep = set(flatten(remains))
        for job in list(self._jobs):
            if job not in keep:
                self.remove(job)
        self.sanitize()

    def keep_only_between(
        self,
        *,
        starts: Iterable[AbstractJob] | None = None,
        ends: Iterable[AbstractJob] | None = None,
        keep_starts: bool = True,
        keep_ends: bool = True,
    ) -> None:
        """Keep the jobs downstream of ``starts`` and upstream of ``ends`` (either may be
        omitted), plus the starts and ends themselves unless told otherwise."""
        start_list = list(starts or ())
        end_list = list(ends or ())
        down = set(self.successors_downstream(*start_list)) if start_list else set(self._jobs)
        up = set(self.predecessors_upstream(*end_list)) if end_list else set(self._jobs)
        keep = down & up
        if keep_starts:
            keep.update(start_list)
        if keep_ends:
            keep.update(end_list)
        self.keep_only([job for job in self._jobs if job in keep])

    def sanitize(self, verbose: bool | None = None) -> bool:
        """Drop requirements on jobs outside this scheduler (recursively in nested ones).

        Returns True if nothing had to change. Results a job consumes (data arguments)
        cannot be dropped: those stay, and running reports them.
        """
        verbose = self.verbose if verbose is None else verbose
        fine = True
        for job in self._jobs:
            outside = [
                r for r in job.required if r not in self._jobs and r not in job.data_required
            ]
            for req in outside:
                job.required.discard(req)
                fine = False
                if verbose:
                    logger.warning("sanitize: %r no longer requires %r (not in %r)", job, req, self)
            if is_scheduler(job):
                fine = cast("PureScheduler", job).sanitize(verbose) and fine
        if not fine:
            self._structure_changed()
        return fine

    def iterate_jobs(self, scan_schedulers: bool = False) -> Iterator[Any]:
        """Every job, nested ones included; with ``scan_schedulers=True`` the schedulers
        too, this one first (as asynciojobs)."""
        if scan_schedulers:
            yield self
        for job in self._jobs:
            if is_scheduler(job):
                yield from cast("PureScheduler", job).iterate_jobs(scan_schedulers)
            else:
                yield job
