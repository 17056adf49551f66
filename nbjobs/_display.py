"""How a scheduler shows itself in Jupyter: a mime bundle, and a live view of a run.

The live view is one output (``display(..., display_id=...)``) updated in place with
``update_display`` as events come, at a bounded rate (:class:`~nbjobs._events.Coalescer`),
plus a slow tick while the run goes on so that elapsed times move.  It shows the graph
widget when ``nbjobs._widget`` can be imported and widgets are wanted, with the text table
in the same bundle as the fallback for front-ends without widget support; otherwise the
text table alone.
"""

from __future__ import annotations

import asyncio
import html
import importlib
import logging
import time
from collections.abc import Callable
from typing import Any

from ._events import Coalescer, Event, EventKind
from ._table import table_html, table_text

logger = logging.getLogger("nbjobs")

#: seconds between two updates of a live text view (at most 10 a second)
UPDATE_INTERVAL = 0.1
#: seconds between two refreshes while nothing happens, so elapsed times move
TICK_INTERVAL = 1.0


def _ipython_display_module() -> Any:
    # imported on use (IPython is only there in Jupyter) and typed Any: it is untyped
    return importlib.import_module("IPython.display")


_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def requested_view(scheduler: Any) -> Any:
    """What the user asked for: None (automatic), False, "text" or "widget".

    ``run(view=...)`` wins over the scheduler's ``view`` attribute.
    """
    per_run = getattr(scheduler, "_run_view", None)
    return per_run if per_run is not None else getattr(scheduler, "view", None)


def make_widget(scheduler: Any) -> Any:
    """The graph widget for ``scheduler``, or None when it cannot be had."""
    try:
        from ._widget import DagWidget  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    try:
        return DagWidget(scheduler)
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
    return {
        "text/plain": table_text(scheduler, full=full),
        "text/html": table_html(scheduler, full=full),
    }


def mimebundle(scheduler: Any, include: Any = None, exclude: Any = None) -> dict[str, Any]:
    """The scheduler's rich representation: the status table (text and HTML)."""
    return _filter(table_bundle(scheduler), include, exclude)


def ipython_display(scheduler: Any) -> None:
    """Display ``scheduler``; while it runs, the output keeps updating until the run ends."""
    view = LiveView(scheduler, widget=wants_widget(requested_view(scheduler)))
    view.show()
    if scheduler.is_running_now:
        view.follow()


class LiveView:
    """One displayed output of a scheduler, updated in place while its run goes on."""

    def __init__(self, scheduler: Any, *, widget: bool = False) -> None:
        self.scheduler = scheduler
        self.widget = make_widget(scheduler) if widget else None
        self.display_id: str | None = None
        self.banner: str | None = None
        self.updates = 0
        self._coalescer: Coalescer[int] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._tick: asyncio.TimerHandle | None = None
        self._finished = False

    # ---- what is shown ------------------------------------------------------------------
    def bundle(self, full: bool | None = None) -> dict[str, Any]:
        bundle = table_bundle(self.scheduler, full)
        if self.banner:
            bundle["text/plain"] = f"{bundle['text/plain']}\n{self.banner}"
            bundle["text/html"] += f'<pre style="color:#e53935">{html.escape(self.banner)}</pre>'
        if self.widget is not None:
            try:
                rich = self.widget._repr_mimebundle_()
            except Exception:
                logger.exception("nbjobs: the graph widget could not be displayed")
                rich = None
            if isinstance(rich, tuple):
                rich = rich[0]
            if isinstance(rich, dict) and _WIDGET_MIME in rich:
                bundle[_WIDGET_MIME] = rich[_WIDGET_MIME]
        return bundle

    def show(self) -> None:
        handle = _ipython_display_module().display(self.bundle(), raw=True, display_id=True)
        self.display_id = getattr(handle, "display_id", None)

    def refresh(self, full: bool | None = None) -> None:
        if self.display_id is None:
            return
        if self.widget is not None and not self._finished:
            # the widget updates itself: only the end of the run refreshes the fallback
            return
        started = time.perf_counter()
        _ipython_display_module().update_display(
            self.bundle(full), raw=True, display_id=self.display_id
        )
        self.updates += 1
        if self._coalescer is not None:
            # a big table costs more to draw: keep drawing under a tenth of the run's time
            cost = time.perf_counter() - started
            self._coalescer.interval = max(UPDATE_INTERVAL, 10 * cost)

    # ---- following a run ----------------------------------------------------------------
    def follow(self) -> None:
        """Update on the scheduler's events until its run ends."""
        if self._unsubscribe is not None or self._finished:
            return
        self._coalescer = Coalescer(lambda _keys: self.refresh(), UPDATE_INTERVAL)
        self._unsubscribe = self.scheduler.subscribe(self._on_event)
        self._arm_tick()

    def _on_event(self, event: Event) -> None:
        if event.kind is EventKind.RUN_FINISHED and event.scheduler is self.scheduler:
            self.finish()
        elif self._coalescer is not None and self.widget is None:
            self._coalescer.mark(0)

    def _arm_tick(self) -> None:
        if self.widget is not None:
            return  # the widget shows elapsed times itself
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._tick = loop.call_later(TICK_INTERVAL, self._on_tick)

    def _on_tick(self) -> None:
        self._tick = None
        if self._finished:
            return
        if self._coalescer is not None:
            self._coalescer.mark(0)
        self._arm_tick()

    def finish(self) -> None:
        """Stop following and show the final state, every job's output included."""
        if self._finished:
            return
        self._finished = True
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        before = self.updates
        if self._coalescer is not None:
            coalescer, self._coalescer = self._coalescer, None
            coalescer.close()  # flushes what is pending, as a full refresh now
        if self.updates == before:
            self.refresh(full=True)

    def report(self, banner: str) -> None:
        """Add a line under the table (a run that raised, say) and show it now."""
        self.banner = banner
        was, self._finished = self._finished, True
        try:
            self.refresh(full=True)
        finally:
            self._finished = was
