"""The widget page's questions about a run too big to describe in full.

Past ``MAX_DRAWN`` top-level nodes the widget shows a list instead of a drawing. Sending
every job's description when it opens and every job's state as the run goes would cost
the kernel a large part of what the run itself costs (``benchmarks/README.md`` has the
numbers), for a page that shows at most ``QUERY_MAX`` rows. So in that mode the
page asks for the rows it shows (the list's filter and search, the timeline's earliest
jobs) and the kernel answers with at most ``QUERY_MAX`` of them. An answer costs one pass
over the jobs, on request only: the page asks again when the counts change, at most a few
times a second.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .._core.job import AbstractJob, Status
from .._engine.scheduler import PureScheduler

#: rows in one answer at most (the page renders no more)
QUERY_MAX = 500
#: characters of a label sent in an answer row
ROW_LABEL_MAX = 300

VIEWS = ("list", "timeline")
FILTERS = ("attention", "all", *(status.value for status in Status))

AnswerRow = list[Any]  # [id, label, state, ready, start, end, parent]


def walk(sched: PureScheduler, parent: int | None) -> Iterator[tuple[AbstractJob, int | None]]:
    """Every job under ``sched`` in graph order (a nested scheduler before its jobs), with
    the id of the scheduler holding it (``parent`` at the top)."""
    for job in sched.jobs:
        yield job, parent
        if isinstance(job, PureScheduler):
            yield from walk(job, job.id)


@dataclass(frozen=True, slots=True)
class Query:
    """What the page shows: ``view`` "list" (jobs in graph order, narrowed by ``filter``
    and ``search``) or "timeline" (jobs that queued or started, earliest first)."""

    view: str = "list"
    filter: str = "attention"
    search: str = ""
    limit: int = QUERY_MAX

    @classmethod
    def from_message(cls, content: dict[str, Any]) -> Query:
        """The query a page sent; ValueError saying what is wrong otherwise."""
        view = content.get("view", "list")
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}: expected one of {', '.join(VIEWS)}")
        kind = content.get("filter", "attention")
        if kind not in FILTERS:
            raise ValueError(f"unknown filter {kind!r}: expected one of {', '.join(FILTERS)}")
        search = content.get("search", "")
        if not isinstance(search, str):
            raise ValueError(f"search must be a string, got {search!r}")
        limit = content.get("limit", QUERY_MAX)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= QUERY_MAX:
            raise ValueError(f"limit must be an integer from 1 to {QUERY_MAX}, got {limit!r}")
        return cls(view, kind, search[:200], limit)


def nothing_to_attend(scheduler: PureScheduler) -> bool:
    """True when no job (nested schedulers included) is running or failed: the
    "attention" list is empty, known from the schedulers' counts without a pass."""
    return all(
        not counts[Status.RUNNING] and not counts[Status.FAILED]
        for counts in (s.status_counts() for s in scheduler.walk_schedulers())
    )


def _attention(scheduler: PureScheduler) -> set[int]:
    """Ids of running and failed jobs and of their neighbours (required and requiring)."""
    hot: set[int] = set()
    for job, _ in walk(scheduler, None):
        status = job._status
        if status is Status.RUNNING or status is Status.FAILED:
            hot.add(job.id)
    if not hot:
        return hot
    keep = set(hot)
    for job, _ in walk(scheduler, None):
        for req in job.required:
            if job.id in hot:
                keep.add(req.id)
            elif req.id in hot:
                keep.add(job.id)
    return keep


def _matches(job: AbstractJob, needle: str) -> bool:
    return needle in job.label_text().lower() or str(job.id) == needle


def answer(scheduler: PureScheduler, query: Query, origin: float) -> dict[str, Any]:
    """The rows ``query`` asks for (at most ``query.limit``) and how many jobs match."""
    needle = query.search.strip().lower()
    found: list[tuple[AbstractJob, int | None]] = []
    total = 0
    if query.view == "timeline":
        started = [
            (job, parent)
            for job, parent in walk(scheduler, None)
            if not isinstance(job, PureScheduler)
            and (job.ready_time is not None or job.start_time is not None)
            and (not needle or _matches(job, needle))
        ]
        started.sort(key=lambda item: (_queued(item[0]), item[0].id))
        total = len(started)
        found = started[: query.limit]
    elif query.filter != "attention" or not nothing_to_attend(scheduler):
        keep = _attention(scheduler) if query.filter == "attention" else None
        state = None if query.filter in ("attention", "all") else Status(query.filter)
        for job, parent in walk(scheduler, None):
            if keep is not None and job.id not in keep:
                continue
            if state is not None and job._status is not state:
                continue
            if needle and not _matches(job, needle):
                continue
            total += 1
            if len(found) < query.limit:
                found.append((job, parent))
    return {
        "view": query.view,
        "filter": query.filter,
        "search": query.search,
        "total": total,
        "rows": [_row(job, parent, origin) for job, parent in found],
    }


def _queued(job: AbstractJob) -> float:
    t = job.ready_time if job.ready_time is not None else job.start_time
    return t if t is not None else 0.0


def _micros(t: float | None, origin: float) -> int | None:
    return None if t is None else int((t - origin) * 1_000_000)


def _row(job: AbstractJob, parent: int | None, origin: float) -> AnswerRow:
    label = job.label_text()
    if len(label) > ROW_LABEL_MAX:
        label = label[: ROW_LABEL_MAX - 1] + "…"
    return [
        job.id,
        label,
        job._status.value,
        _micros(job.ready_time, origin),
        _micros(job.start_time, origin),
        _micros(job.end_time, origin),
        parent,
    ]
