"""A compact status table of a scheduler's jobs, as plain text and as HTML.

This is the live view where widgets are not wanted or not available, and the static
fallback saved in notebooks (GitHub and nbviewer render ``text/html``, and ``text/plain``
stays readable everywhere).  One row per job: label, state, elapsed time, and a note (why it
failed, was cancelled or skipped, else the last line it printed).  Below the table, each
job's captured output and traceback are shown with that job, so concurrent jobs never
interleave.

Reads only public state (``statistics()``, ``jobs``, the job's attributes); every text a job
provides goes through :func:`html.escape` in the HTML form.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from .._core.job import AbstractJob, Status
from .._core.protocol import SchedulerView, is_scheduler
from .format import PALETTE, cut_label, format_duration
from .format import now as now_

#: past this many rows, the table keeps the most telling ones (running, failed, ...)
MAX_ROWS = 40
#: longest note kept in a row; the full text is in the per-job sections below the table
NOTE_WIDTH = 72
#: at most this many characters of one job's output in the per-job sections
OUTPUT_TAIL = 4_000
#: at most this many jobs' output and traceback under the table (failures first)
MAX_SECTIONS = 50

# rows to keep first when a big scheduler does not fit: what needs attention
_PRIORITY = {
    Status.RUNNING: 0,
    Status.FAILED: 1,
    Status.CANCELLED: 2,
    Status.WAITING: 3,
    Status.SKIPPED: 4,
    Status.SUCCEEDED: 5,
    Status.IDLE: 6,
}


@dataclass(frozen=True)
class Row:
    job: AbstractJob
    depth: int
    label: str
    state: str
    elapsed: str
    note: str


def _walk(jobs: Any, depth: int) -> Iterator[tuple[AbstractJob, int]]:
    stack = [(iter(jobs), depth)]
    while stack:
        it, level = stack[-1]
        for job in it:
            yield job, level
            if isinstance(job, SchedulerView):
                stack.append((iter(job.jobs), level + 1))
                break
        else:
            stack.pop()


def _elapsed(job: AbstractJob, now: float) -> str:
    status = job.status
    if job.start_time is not None:
        end = job.end_time if job.end_time is not None else now
        return format_duration(max(0.0, end - job.start_time))
    if status is Status.WAITING and job.ready_time is not None:
        return format_duration(max(0.0, now - job.ready_time))
    return ""


def job_note(job: AbstractJob) -> str:
    """Why the job ended as it did, else the last line it printed."""
    status = job.status
    last = job.output.last_line()
    if status is Status.FAILED:
        exc = job.raised_exception()
        note = f"{type(exc).__name__}: {exc}" if exc is not None else "failed"
    elif status is Status.CANCELLED:
        note = f"cancelled: {job.cancel_reason or 'no reason given'}"
    elif status is Status.SKIPPED:
        note = f"skipped: {job.skip_reason or 'no reason given'}"
    elif is_scheduler(job):
        stats = job.statistics()  # type: ignore[attr-defined]
        note = f"{stats.done}/{stats.total} done"
    else:
        note = ""
    where = job.where
    if where:
        # where the body ran (an executor's worker), for jobs that did not run here
        note = f"{note} · on {where}" if note else f"on {where}"
    if last:
        note = f"{note} · {last}" if note else last
    return cut_label(note, NOTE_WIDTH)


def rows(
    scheduler: Any, max_rows: int = MAX_ROWS, walked: list[tuple[AbstractJob, int]] | None = None
) -> tuple[list[Row], int]:
    """The rows to show, in the scheduler's order, and how many were left out."""
    now = now_()
    every = list(_walk(scheduler.jobs, 0)) if walked is None else walked
    kept = every
    hidden = 0
    if len(every) > max_rows:
        # keep the rows that need attention, then show them in their own order
        # by priority, then position: the first max_rows of the buckets taken in order
        # (one pass over the jobs; a sort or a heap keyed per job cost several times more)
        buckets: dict[int, list[int]] = {}
        priority = _PRIORITY
        for i, (job, _) in enumerate(every):
            rank = priority[job._status]
            bucket = buckets.get(rank)
            if bucket is None:
                buckets[rank] = [i]
            else:
                bucket.append(i)
        ranked: list[int] = []
        for rank in sorted(buckets):
            ranked.extend(buckets[rank][: max_rows - len(ranked)])
            if len(ranked) >= max_rows:
                break
        kept = [every[i] for i in sorted(ranked)]
        hidden = len(every) - len(kept)
    out = []
    for job, depth in kept:
        out.append(
            Row(
                job=job,
                depth=depth,
                label=cut_label(job.label_text(), 40),
                state=job.status.value,
                elapsed=_elapsed(job, now),
                note=job_note(job),
            )
        )
    return out, hidden


def summary_line(scheduler: Any, stats: Any = None) -> str:
    """``Scheduler 'x' · running · 2 running, 3 succeeded (5 jobs) · 1.2s``"""
    if stats is None:
        stats = scheduler.statistics()
    label = scheduler.label_text_or_repr()
    if scheduler.is_running_now:
        state = "running"
    elif stats.finished:
        state = stats.why
    else:
        state = "not run"
    counts = ", ".join(f"{n} {status.value}" for status, n in stats.counts.items() if n)
    parts = [label, state, f"{counts or 'no jobs'} ({stats.total} jobs)"]
    if stats.elapsed is not None:
        parts.append(format_duration(stats.elapsed))
    return " · ".join(parts)


@dataclass(frozen=True)
class Section:
    job: AbstractJob
    output: str
    traceback: str


def sections(
    scheduler: Any, full: bool, walked: list[tuple[AbstractJob, int]] | None = None
) -> tuple[list[Section], int]:
    """What to show under the table, failures first, and how many were left out.

    While running (``full`` False) only tracebacks are listed, since output keeps coming
    and the row already shows its last line.  Jobs are checked by their status and the
    size of their output, so that a big run with nothing to show costs little.
    """
    failed: list[AbstractJob] = []
    talked: list[AbstractJob] = []
    failed_status = Status.FAILED
    if walked is None:
        if not _anything_to_say(scheduler, full):
            return [], 0  # the common end of a big run: one plain pass, no walk
        walked = list(_walk(scheduler.jobs, 0))
    for job, _ in walked:
        # the private fields, read: a job's ``output`` property would make every job an
        # (empty) output record
        if job._status is failed_status and job._exception is not None:
            if not is_scheduler(job):
                failed.append(job)
        elif full and job._output is not None and len(job._output) and not is_scheduler(job):
            talked.append(job)
    wanted = failed + talked
    chosen = {id(job) for job in wanted[:MAX_SECTIONS]}
    out = []
    # in the table's order, so that each job's section is where the eye expects it
    for job in (job for job, _ in walked if id(job) in chosen):
        text = job.output.text() if full else ""
        if len(text) > OUTPUT_TAIL:
            text = f"[… {len(text) - OUTPUT_TAIL} characters before]\n" + text[-OUTPUT_TAIL:]
        elif job.output.dropped and text:
            text = f"[… {job.output.dropped} characters dropped]\n" + text
        out.append(Section(job, text, job.traceback_text or ""))
    return out, len(wanted) - len(chosen)


def _row_counts(scheduler: Any) -> tuple[dict[Status, int], int]:
    """Jobs per status among the table's rows (nested schedulers are rows too), and their
    number: O(schedulers), from the counts each scheduler keeps."""
    counts = dict.fromkeys(Status, 0)
    for current in scheduler.walk_schedulers():
        for status, n in current.status_counts().items():
            counts[status] += n
    return counts, sum(counts.values())


def _anything_to_say(scheduler: Any, full: bool) -> bool:
    """Whether some job failed with an exception or (``full``) wrote output: a pass over
    each scheduler's own list, cheaper than walking the tree in the table's order."""
    failed_status = Status.FAILED
    for current in scheduler.walk_schedulers():
        for job in current.jobs:
            if job._status is failed_status and job._exception is not None:
                return True
            if full and job._output is not None and len(job._output):
                return True
    return False


@dataclass(frozen=True)
class Snapshot:
    """Everything a rendering shows, computed once for both the text and HTML forms."""

    summary: str
    rows: list[Row]
    hidden: int
    sections: list[Section]
    hidden_sections: int
    #: ``(title, address)`` of the web pages of the engines the jobs run on (a dashboard)
    links: tuple[tuple[str, str], ...] = ()


def engine_links(scheduler: Any, rows: list[Row]) -> tuple[tuple[str, str], ...]:
    """The dashboards of the executors of ``scheduler``, its nested schedulers and the
    jobs shown, once each."""
    found: dict[str, str] = {}
    executors = [s.executor for s in scheduler.walk_schedulers()]
    executors.extend(getattr(r.job, "executor", None) for r in rows)
    for executor in executors:
        link = getattr(executor, "dashboard_link", None) if executor is not None else None
        if isinstance(link, str) and link:
            found.setdefault(link, f"{getattr(executor, 'name', 'executor')} dashboard")
    return tuple((title, link) for link, title in found.items())


def snapshot(scheduler: Any, *, full: bool | None = None, max_rows: int = MAX_ROWS) -> Snapshot:
    """``full`` (default: once the run ended) adds every job's output under the table."""
    stats = scheduler.statistics()
    if full is None:
        full = bool(stats.finished)
    walked: list[tuple[AbstractJob, int]] | None = None
    counts, total = _row_counts(scheduler)
    urgent = min((st for st, n in counts.items() if n), key=_PRIORITY.__getitem__, default=None)
    if total > max_rows and urgent is not None and counts[urgent] >= max_rows:
        # the rows shown are the first jobs in the most urgent state present (all idle
        # before a big run, all succeeded after it): found without ranking every job
        first = islice(
            ((j, d) for j, d in _walk(scheduler.jobs, 0) if j._status is urgent), max_rows
        )
        shown, _ = rows(scheduler, max_rows, list(first))
        hidden = total - len(shown)
    else:
        walked = list(_walk(scheduler.jobs, 0))
        shown, hidden = rows(scheduler, max_rows, walked)
    if full or stats.counts[Status.FAILED]:
        parts, more = sections(scheduler, full, walked)
    else:
        parts, more = [], 0
    links = engine_links(scheduler, shown)
    return Snapshot(summary_line(scheduler, stats), shown, hidden, parts, more, links)


def table_text(scheduler: Any, *, full: bool | None = None, max_rows: int = MAX_ROWS) -> str:
    """The table as plain text; ``full`` (default: once the run ended) adds every job's
    output under the table."""
    return format_text(snapshot(scheduler, full=full, max_rows=max_rows))


def format_text(snap: Snapshot) -> str:
    lines = [snap.summary]
    lines.extend(f"  {title}: {link}" for title, link in snap.links)
    if snap.rows:
        width = max(len("job"), *(len(r.label) + 2 * r.depth for r in snap.rows))
        lines.append(f"  {'job':<{width}}  {'state':<9}  {'elapsed':>8}  note")
        for r in snap.rows:
            label = "  " * r.depth + r.label
            lines.append(f"  {label:<{width}}  {r.state:<9}  {r.elapsed:>8}  {r.note}".rstrip())
    if snap.hidden:
        lines.append(f"  … {snap.hidden} more job(s) not shown")
    for part in snap.sections:
        lines.append(f"── {part.job.label_text()} ({part.job.status.value}) ──")
        if part.output:
            lines.append(part.output.rstrip("\n"))
        if part.traceback:
            lines.append(part.traceback.rstrip("\n"))
    if snap.hidden_sections:
        lines.append(f"── … and {snap.hidden_sections} more (see each job's .output) ──")
    return "\n".join(lines)


_STYLE = (
    "<style>"
    ".nbjobs-table table{border-collapse:collapse;font-size:12px}"
    ".nbjobs-table td,.nbjobs-table th{padding:1px 8px;text-align:left;"
    "font-family:var(--jp-code-font-family,monospace)}"
    ".nbjobs-table pre{margin:2px 0 6px 0;max-height:24em;overflow:auto;font-size:11px}"
    "</style>"
)


def table_html(scheduler: Any, *, full: bool | None = None, max_rows: int = MAX_ROWS) -> str:
    """The table as HTML; all job-provided text is escaped."""
    return format_html(snapshot(scheduler, full=full, max_rows=max_rows))


def format_html(snap: Snapshot) -> str:
    esc = html.escape
    parts = [_STYLE, '<div class="nbjobs-table">', f"<div><b>{esc(snap.summary)}</b></div>"]
    for title, link in snap.links:
        parts.append(
            f'<div><a href="{esc(link)}" target="_blank" rel="noopener">{esc(title)}</a></div>'
        )
    if snap.rows:
        parts.append(
            "<table><thead><tr><th>job</th><th>state</th><th>elapsed</th><th>note</th></tr>"
            "</thead><tbody>"
        )
        for r in snap.rows:
            colours = PALETTE[r.job.status]
            indent = "&nbsp;&nbsp;" * r.depth
            parts.append(
                f'<tr data-job-id="{r.job.id}" data-state="{esc(r.state)}">'
                f"<td>{indent}{esc(r.label)}</td>"
                f'<td><span style="background:{colours.fill};color:{colours.ink};'
                f'padding:0 6px;border-radius:8px">{esc(r.state)}</span></td>'
                f'<td style="text-align:right">{esc(r.elapsed)}</td>'
                f"<td>{esc(r.note)}</td></tr>"
            )
        parts.append("</tbody></table>")
    if snap.hidden:
        parts.append(f"<div>… {snap.hidden} more job(s) not shown</div>")
    for part in snap.sections:
        opened = " open" if part.traceback else ""
        parts.append(
            f'<details{opened} data-job-id="{part.job.id}"><summary>'
            f"{esc(part.job.label_text())} ({esc(part.job.status.value)})</summary>"
        )
        if part.output:
            parts.append(f"<pre>{esc(part.output)}</pre>")
        if part.traceback:
            # the text in the theme's colour, marked by the failed state's fill: readable
            # on light and dark backgrounds alike
            fill = PALETTE[Status.FAILED].fill
            parts.append(
                f'<pre style="border-left:3px solid {fill};padding-left:6px">'
                f"{esc(part.traceback)}</pre>"
            )
        parts.append("</details>")
    if snap.hidden_sections:
        parts.append(f"<div>… and {snap.hidden_sections} more (see each job's .output)</div>")
    parts.append("</div>")
    return "".join(parts)
