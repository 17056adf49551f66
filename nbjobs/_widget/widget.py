"""The live DAG widget: an anywidget view of a scheduler, updated as its jobs run.

The kernel side sends structure and state; the browser side (``js/``, bundled into
``static/runtime.js``) lays the graph out with Graphviz compiled to WebAssembly and draws it.
Each widget's own module (``static/widget.js``) is a small loader of that bundle, which the
page gets once, from the kernel's one ``WidgetRuntime`` (``runtime.py``).

Protocol (the TypeScript side is ``js/src/protocol.ts``):

- trait ``graph_json``: the structure (jobs, requirements, nesting) and the DOT text to lay out;
  set again only when the structure changes, so only then does the page lay out again;
- trait ``snapshot_json``: every job's state; set at creation, on a structure change and at the
  end of a run, so that a saved notebook holds the final picture;
- custom message ``delta``: the jobs whose state changed since the previous delta, the run's
  counts, and the output of the jobs a view watches; coalesced, at most one per
  ``UPDATE_INTERVAL`` (ipywidgets sends one message per trait assignment, so per-event
  updates would flood the front-end);
- from the page: ``hello`` (answered by a ``snapshot`` message: a view may open after some
  deltas went out), ``cancel``, ``cancel_job``, ``detail`` (answered by ``detail``, which
  also starts streaming that job's output in deltas), ``unwatch``, ``query`` (answered
  by ``rows``) and, from the loader, ``runtime`` (answered by ``runtime``, naming the live
  runtime model when the one in the ``_runtime`` trait was closed). Requests carry an
  ``id``; failures come back in-band as ``error`` with that id.

Past ``BIG_GRAPH`` leaf jobs a graph is not described job by job: the ``graph`` trait
holds only the nodes drawn (the top level when nested schedulers are collapsed, none in
"list" mode), snapshots and deltas carry the counts (per collapsed scheduler too), the
states of the nodes drawn and of the jobs a panel shows; deltas go out on a timer while
the run goes on (when something changed), and the page asks with ``query`` for the rows
its list or timeline shows (``query.py``). In list mode such a view costs the run
nothing per job.

Job-provided text travels as JSON strings and the page renders it with ``textContent``; the
DOT text only sizes the boxes (its labels are escaped for DOT and never shown as markup).
"""

from __future__ import annotations

import json
import logging
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import anywidget
import traitlets
from ipywidgets import widget_serialization

from .._core.errors import RunGoneError
from .._core.events import Coalescer, Event, EventKind
from .._core.job import AbstractJob, Status
from .._core.protocol import is_scheduler
from .._core.text import bounded_repr, format_traceback
from .._engine.scheduler import PureScheduler
from .._views.dot import dot_source
from .._views.format import now
from .query import Query, answer, walk
from .runtime import RUNTIME_BUNDLE, WidgetRuntime, widget_runtime

logger = logging.getLogger("nbjobs")

#: past this many leaf jobs, nested schedulers are drawn collapsed
BIG_GRAPH = 1000
#: past this many nodes even when collapsed, the page shows the list view only
MAX_DRAWN = 1000
#: seconds between two deltas (at most 20 messages a second)
UPDATE_INTERVAL = 0.05
#: characters of a label kept in the DOT text (the page draws the same cut label)
LABEL_MAX = 40
#: characters of a result's repr sent to the page
RESULT_MAX = 2_000
#: characters of captured output sent with a detail answer (the most recent ones)
DETAIL_OUTPUT_MAX = 64_000
#: characters of streamed output sent in one delta; more is dropped from the middle
DELTA_OUTPUT_MAX = 64_000

#: each widget's module: a small loader of the view, which the page gets once (runtime.py)
_BUNDLE = Path(__file__).parent.parent / "static" / "widget.js"
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

#: called with each widget made with ``close_with_cell=True`` when it is put in an output;
#: the Jupyter glue fills it to close the widgets of a cell that is re-run or deleted
SHOWN_HOOKS: list[Callable[[DagWidget], None]] = []

_DELTA = "delta"
_STRUCTURE = "structure"
_RUN = "run"

Row = list[Any]  # [id, state, ready, start, end]


def graph_columns(scheduler: PureScheduler) -> dict[str, Any]:
    """The ``graph`` trait for ``scheduler``: jobs, nesting, and the DOT text to lay out.

    Jobs go column by column (``jobs.id``, ``jobs.label``...; flags as 0/1, ``data`` 0
    when empty), not as one object per job: the keys are not repeated for each job, so
    the JSON is smaller and faster to build and encode, which counts on big runs (the
    page rebuilds one object per job).
    """
    mode, leaves = graph_mode(scheduler)
    ids: list[int] = []
    labels: list[str] = []
    critical: list[int] = []
    forever: list[int] = []
    parents: list[int | None] = []
    requires: list[list[int]] = []
    data: list[list[int] | int] = []
    nested: list[int] = []
    # past BIG_GRAPH jobs only the nodes drawn are described (the top level when
    # collapsed, none in list mode): the page asks for the rows it lists (query.py)
    described: Iterable[tuple[AbstractJob, int | None]] = (
        walk(scheduler, None)
        if mode == "full"
        else ((job, None) for job in scheduler.jobs)
        if mode == "collapsed"
        else ()
    )
    for job, parent in described:
        ids.append(job.id)
        labels.append(job.label_text())
        critical.append(1 if job.critical else 0)
        forever.append(1 if job.forever else 0)
        parents.append(parent)
        requires.append([req.id for req in job.required])
        data.append([p.id for p in job.data_required] if job.data_required else 0)
        nested.append(1 if is_scheduler(job) else 0)
    dot = ""
    if mode != "list":
        dot = dot_source(
            scheduler,
            page=True,
            collapse=mode == "collapsed",
            label=AbstractJob.label_text,
            label_max=LABEL_MAX,
        )
    return {
        "label": scheduler.label_text(),
        "jobs": {
            "id": ids,
            "label": labels,
            "critical": critical,
            "forever": forever,
            "parent": parents,
            "requires": requires,
            "data": data,
            "scheduler": nested,
        },
        "dot": dot,
        "mode": mode,
        "leaves": leaves,
    }


def graph_mode(scheduler: PureScheduler) -> tuple[str, int]:
    """How the page shows ``scheduler`` ("full", "collapsed" or "list") and its number of
    leaf jobs; O(schedulers), from their counts."""
    leaves = sum(scheduler.leaf_counts().values())
    if leaves <= BIG_GRAPH:
        return "full", leaves
    return ("collapsed" if len(scheduler.jobs) <= MAX_DRAWN else "list"), leaves


def micros(t: float | None, origin: float) -> int | None:
    """A loop-clock time as whole microseconds after ``origin``.

    Rows carry three times per job and a run sends tens of thousands of rows: integers
    serialise several times faster than floats' shortest round-trip form.
    """
    return None if t is None else int((t - origin) * 1_000_000)


_STATE_NAMES = {status: status.value for status in Status}


def _rows(jobs: Iterable[AbstractJob], origin: float) -> list[Row]:
    """A row per job: id, state, and its times as ``micros`` gives them (inline, without
    a call per time: a snapshot makes one row per job at the start and the end of each
    run, and those are on the run's clock)."""
    names = _STATE_NAMES
    return [
        [
            job.id,
            names[job._status],
            None if (t := job.ready_time) is None else int((t - origin) * 1_000_000),
            None if (t := job.start_time) is None else int((t - origin) * 1_000_000),
            None if (t := job.end_time) is None else int((t - origin) * 1_000_000),
        ]
        for job in jobs
    ]


def stats_dict(scheduler: PureScheduler) -> dict[str, Any]:
    """The run's counts and times as the page reads them (O(schedulers): each scheduler
    keeps its counts per status)."""
    stats = scheduler.statistics(recursive=True)
    return {
        "counts": {status.value: n for status, n in stats.counts.items()},
        "total": stats.total,
        "running": stats.running,
        "waiting": stats.waiting,
        "elapsed": stats.elapsed,
        "started": stats.started,
        "finished": stats.finished,
        "outcome": stats.outcome,
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def job_detail(job: AbstractJob, origin: float) -> dict[str, Any]:
    """Everything the page's panel shows about one job (the answer to ``detail``)."""
    status = job.status
    result = None
    if status is Status.SUCCEEDED:
        result = bounded_repr(job.result(), RESULT_MAX)
    exc = job.raised_exception()
    chunks: list[list[str]] = []
    size = 0
    for stream, text in reversed(job.output.chunks):
        if size + len(text) > DETAIL_OUTPUT_MAX:
            keep = DETAIL_OUTPUT_MAX - size
            if keep > 0:
                chunks.append([stream, text[-keep:]])
            size = DETAIL_OUTPUT_MAX + 1
            break
        chunks.append([stream, text])
        size += len(text)
    chunks.reverse()
    dropped = size > DETAIL_OUTPUT_MAX or bool(getattr(job.output, "dropped", 0))
    return {
        "id": job.id,
        "label": job.label_text(),
        "state": status.value,
        "critical": bool(job.critical),
        "forever": bool(job.forever),
        "scheduler": is_scheduler(job),
        "ready": micros(job.ready_time, origin),
        "start": micros(job.start_time, origin),
        "end": micros(job.end_time, origin),
        "duration": job.duration,
        "attempts": getattr(job, "attempts", None),
        # where the body ran (an executor's worker), and that engine's web page if it has one
        "where": getattr(job, "where", None),
        "dashboard": dashboard_of(job),
        "requires": [[req.id, req.label_text()] for req in job.required],
        "result": result,
        "exception": None if exc is None else f"{type(exc).__qualname__}: {exc}",
        "traceback": None if exc is None else format_traceback(exc),
        "cancel_reason": job.cancel_reason,
        "skip_reason": job.skip_reason,
        "output": chunks,
        "output_truncated": dropped,
    }


def dashboard_of(job: AbstractJob) -> str | None:
    """The web page (a dashboard) of the executor ``job``'s body runs on: its own, else its
    nearest scheduler's; None without one, or for an address that is not http(s)."""
    owner: Any = job
    while owner is not None:
        executor = getattr(owner, "executor", None)
        if executor is not None:
            link = getattr(executor, "dashboard_link", None)
            if isinstance(link, str) and link.startswith(("http://", "https://")):
                return link
            return None
        owner = owner.scheduler if isinstance(owner, AbstractJob) else None
    return None


class _OutputBuffer:
    """Output of watched jobs waiting for the next delta, bounded in size."""

    def __init__(self, limit: int = DELTA_OUTPUT_MAX) -> None:
        self.limit = limit
        self.rows: list[list[Any]] = []
        self.size = 0
        self.dropped = 0

    def add(self, job_id: int, stream: str, text: str) -> None:
        if self.size + len(text) > self.limit:
            # keep the start of the burst and say how much of the rest is gone: a job
            # printing in a tight loop must not make messages of megabytes
            self.dropped += len(text)
            return
        if self.rows and self.rows[-1][0] == job_id and self.rows[-1][1] == stream:
            self.rows[-1][2] += text
        else:
            self.rows.append([job_id, stream, text])
        self.size += len(text)

    def take(self) -> list[list[Any]]:
        rows = self.rows
        if self.dropped and rows:
            rows.append([rows[-1][0], "log", f"[{self.dropped} characters of output dropped]\n"])
        self.rows = []
        self.size = 0
        self.dropped = 0
        return rows


class DagWidget(anywidget.AnyWidget):
    """A live drawing of ``scheduler``'s jobs; display it in a notebook.

    It follows the scheduler (and its nested schedulers) until ``close()``: each job is a
    node coloured by its state, a click shows its details and output, and the Cancel
    buttons cancel the run or one job.
    """

    _esm = _BUNDLE
    # the kernel's one model holding the view's code, which the loader imports once per page
    _runtime = traitlets.Instance(WidgetRuntime, allow_none=True).tag(
        sync=True, **widget_serialization
    )
    # JSON text rather than Dict traits: ipywidgets walks a Dict trait's whole structure
    # for binary buffers before sending it, which on 10k jobs cost more than the run's
    # own bookkeeping; a string is sent as it is.
    graph_json = traitlets.Unicode("{}").tag(sync=True)
    snapshot_json = traitlets.Unicode("{}").tag(sync=True)

    def __init__(
        self, scheduler: PureScheduler, *, close_with_cell: bool = False, **kwargs: Any
    ) -> None:
        if not isinstance(scheduler, PureScheduler):
            raise TypeError(
                f"DagWidget() takes a scheduler (PureScheduler, Scheduler), got {scheduler!r}"
            )
        missing = [path for path in (_BUNDLE, RUNTIME_BUNDLE) if not path.is_file()]
        if missing:
            raise FileNotFoundError(
                f"the nbjobs widget bundle {missing[0]} is missing: reinstall nbjobs from a "
                "wheel, or build it from a source tree with 'npm --prefix js ci && "
                "npm --prefix js run build'"
            )
        # Held strongly only while a run goes on: a widget lives as long as its comm is
        # open (ipywidgets keeps every open widget), and a kernel that runs for days must
        # free a finished run (its jobs, their results) once the user's names for it are
        # gone. The traits keep what the page shows.
        self._ref: weakref.ref[PureScheduler] = weakref.ref(scheduler)
        self._held: PureScheduler | None = scheduler if scheduler.is_running_now else None
        self._label = scheduler.label_text()
        #: closed when every cell that showed it was run again or deleted (in a kernel
        #: whose front-end sends cell ids): the page no longer shows it anywhere
        self.close_with_cell = close_with_cell
        # times go to the page as microseconds after this point of the loop's clock
        self._origin = now()
        self._seq = 0
        # id -> job, made when first needed: a big run's page may never ask
        self._index: dict[int, AbstractJob] | None = None
        self._dirty: dict[int, AbstractJob] = {}
        self._watched: dict[int, int] = {}
        self._output = _OutputBuffer()
        self._coalescer: Coalescer[str] = Coalescer(self._flush, UPDATE_INTERVAL)
        self.messages_sent = 0
        # what the last lazy delta told (counts, watched rows): see _send_lazy_delta
        self._told: Any = None
        graph = graph_columns(scheduler)
        self._mode: str = graph["mode"]
        super().__init__(
            graph_json=_dumps(graph),
            snapshot_json=_dumps(self._snapshot()),
            _runtime=widget_runtime(),
            **kwargs,
        )
        self.on_msg(self._on_msg)
        subscribers = scheduler.subscribers
        self._unsubscribers: list[Callable[[], None]] = [
            subscribers.add(self._on_event, statuses=False)
        ]
        self._unwatch_statuses: Callable[[], None] | None = None
        self._follow_statuses()

    def _follow_statuses(self) -> None:
        """Watch status changes when the page draws nodes (every job, or the top level
        when collapsed); in list mode the page asks for what it shows and deltas go out
        on a timer while the run goes on: the run pays nothing per status change."""
        wanted = self._mode != "list"
        if wanted and self._unwatch_statuses is None:
            # status changes (several per job) reach the view as entries in self._dirty,
            # not as events: the widget costs a dict store per change, not a call chain
            self._unwatch_statuses = self._scheduler.subscribers.watch_statuses(
                self._dirty, self._wake
            )
        elif not wanted and self._unwatch_statuses is not None:
            self._unwatch_statuses()
            self._unwatch_statuses = None
            self._dirty.clear()

    @property
    def _scheduler(self) -> PureScheduler:
        scheduler = self._held if self._held is not None else self._ref()
        if scheduler is None:
            raise RunGoneError(
                f"the run of {self._label!r} shown by this widget is gone: nothing else "
                "held its scheduler (its cell was re-run, or its name deleted), so its "
                "jobs and results were freed; run the cell again to see a live run"
            )
        return scheduler

    @property
    def scheduler(self) -> PureScheduler:
        """The scheduler shown; raises :class:`~nbjobs.RunGoneError` once it was freed."""
        return self._scheduler

    @property
    def gone(self) -> bool:
        """True once the scheduler shown was freed (the widget shows its last state)."""
        return self._held is None and self._ref() is None

    @property
    def graph(self) -> dict[str, Any]:
        """The structure last sent to the page (the ``graph_json`` trait, parsed)."""
        value: dict[str, Any] = json.loads(self.graph_json)
        return value

    @property
    def snapshot(self) -> dict[str, Any]:
        """The states last saved in the ``snapshot_json`` trait, parsed."""
        value: dict[str, Any] = json.loads(self.snapshot_json)
        return value

    def __repr__(self) -> str:
        if self.gone:
            return f"<DagWidget of {self._label!r}: the run is gone, its last state is shown>"
        stats = self._scheduler.statistics()
        done = stats.done
        state = "finished" if stats.finished else "running" if stats.started else "not started"
        return (
            f"<DagWidget of {self._scheduler.label_text()!r}: {done}/{stats.total} jobs done, "
            f"{state}>"
        )

    # ---- state sent to the page ---------------------------------------------------------
    def _jobs_by_id(self) -> dict[int, AbstractJob]:
        if self._index is not None:
            return self._index
        index = {job.id: job for job, _ in walk(self._scheduler, None)}
        if self._held is not None:
            # kept only while a run goes on: it holds every job, hence every result
            self._index = index
        return index

    def _rows(self, jobs: Iterable[AbstractJob]) -> list[Row]:
        return _rows(jobs, self._origin)

    def _snapshot(self) -> dict[str, Any]:
        if self._mode == "full":
            return {
                "seq": self._seq,
                "now": micros(now(), self._origin),
                "jobs": self._rows(self._jobs_by_id().values()),
                "stats": stats_dict(self._scheduler),
            }
        # the nodes drawn, the jobs a panel shows, and the default list: what a saved
        # notebook shows
        return {
            "seq": self._seq,
            "now": micros(now(), self._origin),
            "jobs": self._rows(self._drawn_and_watched()),
            "stats": self._lazy_stats(),
            "list": answer(self._scheduler, Query(), self._origin),
        }

    def _watched_jobs(self) -> list[AbstractJob]:
        index = self._jobs_by_id() if self._watched else {}
        return [index[i] for i in self._watched if i in index]

    def _drawn_and_watched(self, drawn: Iterable[AbstractJob] | None = None) -> list[AbstractJob]:
        """Rows a lazy view needs: the nodes drawn (``drawn``, by default every top-level
        job when collapsed) and the jobs whose panel is open."""
        if drawn is None:
            drawn = self._scheduler.jobs if self._mode == "collapsed" else ()
        jobs = {job.id: job for job in drawn}
        for job in self._watched_jobs():
            jobs.setdefault(job.id, job)
        return list(jobs.values())

    def _lazy_stats(self) -> dict[str, Any]:
        stats = stats_dict(self._scheduler)
        if self._mode == "collapsed":
            # each collapsed scheduler's node shows the counts of the jobs inside it
            stats["groups"] = {
                str(nested.id): {st.value: n for st, n in nested.leaf_counts().items() if n}
                for nested in self._scheduler.nested_schedulers
            }
        return stats

    def refresh(self) -> None:
        """Send the whole current state again, traits included.

        A notebook saves the traits' last values: call this at the end of a run driven
        from a background task, whose trait updates a notebook runner may not record.
        """
        self._coalescer.flush_now()
        self.snapshot_json = _dumps(self._snapshot())

    # ---- events from the scheduler ------------------------------------------------------
    def _wake(self) -> None:
        # the first status change since the last delta: one is now on its way
        self._coalescer.mark(_DELTA)

    def _on_event(self, event: Event) -> None:
        kind = event.kind
        if kind is EventKind.OUTPUT:
            job = event.job
            if job is not None and job.id in self._watched and event.text:
                self._output.add(job.id, event.stream or "stdout", event.text)
                self._coalescer.mark(_DELTA)
        elif kind is EventKind.STRUCTURE:
            self._coalescer.mark(_STRUCTURE)
        elif kind is EventKind.RUN_STARTED and event.scheduler is self._ref():
            self._held = event.scheduler
            self._told = None
            self._coalescer.mark(_DELTA)
        elif kind is EventKind.RUN_FINISHED and event.scheduler is self._ref():
            # the final state goes out at once, and into the traits a notebook saves
            self._coalescer.mark(_RUN)
            self._coalescer.flush_now()
            # from now on the traits hold what the page shows: let the run go
            self._held = None
            self._index = None
        else:
            self._coalescer.mark(_DELTA)

    def _flush(self, keys: list[str]) -> None:
        if self.comm is None or self.gone:
            return  # closed, or nothing left to tell
        if _STRUCTURE in keys:
            graph = graph_columns(self._scheduler)
            self._index = None
            self._mode = graph["mode"]
            self._follow_statuses()
            self._dirty.clear()  # the snapshot below holds every state
            self._seq += 1
            with self.hold_sync():  # one message for both traits
                self.graph_json = _dumps(graph)
                self.snapshot_json = _dumps(self._snapshot())
            if self._output.rows:
                self._send_delta()
            return
        if _RUN in keys:
            # the run's end: every state goes into the snapshot trait (which a notebook
            # saves); a delta before it would carry most of the rows a second time
            self._dirty.clear()
            self._seq += 1
            self.snapshot_json = _dumps(self._snapshot())
            if self._output.rows:
                self._send_delta()
            return
        if self._mode == "full":
            self._send_delta()
        else:
            self._send_lazy_delta()

    def _send_delta(self) -> None:
        # copied and cleared, not replaced: the scheduler holds this very dict
        changed = list(self._dirty.values())
        self._dirty.clear()
        # (a lazy view comes here for output pending at a run's end: its counts keep
        # their groups)
        stats = stats_dict(self._scheduler) if self._mode == "full" else self._lazy_stats()
        self._seq += 1
        self._post(
            {
                "type": "delta",
                "seq": self._seq,
                "now": micros(now(), self._origin),
                "jobs": self._rows(changed),
                "stats": stats,
                "output": self._output.take(),
            }
        )

    def _send_lazy_delta(self) -> None:
        """A graph too big to describe: a delta every ``UPDATE_INTERVAL`` while the run
        goes on, sent when the counts, a node drawn (the top level when collapsed), a
        watched job or its output changed; the page then asks again for the rows it
        lists."""
        stats = self._lazy_stats()
        # copied and cleared, not replaced: the scheduler holds this very dict; a nested
        # job's change lands there too, and only counts for its scheduler's node
        top = self._scheduler
        changed = [job for job in self._dirty.values() if job._owner() is top]
        self._dirty.clear()
        watched = self._rows(self._watched_jobs())
        told = (stats["counts"], stats["finished"], watched)
        if told != self._told or changed or self._output.rows:
            self._told = told
            self._seq += 1
            self._post(
                {
                    "type": "delta",
                    "seq": self._seq,
                    "now": micros(now(), self._origin),
                    "jobs": self._rows(self._drawn_and_watched(changed)),
                    "stats": stats,
                    "output": self._output.take(),
                }
            )
        if self._scheduler.is_running_now:
            self._coalescer.mark(_DELTA)  # the next one in UPDATE_INTERVAL

    def _post(self, content: dict[str, Any]) -> None:
        self.send(content)
        self.messages_sent += 1

    # ---- requests from the page ---------------------------------------------------------
    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        request = content.get("id")
        try:
            if kind == "hello":
                # a page that opens after the run is gone gets the last state sent
                snapshot = self.snapshot if self.gone else self._snapshot()
                self._post({"type": "snapshot", **snapshot})
            elif kind == "runtime":
                # the page did not find the runtime this widget names (closed in the
                # kernel since): name the live one, made again if need be
                self._runtime = widget_runtime()
                self._post({"type": "runtime", "runtime": f"IPY_MODEL_{self._runtime.model_id}"})
            elif kind == "cancel":
                self._cancel_run(request)
            elif kind == "cancel_job":
                self._cancel_job(request, self._job(content.get("job")))
            elif kind == "detail":
                self._detail(request, self._job(content.get("job")))
            elif kind == "unwatch":
                self._unwatch(content.get("job"))
            elif kind == "query":
                query = Query.from_message(content)
                started = time.perf_counter()
                rows = answer(self._scheduler, query, self._origin)
                # the page spaces its questions by what they cost the kernel
                cost = round((time.perf_counter() - started) * 1000, 3)
                self._post({"type": "rows", "id": request, **rows, "cost_ms": cost})
            else:
                raise ValueError(f"unknown request {kind!r}")
        except Exception as exc:
            logger.debug("nbjobs widget: request %r failed", content, exc_info=True)
            self._post(
                {
                    "type": "error",
                    "id": request,
                    "message": str(exc),
                    "gone": isinstance(exc, RunGoneError),
                }
            )

    def _job(self, job_id: Any) -> AbstractJob:
        job = self._jobs_by_id().get(job_id) if isinstance(job_id, int) else None
        if job is None:
            raise LookupError(f"no job with id {job_id!r} in {self._scheduler.label_text()!r}")
        return job

    def _cancel_run(self, request: Any) -> None:
        if not self._scheduler.cancel("cancelled from the widget"):
            raise RuntimeError(
                f"{self._scheduler.label_text()!r} is not running: nothing to cancel"
            )
        self._post({"type": "ack", "id": request})

    def _cancel_job(self, request: Any, job: AbstractJob) -> None:
        if not job.cancel("cancelled from the widget"):
            raise RuntimeError(
                f"cannot cancel {job.label_text()!r}: it is {job.status.value} and its "
                "scheduler's run is not going on, or it has finished"
            )
        self._post({"type": "ack", "id": request})

    def _detail(self, request: Any, job: AbstractJob) -> None:
        # What was buffered goes out first: the answer holds all output up to now, and
        # the page ignores streamed output for this job until the answer arrives.
        self._coalescer.flush_now()
        self._watched[job.id] = self._watched.get(job.id, 0) + 1
        self._post(
            {
                "type": "detail",
                "id": request,
                "job": job.id,
                "detail": job_detail(job, self._origin),
            }
        )

    def _unwatch(self, job_id: Any) -> None:
        count = self._watched.get(job_id, 0) if isinstance(job_id, int) else 0
        if count > 1:
            self._watched[job_id] = count - 1
        elif count == 1:
            del self._watched[job_id]

    # ---- the rest -----------------------------------------------------------------------
    def close(self) -> None:
        """Stop following the scheduler and close the widget's views."""
        # getattr: ipywidgets calls close() from __del__, also for an instance whose
        # __init__ refused its arguments
        for unsubscribe in getattr(self, "_unsubscribers", ()):
            unsubscribe()
        self._unsubscribers = []
        unwatch = getattr(self, "_unwatch_statuses", None)
        if unwatch is not None:
            unwatch()
            self._unwatch_statuses = None
        coalescer = getattr(self, "_coalescer", None)
        if coalescer is not None:
            coalescer.close()
        # DOMWidget made a Layout widget (a comm of its own) for this widget alone
        # (read without creating one: a default trait value is made on first access)
        layout = self._trait_values.get("layout")
        if layout is not None:
            layout.close()
        super().close()

    def _note_shown(self) -> None:
        if not self.close_with_cell:
            return
        for hook in list(SHOWN_HOOKS):
            try:
                hook(self)
            except Exception:
                logger.exception("nbjobs: a widget display hook failed")

    def widget_view(self) -> dict[str, Any] | None:
        """The widget-view mime entry alone, without the fallback tables: for a caller that
        shows its own table beside it (the live view), which then is computed once."""
        self._note_shown()
        bundle = super()._repr_mimebundle_()
        if bundle is None:
            return None
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        view = data.get(_WIDGET_MIME) if isinstance(data, dict) else None
        return None if view is None else {_WIDGET_MIME: view}

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        self._note_shown()
        # what a viewer without the widget's JavaScript shows (GitHub, nbviewer, nbconvert)
        if self.gone:
            data["text/plain"] = repr(self)
        else:
            data["text/plain"] = fallback_text(self._scheduler)
            data["text/html"] = fallback_html(self._scheduler)
        return data, metadata


def fallback_text(scheduler: PureScheduler) -> str:
    from .._views.table import table_text

    return table_text(scheduler)


def fallback_html(scheduler: PureScheduler) -> str:
    from .._views.picture import picture_html
    from .._views.table import table_html

    if scheduler.is_running_now:
        return table_html(scheduler)
    return table_html(scheduler, full=True) + picture_html(scheduler)
