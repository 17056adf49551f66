"""How a scheduler shows itself in Jupyter: a mime bundle, and a live view of a run.

The live view is one output (``display(..., display_id=...)``) updated in place with
``update_display`` while the run goes on: at most every ``UPDATE_INTERVAL`` seconds when
the counts of jobs per state changed (slower for a table that is costly to draw), else
once a second so that elapsed times move.  It shows the graph
widget when ``nbjobs._widget.widget`` can be imported and widgets are wanted, with the text table
in the same bundle as the fallback for front-ends without widget support; otherwise the
text table alone.
"""

from __future__ import annotations

import asyncio
import html
import importlib
import logging
import time
import weakref
from typing import Any

from .._views.picture import picture_html
from .._views.table import format_html, format_text, snapshot

logger = logging.getLogger("nbjobs")

#: seconds between two updates of a live text view (at most 10 a second)
UPDATE_INTERVAL = 0.1
#: seconds between two refreshes while nothing happens, so elapsed times move
TICK_INTERVAL = 1.0
#: seconds before the first redraw: a run shorter than that shows its first and last
#: states only, which saves a redraw where it would cost the most, relatively
FIRST_UPDATE = 0.25


def _ipython_display_module() -> Any:
    # imported on use (IPython is only there in Jupyter) and typed Any: it is untyped
    return importlib.import_module("IPython.display")


_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def requested_view(scheduler: Any) -> Any:
    """What the user asked for: None (automatic), False, "text" or "widget".

    ``run(view=...)`` wins over the scheduler's ``view`` attribute.
    """
    return getattr(scheduler, "run_view", None)


def make_widget(scheduler: Any) -> Any:
    """The graph widget for ``scheduler``, or None when it cannot be had."""
    try:
        from .._widget.widget import DagWidget  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    try:
        # the view owns it: closed when its cell is run again (see nbjobs._jupyter.kernel)
        return DagWidget(scheduler, close_with_cell=True)
    except Exception:
        logger.exception("nbjobs: the graph widget failed; showing the text table instead")
        return None


def wants_widget(view: Any) -> bool:
    return view is None or view == "widget"


def _filter(bundle: dict[str, Any], include: Any, exclude: Any) -> dict[str, Any]:
    if include:
        bundle = {k: v for k, v in bundle.items() if k in include}
    if exclude:
        bundle = {k: v for k, v in bundle.items() if k not in exclude}
    return bundle


def table_bundle(scheduler: Any, full: bool | None = None) -> dict[str, Any]:
    """The status table; with ``full`` and the run over, the graph's picture under it
    (not on each refresh while a run goes on: each would run ``dot``)."""
    snap = snapshot(scheduler, full=full)
    html_text = format_html(snap)
    if full and not scheduler.is_running_now:
        html_text += picture_html(scheduler)
    return {"text/plain": format_text(snap), "text/html": html_text}


def mimebundle(scheduler: Any, include: Any = None, exclude: Any = None) -> dict[str, Any]:
    """The scheduler's rich representation: the status table (text and HTML)."""
    return _filter(table_bundle(scheduler), include, exclude)


def ipython_display(scheduler: Any) -> None:
    """Display ``scheduler``; while it runs, the output keeps updating until the run ends."""
    view = LiveView(scheduler, widget=wants_widget(requested_view(scheduler)))
    if scheduler.is_running_now:
        view.show()
        view.follow(until_stopped=True)
    else:
        view.show(full=True)  # at rest: the whole picture at once


class LiveView:
    """One displayed output of a scheduler, updated in place while its run goes on."""

    def __init__(self, scheduler: Any, *, widget: bool = False) -> None:
        # held until the run's end is shown, then weakly: a view kept by a handle (or by
        # IPython's output history) must not keep a finished run alive
        self._held: Any = scheduler
        self._ref = weakref.ref(scheduler)
        self.widget = make_widget(scheduler) if widget else None
        self.display_id: str | None = None
        self.banner: str | None = None
        self.updates = 0
        #: seconds between two redraws while following a run (adapts to the table's cost)
        self.interval = UPDATE_INTERVAL
        self._last = 0.0
        self._counts: tuple[int, ...] = ()
        self._following = False
        self._until_stopped = False
        self._seen_running = False
        self._tick: asyncio.TimerHandle | None = None
        self._finished = False

    @property
    def scheduler(self) -> Any:
        """The scheduler shown, or None once the run ended and nothing else held it."""
        return self._held if self._held is not None else self._ref()

    # ---- what is shown ------------------------------------------------------------------
    def bundle(self, full: bool | None = None) -> dict[str, Any]:
        bundle = table_bundle(self.scheduler, full)
        if self.banner:
            bundle["text/plain"] = f"{bundle['text/plain']}\n{self.banner}"
            bundle["text/html"] += f'<pre style="color:#e53935">{html.escape(self.banner)}</pre>'
        if self.widget is not None:
            try:
                # the widget's entry alone: its fallback would compute the same table again
                view = getattr(self.widget, "widget_view", None)
                rich = view() if view is not None else self.widget._repr_mimebundle_()
            except Exception:
                logger.exception("nbjobs: the graph widget could not be displayed")
                rich = None
            if isinstance(rich, tuple):
                rich = rich[0]
            if isinstance(rich, dict) and _WIDGET_MIME in rich:
                bundle[_WIDGET_MIME] = rich[_WIDGET_MIME]
        return bundle

    def show(self, full: bool | None = None) -> None:
        handle = _ipython_display_module().display(self.bundle(full), raw=True, display_id=True)
        self.display_id = getattr(handle, "display_id", None)

    def refresh(self, full: bool | None = None) -> None:
        if self.display_id is None or self.scheduler is None:
            return
        if self.widget is not None and not self._finished:
            # the widget updates itself: only the end of the run refreshes the fallback
            return
        _ipython_display_module().update_display(
            self.bundle(full), raw=True, display_id=self.display_id
        )
        self.updates += 1

    # ---- following a run ----------------------------------------------------------------
    # A timer that polls, rather than events: a subscriber makes the engine build an event
    # object per state change, and redrawing the whole table at each first event after a
    # quiet spell costs more than a short big run itself.  The run's owner calls finish().
    def follow(self, *, until_stopped: bool = False) -> None:
        """Redraw at a bounded rate while the run goes on.

        The caller calls :meth:`finish` when the run ends; with ``until_stopped`` (a run
        that someone else started), the view notices that the run stopped by itself.
        """
        if self._following or self._finished:
            return
        self._following = True
        self._until_stopped = until_stopped
        self._last = time.monotonic()
        self._arm_tick(FIRST_UPDATE)

    def _arm_tick(self, delay: float | None = None) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._tick = loop.call_later(self.interval if delay is None else delay, self._on_tick)

    def _on_tick(self) -> None:
        self._tick = None
        if self._finished:
            return
        running = self.scheduler.is_running_now
        if self._until_stopped and self._seen_running and not running:
            self.finish()
            return
        self._seen_running = self._seen_running or running
        if self.widget is None:
            counts = tuple(self.scheduler.statistics().counts.values())
            # without news, redraw only for the elapsed times of running jobs, once a second
            if counts != self._counts or time.monotonic() - self._last >= TICK_INTERVAL:
                self._counts = counts
                started = time.perf_counter()
                self.refresh()
                # a big table costs more to draw: keep drawing under a tenth of the time
                cost = time.perf_counter() - started
                self.interval = min(TICK_INTERVAL, max(UPDATE_INTERVAL, 10 * cost))
                self._last = time.monotonic()
        self._arm_tick()

    def finish(self) -> None:
        """Stop following and show the final state, every job's output included."""
        if self._finished:
            return
        self._finished = True
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        self.refresh(full=True)
        self._held = None

    def report(self, banner: str) -> None:
        """Add a line under the table (a run that raised, say) and show it now."""
        self.banner = banner
        was, self._finished = self._finished, True
        try:
            self.refresh(full=True)
        finally:
            self._finished = was
