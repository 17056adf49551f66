"""One stream of state changes that every view reads, and a coalescer for views.

The engine emits an :class:`Event` for each change; a scheduler's subscribers see the events
of its own jobs and of every nested scheduler's jobs. Subscribers run synchronously on the
loop's thread, so they must be cheap: views mark what changed and let a :class:`Coalescer`
send it at a bounded rate (ipywidgets sends one message per trait assignment, and a
terminal cannot redraw thousands of times a second).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

if TYPE_CHECKING:
    from .job import AbstractJob, Status

logger = logging.getLogger("nbjobs")


class EventKind(enum.Enum):
    STATUS = "status"
    OUTPUT = "output"
    STRUCTURE = "structure"
    RUN_STARTED = "run_started"
    RUN_FINISHED = "run_finished"


class Event(NamedTuple):
    """One state change. A named tuple: immutable, and cheap to build on the hot path."""

    kind: EventKind
    scheduler: Any  # the PureScheduler that emitted it (typed loosely: no import cycle)
    job: AbstractJob | None = None
    time: float | None = None
    status: Status | None = None
    text: str | None = None
    stream: str | None = None


Callback = Callable[[Event], None]


class Subscribers:
    """The callbacks of one scheduler; a failing callback is logged, never breaks a run.

    Two cheaper forms serve views, for which an event per status change of every job
    would cost more than the run itself: callbacks that skip status events, and status
    watchers, a dict that the engine fills with ``job.id -> job`` for each job whose status
    changed, calling ``wake()`` when the dict was empty (the view then takes the dict's
    contents at its own pace).
    """

    __slots__ = ("_callbacks", "_quiet", "_watchers")

    #: Subscriptions alive in the process: when none, the engine skips building events
    #: altogether (a run without views pays nothing for them).
    active = 0
    #: Those among them that see status changes (not the quiet ones): when none, the
    #: engine does not even call ``_emit`` for a status change (a view that asks for
    #: the rows it shows, as the widget on a big graph, costs a run nothing per job).
    statuses = 0

    def __init__(self) -> None:
        self._callbacks: list[Callback] = []
        self._quiet: list[Callback] = []  # every event but STATUS
        self._watchers: list[tuple[dict[int, AbstractJob], Callable[[], None]]] = []

    def __del__(self) -> None:
        # subscriptions end with their scheduler: a view left subscribed to a scheduler
        # that is gone must not keep every later run on the path that builds events
        statuses = len(self._callbacks) + len(self._watchers)
        Subscribers.active -= statuses + len(self._quiet)
        Subscribers.statuses -= statuses
        # an unsubscribe called later finds nothing to take back
        self._callbacks.clear()
        self._quiet.clear()
        self._watchers.clear()

    def __bool__(self) -> bool:
        return bool(self._callbacks or self._quiet or self._watchers)

    def add(self, callback: Callback, *, statuses: bool = True) -> Callable[[], None]:
        """Call ``callback(event)`` for each event (but status changes if not
        ``statuses``); returns the function that unsubscribes."""
        if not callable(callback):
            raise TypeError(f"subscribe() takes a callable, got {callback!r}")
        return self._register(self._callbacks if statuses else self._quiet, callback, statuses)

    def watch_statuses(
        self, dirty: dict[int, AbstractJob], wake: Callable[[], None]
    ) -> Callable[[], None]:
        """Record in ``dirty`` the jobs whose status changes; see the class docstring."""
        return self._register(self._watchers, (dirty, wake), True)

    def _register(self, where: list[Any], item: Any, statuses: bool) -> Callable[[], None]:
        where.append(item)
        Subscribers.active += 1
        Subscribers.statuses += statuses

        def unsubscribe() -> None:
            # identity, not equality: the same bound method may be subscribed twice
            for index, known in enumerate(where):
                if known is item:
                    del where[index]
                    Subscribers.active -= 1
                    Subscribers.statuses -= statuses
                    return

        return unsubscribe

    def send(self, event: Event) -> None:
        callbacks = self._callbacks
        if event.kind is not EventKind.STATUS and self._quiet:
            callbacks = callbacks + self._quiet
        for callback in tuple(callbacks):
            try:
                callback(event)
            except Exception:
                logger.exception("nbjobs: an event subscriber raised; the run goes on")


K = TypeVar("K", bound=Hashable)


class Coalescer(Generic[K]):
    """Collect keys marked as changed and hand them to ``flush`` at most every ``interval`` s.

    The first mark after a quiet period is flushed on the next loop iteration (so a single
    change shows at once); marks within ``interval`` of a flush wait for the next one. Keys
    keep their first-marked order. Works without a running loop by flushing at once.
    """

    def __init__(self, flush: Callable[[list[K]], None], interval: float = 0.05) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be > 0, got {interval!r}")
        self._flush = flush
        self.interval = interval
        self._pending: dict[K, None] = {}
        self._handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self._last: float | None = None
        self._closed = False
        self.flushes = 0

    def mark(self, key: K) -> None:
        if self._closed:
            return
        self._pending[key] = None
        if self._handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush_now()
            return
        now = loop.time()
        if self._last is None or now - self._last >= self.interval:
            self._handle = loop.call_soon(self._fire)
        else:
            self._handle = loop.call_at(self._last + self.interval, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self.flush_now()

    def flush_now(self) -> None:
        """Send what is pending now (views call it at the end of a run)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if not self._pending:
            return
        keys = list(self._pending)
        self._pending.clear()
        try:
            self._last = asyncio.get_running_loop().time()
        except RuntimeError:
            self._last = None
        self.flushes += 1
        try:
            self._flush(keys)
        except Exception:
            logger.exception("nbjobs: a view failed to refresh")

    def close(self) -> None:
        """Flush what is pending and stop; later marks are ignored."""
        self.flush_now()
        self._closed = True
