"""Terminal views of a run: a rich live display on a terminal, timestamped lines elsewhere.

Both views follow the scheduler's event stream (``scheduler.subscribe``) and read only the
public state of jobs, as the widget does.  ``attach(scheduler)`` is what ``run()`` calls
outside Jupyter; it returns the function that ends the view.

The live view never draws from inside an event callback: callbacks only record what
changed, in O(1), and a timer on the event loop redraws at most ``refresh_per_second``
times a second.  A run of 100k jobs emits hundreds of thousands of events; drawing on each
would cost more than the run itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TextIO

from nbjobs._core import capture as _capture
from nbjobs._core.capture import current_job
from nbjobs._core.events import Event, EventKind
from nbjobs._core.job import AbstractJob, Status
from nbjobs._core.protocol import is_scheduler
from nbjobs._views.format import format_duration

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live
    from rich.text import Text

    from nbjobs._engine.scheduler import PureScheduler

    # symbol and label, elapsed, detail
    Row = tuple[Text, Text, Text]

__all__ = ("LiveView", "PlainView", "attach", "attach_to_run", "job_path", "last_output_line")

logger = logging.getLogger("nbjobs")

Mode = Literal["auto", "live", "plain"]

# Symbols for terminals that can show them, and ASCII for those that cannot (a legacy code
# page, LANG=C): a view that prints mojibake is worse than a plain one.
SYMBOLS: dict[Status, str] = {
    Status.IDLE: "·",
    Status.WAITING: "◷",
    Status.RUNNING: "▶",
    Status.SUCCEEDED: "✔",
    Status.FAILED: "✘",
    Status.CANCELLED: "⊘",
    Status.SKIPPED: "↷",
}
ASCII_SYMBOLS: dict[Status, str] = {
    Status.IDLE: ".",
    Status.WAITING: "w",
    Status.RUNNING: ">",
    Status.SUCCEEDED: "+",
    Status.FAILED: "x",
    Status.CANCELLED: "c",
    Status.SKIPPED: "s",
}
STYLES: dict[Status, str] = {
    Status.IDLE: "dim",
    Status.WAITING: "yellow",
    Status.RUNNING: "bold cyan",
    Status.SUCCEEDED: "green",
    Status.FAILED: "bold red",
    Status.CANCELLED: "magenta",
    Status.SKIPPED: "dim magenta",
}
# The order in which counts are shown, and in which a crowded screen keeps jobs: what
# needs the user's attention first.
ATTENTION_ORDER = (
    Status.FAILED,
    Status.RUNNING,
    Status.WAITING,
    Status.CANCELLED,
    Status.SKIPPED,
    Status.SUCCEEDED,
    Status.IDLE,
)
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
ASCII_SPINNER = "-\\|/"


def scheduler_label(scheduler: PureScheduler) -> str:
    """A scheduler's label; a ``PureScheduler`` is not a job and has none."""
    label_text = getattr(scheduler, "label_text", None)
    return str(label_text()) if callable(label_text) else "scheduler"


def _members(scheduler: PureScheduler) -> list[AbstractJob]:
    """The jobs of one scheduler, requirements before the jobs that need them."""
    try:
        return list(scheduler.topological_order())
    except Exception:
        # A graph without an order (a cycle) never runs; list it as it was written.
        return list(scheduler.jobs)


def job_path(job: AbstractJob, root: object | None = None) -> str:
    """The labels from just below ``root`` down to ``job``, joined with ``/``."""
    parts = [job.label_text()]
    parent = job.scheduler
    while parent is not None and parent is not root:
        parts.append(scheduler_label(parent))
        parent = parent.scheduler
    return "/".join(reversed(parts))


def last_output_line(job: AbstractJob, limit: int = 200) -> str:
    """The last non-blank line a job wrote, as a terminal would show it.

    Progress bars rewrite their line after a ``\\r``: what a terminal shows is the text
    after the last one.  Only the tail of the output is read: a job may write megabytes.
    """
    tail = ""
    for _stream, text in reversed(job.output.chunks):
        tail = text + tail
        if "\n" in tail.rstrip() or len(tail) > 4 * limit:
            break
    for line in reversed(tail.split("\n")):
        visible = line.rstrip("\r").rsplit("\r", 1)[-1].strip()
        if visible:
            return visible[:limit]
    return ""


def _capture_on() -> bool:
    return isinstance(sys.stdout, _capture._Tee) or isinstance(sys.stderr, _capture._Tee)


@contextlib.contextmanager
def _outside_jobs() -> Iterator[None]:
    """Write as nobody: events often fire inside a job's task, and what a view prints
    there would otherwise be captured as that job's own output."""
    token = current_job.set(None)
    try:
        yield
    finally:
        current_job.reset(token)


# ---------------------------------------------------------------------------------------
# what the views know
# ---------------------------------------------------------------------------------------
@dataclass(eq=False)
class _Group:
    """One scheduler of the tree, with the statuses of the leaf jobs under it."""

    scheduler: PureScheduler
    depth: int
    parent: _Group | None
    members: list[AbstractJob] = field(default_factory=list)
    # Leaf jobs of nested schedulers included: "3/5" on a nested scheduler's line counts
    # the work inside it, not its own state.
    counts: Counter[Status] = field(default_factory=Counter)
    # Its own leaf jobs only, for the "… n more" line of a crowded screen.
    own: Counter[Status] = field(default_factory=Counter)


class Board:
    """A view's model of a run, kept up to date from events at O(1) per event.

    The tree of schedulers is rebuilt (O(jobs)) only when the structure changes; a status
    change updates counters, and the sets of jobs that deserve a line on a crowded screen.
    """

    def __init__(self, root: PureScheduler) -> None:
        self.root = root
        self.groups: list[_Group] = []
        self.group_of: dict[int, _Group] = {}  # id(scheduler) -> group
        self.status: dict[int, Status] = {}  # leaf job id -> last known status
        self.leaves: dict[int, AbstractJob] = {}
        self.forever: set[int] = set()
        # Jobs worth a line when not all fit, per status, in the order they got there.
        self.notable: dict[Status, dict[int, AbstractJob]] = {
            status: {}
            for status in ATTENTION_ORDER
            if status not in (Status.SUCCEEDED, Status.IDLE)
        }
        self.stale = True
        self.rebuild()

    def rebuild(self) -> None:
        self.groups = []
        self.group_of = {}
        self.status = {}
        self.leaves = {}
        self.forever = set()
        for bucket in self.notable.values():
            bucket.clear()
        self._add_group(self.root, 0, None)
        self.stale = False

    def _add_group(self, scheduler: PureScheduler, depth: int, parent: _Group | None) -> None:
        group = _Group(scheduler, depth, parent)
        self.groups.append(group)
        self.group_of[id(scheduler)] = group
        group.members = _members(scheduler)
        for job in group.members:
            if is_scheduler(job):
                self._add_group(job, depth + 1, group)  # type: ignore[arg-type]
            else:
                self.leaves[job.id] = job
                if job.forever:
                    self.forever.add(job.id)
                self._set(job, job.status)

    def _set(self, job: AbstractJob, status: Status) -> None:
        old = self.status.get(job.id)
        if old is status:
            return
        self.status[job.id] = status
        group = self.group_of.get(id(job.scheduler))
        if group is not None:
            if old is not None:
                group.own[old] -= 1
            group.own[status] += 1
        while group is not None:
            if old is not None:
                group.counts[old] -= 1
            group.counts[status] += 1
            group = group.parent
        if old in self.notable:
            self.notable[old].pop(job.id, None)
        if status in self.notable:
            self.notable[status][job.id] = job

    def on_event(self, event: Event) -> None:
        if event.kind is EventKind.STRUCTURE:
            self.stale = True
        elif event.kind is EventKind.STATUS and event.job is not None and not self.stale:
            job = event.job
            if is_scheduler(job):
                return
            if job.id not in self.leaves:
                # A job this board never saw: the graph changed without saying so.
                self.stale = True
                return
            self._set(job, event.status if event.status is not None else job.status)

    def refresh(self) -> None:
        if self.stale:
            self.rebuild()

    @property
    def counts(self) -> Counter[Status]:
        return self.groups[0].counts

    def progress(self) -> tuple[int, int]:
        """(finished, total) over the jobs expected to finish: forever jobs never do."""
        total = len(self.leaves) - len(self.forever)
        done = sum(n for s, n in self.counts.items() if s.finished)
        done -= sum(
            1 for jid in self.forever if (st := self.status.get(jid)) is not None and st.finished
        )
        return max(done, 0), max(total, 0)


# ---------------------------------------------------------------------------------------
# plain lines
# ---------------------------------------------------------------------------------------
class PlainView:
    """One timestamped line when a job starts or ends, and when a scheduler's run does.

    For logs and CI.  Waiting for a window slot and output are not printed: the first
    would double the lines of a windowed run, and a job's output is already echoed where
    it was written.  Lines look like::

        12:03:05.001 running    download alpha
        12:03:05.802 succeeded  download alpha  0.8s
        12:03:06.100 failed     upload  0.6s  ConnectionError: refused  (non-critical)
    """

    def __init__(
        self,
        scheduler: PureScheduler,
        file: TextIO | None = None,
        *,
        now: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        self.scheduler = scheduler
        # Bound now, not looked up at each write: capture replaces sys.stderr during runs.
        self.file = file if file is not None else sys.stderr
        self._now = now if now is not None else datetime.datetime.now
        self._unsubscribe: Callable[[], None] | None = None
        self._started: dict[int, float] = {}  # id(scheduler) -> loop time of RUN_STARTED

    def start(self) -> None:
        self._unsubscribe = self.scheduler.subscribe(self.on_event)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _write(self, text: str) -> None:
        stamp = self._now().strftime("%H:%M:%S.%f")[:-3]
        try:
            with _outside_jobs():
                self.file.write(f"{stamp} {text}\n")
                self.file.flush()
        except (OSError, ValueError):
            # A closed pipe (`| head`) must not fail the jobs whose events we print.
            self.stop()

    def on_event(self, event: Event) -> None:
        if event.kind is EventKind.STATUS and event.job is not None:
            status = event.status if event.status is not None else event.job.status
            self._on_status(event.job, status)
        elif event.kind is EventKind.RUN_STARTED:
            if event.time is not None:
                self._started[id(event.scheduler)] = event.time
            self._write(f"{'start':<9}  {self._where(event.scheduler)}")
        elif event.kind is EventKind.RUN_FINISHED:
            words = [f"{'finish':<9}", self._where(event.scheduler)]
            begin = self._started.pop(id(event.scheduler), None)
            if begin is not None and event.time is not None:
                words.append(format_duration(event.time - begin))
            if event.text:
                words.append(event.text)
            self._write("  ".join(words))

    def _where(self, scheduler: PureScheduler) -> str:
        if scheduler is self.scheduler:
            return f"[{scheduler_label(scheduler)}]"
        return f"[{job_path(scheduler, self.scheduler)}]"  # type: ignore[arg-type]

    def _on_status(self, job: AbstractJob, status: Status) -> None:
        if status in (Status.IDLE, Status.WAITING) or is_scheduler(job):
            return
        words = [f"{status.value:<9}", job_path(job, self.scheduler)]
        if status.finished and job.duration is not None:
            # logs are read after the fact, when the difference between 0.01s and 0.04s
            # may be the clue: the one format keeps hundredths under ten seconds
            words.append(format_duration(job.duration))
        if status is Status.FAILED:
            exc = job.raised_exception()
            if exc is not None:
                words.append(_exception_line(exc))
            if not job.critical:
                words.append("(non-critical)")
        elif status is Status.CANCELLED and job.cancel_reason:
            words.append(f"({job.cancel_reason})")
        elif status is Status.SKIPPED and job.skip_reason:
            words.append(f"({job.skip_reason})")
        self._write("  ".join(words))


def _exception_line(exc: BaseException) -> str:
    text = str(exc).strip().split("\n", 1)[0]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---------------------------------------------------------------------------------------
# live view
# ---------------------------------------------------------------------------------------
class LiveView:
    """A live rich display: progress bar, counts, one line per job grouped by scheduler.

    Each job's line shows its state, label, elapsed time and last output line (or, once
    it ended badly, why).  When the jobs do not fit on the screen, the ones that need
    attention (failed, running, waiting) keep a line and the others are counted.
    """

    HEADER_LINES = 2  # progress bar, counts

    def __init__(
        self,
        scheduler: PureScheduler,
        console: Console | None = None,
        *,
        refresh_per_second: float = 8.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        from rich.console import Console

        if not refresh_per_second > 0:
            raise ValueError(f"refresh_per_second must be > 0, got {refresh_per_second!r}")
        self.scheduler = scheduler
        # Without a console of its own, the view draws on what sys.stderr is when it
        # starts, from under the output capture (see start()): stdout is the program's.
        self._follow_stderr = console is None
        self.console = console if console is not None else Console(file=sys.stderr)
        self.interval = 1.0 / refresh_per_second
        self.board = Board(scheduler)
        self.frames = 0  # how many times the screen was drawn: tests check the rate bound
        self._clock = clock
        self._dirty = True
        self._live: Live | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._run_started: float | None = None
        self._run_ended: float | None = None
        fancy = self._can_encode([*SYMBOLS.values(), SPINNER, "▼∞…"])
        self._symbols = SYMBOLS if fancy else ASCII_SYMBOLS
        self._spinner = SPINNER if fancy else ASCII_SPINNER
        self._opener = "▼" if fancy else "v"
        self._forever_mark = " ∞" if fancy else " (forever)"
        self._ellipsis = "…" if fancy else "..."
        self._ticks = 0
        self._restore_keyboard: Callable[[], None] | None = None

    def _can_encode(self, texts: Iterable[str]) -> bool:
        try:
            "".join(texts).encode(self.console.encoding or "ascii")
        except (UnicodeEncodeError, LookupError):
            return False
        return True

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        from rich.live import Live

        self._live = Live(
            console=self.console,
            # Drawing is driven by the loop timer below, never by rich's own thread, so
            # that job state is only ever read on the loop's thread.
            auto_refresh=False,
            transient=False,
            # Whatever jobs print goes above the display instead of tearing it; stdout
            # only when it shows on a terminal too: piped, it stays the program's own.
            redirect_stdout=_isatty(sys.stdout),
            redirect_stderr=True,
            vertical_overflow="crop",
        )
        # rich's redirection of sys.stdout/stderr must sit under the output capture: the
        # capture then records what a job prints, and rich prints it above the display.
        # The other way round, rich would take the job's text away from the capture and
        # the capture would record the display's escape codes as the job's output.  run()
        # attaches its view once the capture is on: step it out for the time it takes.
        step_out = _capture_on()
        if step_out:
            _capture.uninstall()
        try:
            if self._follow_stderr:
                self.console.file = sys.stderr
            if _isatty(self.console.file):
                self._restore_keyboard = _silence_keyboard()
            with _outside_jobs():
                self._live.start()
        finally:
            if step_out:
                _capture.install()
        self._unsubscribe = self.scheduler.subscribe(self.on_event)
        self.redraw()
        with contextlib.suppress(RuntimeError):
            self._start_timer(asyncio.get_running_loop())

    def stop(self) -> None:
        """Draw the final state and give the terminal back; the last frame stays."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._live is not None:
            self.redraw()
            with _outside_jobs():
                self._live.stop()
            self._live = None
        if self._restore_keyboard is not None:
            self._restore_keyboard()
            self._restore_keyboard = None

    def _start_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is None and self._live is not None and not loop.is_closed():
            self._loop = loop
            # An empty context: the first event may come from inside a job's task, and
            # the timer would otherwise carry that job's context (its output capture)
            # into every later redraw.
            self._timer = loop.call_later(self.interval, self._tick, context=contextvars.Context())

    def _tick(self) -> None:
        self._timer = None
        if self._live is None:
            return
        self._ticks += 1
        # Running jobs' elapsed times and the spinner move without any event.
        if self._dirty or self.board.counts[Status.RUNNING]:
            self.redraw()
        if self._loop is not None:
            self._start_timer(self._loop)

    def redraw(self) -> None:
        if self._live is None:
            return
        self._dirty = False
        try:
            renderable = self.render()
        except Exception:
            # A view must never break the run it shows.
            logger.exception("nbjobs: the live view failed to draw")
            return
        with _outside_jobs():
            self._live.update(renderable, refresh=True)
        self.frames += 1

    def on_event(self, event: Event) -> None:
        self.board.on_event(event)
        self._dirty = True
        if event.scheduler is self.scheduler:
            if event.kind is EventKind.RUN_STARTED:
                self._run_started, self._run_ended = event.time, None
            elif event.kind is EventKind.RUN_FINISHED:
                self._run_ended = event.time
        if self._timer is None:
            # attach() may be called before the loop exists; events come from inside it.
            with contextlib.suppress(RuntimeError):
                self._start_timer(asyncio.get_running_loop())

    # -- drawing -----------------------------------------------------------------------
    def now(self) -> float:
        """The loop's clock, which job times are measured with."""
        if self._clock is not None:
            return self._clock()
        if self._loop is not None:
            return self._loop.time()
        return time.monotonic()

    def elapsed(self) -> float | None:
        if self._run_started is None:
            return None
        end = self._run_ended if self._run_ended is not None else self.now()
        return max(end - self._run_started, 0.0)

    def render(self) -> RenderableType:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        board = self.board
        board.refresh()
        done, total = board.progress()

        head = Table.grid(padding=(0, 1), expand=True)
        head.add_column(no_wrap=True, max_width=max(self.console.width // 3, 8))
        head.add_column(ratio=1)
        head.add_column(no_wrap=True, justify="right")
        head.add_row(
            Text(scheduler_label(self.scheduler), style="bold", overflow="ellipsis"),
            ProgressBar(total=max(total, 1), completed=done if total else 0),
            Text(f"{done}/{total}  {format_duration(self.elapsed())}".rstrip()),
        )
        counts = Text(no_wrap=True, overflow="ellipsis")
        for status in ATTENTION_ORDER:
            if n := board.counts[status]:
                if counts:
                    counts.append("  ")
                counts.append(f"{self._symbols[status]} {n} {status.value}", style=STYLES[status])
        if not counts:
            counts.append("no jobs", style="dim")

        body = Table.grid(padding=(0, 1), expand=True)
        # indented symbol and label; elapsed; last output line or why it ended
        body.add_column(no_wrap=True, overflow="ellipsis", ratio=2, min_width=10)
        body.add_column(no_wrap=True, justify="right", min_width=5)
        body.add_column(no_wrap=True, overflow="ellipsis", ratio=3)
        budget = max(self.console.height - self.HEADER_LINES, 3)
        for row in self._rows(budget):
            body.add_row(*row)
        return Group(head, counts, body)

    def _job_row(self, job: AbstractJob, depth: int, label: str | None = None) -> Row:
        from rich.text import Text

        status = self.board.status.get(job.id, job.status)
        if status is Status.RUNNING:
            symbol = self._spinner[self._ticks % len(self._spinner)]
        else:
            symbol = self._symbols[status]
        name = Text(label if label is not None else job.label_text())
        if status is Status.IDLE:
            name.stylize("dim")
        if job.forever:
            name.append(self._forever_mark, style="dim")
        elapsed = ""
        if status is Status.RUNNING and job.start_time is not None:
            elapsed = format_duration(max(self.now() - job.start_time, 0.0))
        elif status.finished:
            elapsed = format_duration(job.duration)
        style = ""
        if status is Status.FAILED and (exc := job.raised_exception()) is not None:
            detail = _exception_line(exc) + ("" if job.critical else " (non-critical)")
            style = "red"
        elif status is Status.CANCELLED and job.cancel_reason:
            detail = job.cancel_reason
            style = "magenta"
        elif status is Status.SKIPPED and job.skip_reason:
            detail = job.skip_reason
            style = "dim"
        else:
            detail = last_output_line(job)
            style = "dim"
        line = Text("  " * depth)
        line.append(symbol, style=STYLES[status])
        line.append(" ")
        line.append_text(name)
        return (
            line,
            Text(elapsed, style="" if status is Status.RUNNING else "dim"),
            Text(detail, style=style),
        )

    def _group_row(self, group: _Group) -> Row:
        from rich.text import Text

        counts = group.counts
        done = sum(n for s, n in counts.items() if s.finished)
        summary = Text(f"{done}/{sum(counts.values())}", style="dim")
        for status in (Status.FAILED, Status.RUNNING, Status.WAITING):
            if counts[status]:
                summary.append(f"  {self._symbols[status]} {counts[status]}", style=STYLES[status])
        job: Any = group.scheduler  # nested schedulers are jobs too: they have times
        status = job.status
        elapsed = ""
        if status is Status.RUNNING and job.start_time is not None:
            elapsed = format_duration(max(self.now() - job.start_time, 0.0))
        elif status.finished:
            elapsed = format_duration(job.duration)
        line = Text("  " * (group.depth - 1))
        line.append(self._opener, style=STYLES[status])
        line.append(" ")
        line.append(scheduler_label(group.scheduler), style="bold")
        return (line, Text(elapsed, style="dim"), summary)

    def _more_row(self, depth: int, hidden: Counter[Status]) -> Row:
        from rich.text import Text

        text = Text("  " * depth + f"  {self._ellipsis} {sum(hidden.values())} more:", style="dim")
        for status in ATTENTION_ORDER:
            if hidden[status]:
                text.append(f" {self._symbols[status]} {hidden[status]}", style=STYLES[status])
        return (text, Text(""), Text(""))

    def _rows(self, budget: int) -> list[Row]:
        board = self.board
        if len(board.leaves) + len(board.groups) - 1 <= budget:
            return self._all_rows()
        return self._crowded_rows(budget)

    def _all_rows(self) -> list[Row]:
        board = self.board
        rows: list[Row] = []

        def walk(group: _Group) -> None:
            for job in group.members:
                child = board.group_of.get(id(job))
                if child is not None:
                    rows.append(self._group_row(child))
                    walk(child)
                else:
                    rows.append(self._job_row(job, group.depth))

        walk(board.groups[0])
        return rows

    def _crowded_rows(self, budget: int) -> list[Row]:
        """More jobs than lines: keep those that need attention, count the others.

        Costs O(lines + nested schedulers), whatever the number of jobs.
        """
        board = self.board
        nested = board.groups[1:]
        # A header and a "more" line per nested scheduler, when that leaves room for jobs;
        # otherwise one flat list of jobs named by their path.
        grouped = 2 * len(nested) + 1 <= budget // 2
        room = budget - (2 * len(nested) + 1 if grouped else 1)
        chosen: list[AbstractJob] = []
        for status in ATTENTION_ORDER:
            bucket = board.notable.get(status)
            if not bucket or len(chosen) >= room:
                continue
            # Running and waiting: the oldest first, they hold things up; ended ones:
            # the most recent first.
            items = reversed(bucket.values()) if status.finished else iter(bucket.values())
            for job in items:
                if len(chosen) >= room:
                    break
                chosen.append(job)
        if not grouped:
            rows = [self._job_row(job, 0, job_path(job, board.root)) for job in chosen]
            hidden = board.counts.copy()
            for job in chosen:
                hidden[board.status[job.id]] -= 1
            if +hidden:
                rows.append(self._more_row(0, +hidden))
            return rows
        by_group: dict[int, list[AbstractJob]] = {}
        for job in chosen:
            by_group.setdefault(id(job.scheduler), []).append(job)
        rows = []
        for group in board.groups:
            if group.parent is not None:
                rows.append(self._group_row(group))
            jobs = by_group.get(id(group.scheduler), [])
            rows.extend(self._job_row(job, group.depth) for job in jobs)
            # Own leaves only: nested schedulers' lines carry their own counts.
            hidden = group.own.copy()
            for job in jobs:
                hidden[board.status[job.id]] -= 1
            if +hidden:
                rows.append(self._more_row(group.depth, +hidden))
        return rows


# ---------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------
def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


def _silence_keyboard() -> Callable[[], None] | None:
    """Stop the terminal from echoing keys while the display is drawn; return the undo.

    The terminal echoes ``^C`` (and any key typed) at the cursor: the live display then
    redraws one line off and leaves a stale copy of its first line behind.
    """
    try:
        import termios
    except ImportError:  # not a POSIX terminal
        return None
    try:
        fd = sys.stdin.fileno()
        if not os.isatty(fd):
            return None
        saved = termios.tcgetattr(fd)
        quiet = termios.tcgetattr(fd)
        quiet[3] &= ~(termios.ECHO | getattr(termios, "ECHOCTL", 0))
        termios.tcsetattr(fd, termios.TCSANOW, quiet)
    except (AttributeError, OSError, ValueError, termios.error):
        return None

    def restore() -> None:
        with contextlib.suppress(OSError, ValueError, termios.error):
            termios.tcsetattr(fd, termios.TCSANOW, saved)

    return restore


def attach_to_run(scheduler: PureScheduler, view: Any) -> Callable[[], None] | None:
    """The view that a blocking ``run()`` outside Jupyter shows: on stderr, and only when
    stderr is a terminal or when asked (``view="text"``, ``"live"`` or ``"plain"``); a
    library call never writes its progress where the program's output goes."""
    if view is False:
        return None
    if view in ("live", "plain"):
        return attach(scheduler, mode=view)
    if view == "text" or _isatty(sys.stderr):
        return attach(scheduler)
    return None


def attach(
    scheduler: PureScheduler,
    *,
    mode: Mode = "auto",
    file: TextIO | None = None,
) -> Callable[[], None] | None:
    """Show ``scheduler``'s run on a terminal; return the function that ends the view.

    ``mode="auto"`` draws the live view when ``file`` (stderr by default: stdout belongs
    to the program) is a terminal and rich is installed, and prints timestamped lines
    otherwise; ``"live"`` and ``"plain"`` force one.  Returns None when there is nowhere
    to write (``sys.stderr`` is None under ``pythonw``).
    """
    if mode not in ("auto", "live", "plain"):
        raise ValueError(f"mode must be 'auto', 'live' or 'plain', got {mode!r}")
    stream = file if file is not None else sys.stderr
    if stream is None:
        return None
    if mode == "live" or (mode == "auto" and _isatty(stream)):
        try:
            from rich.console import Console
        except ImportError:
            logger.warning("the live terminal view needs rich: pip install 'nbjobs[terminal]'")
        else:
            console = None
            if file is not None or mode == "live":
                console = Console(file=stream, force_terminal=True if mode == "live" else None)
            live = LiveView(scheduler, console)
            live.start()
            return live.stop
    plain = PlainView(scheduler, stream)
    plain.start()
    return plain.stop
