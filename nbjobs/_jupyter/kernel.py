"""Run modes inside a Jupyter (IPython) kernel: live views, Interrupt, background runs.

Three ways to run a scheduler in a cell, all on the kernel's own event loop:

* ``await s.co_run()``: native.  The kernel's Interrupt cancels the cell's task; here it is
  re-targeted so that the run is cancelled with the reason ``"interrupted"``.
* ``s.run()``: blocking, through :func:`nbjobs._engine.nested.run_in_running_loop`.
* ``h = start(s)``: returns a :class:`RunHandle` at once; the run goes on while the kernel is
  idle or runs other cells.  Interrupt while the kernel is idle cancels background runs
  (ipykernel ignores SIGINT when idle, so a handler is installed for that case only);
  while a cell runs, Interrupt stops that cell as usual (and a run it awaits, ``await h``
  included), and background runs go on.

Every top-level run started in a cell shows a live view in that cell (see
:mod:`nbjobs._jupyter.display`), through the engine's ``RUN_HOOKS``. When that cell runs again
(or is deleted), the widgets its earlier runs showed are closed: see :class:`CellWidgets`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import weakref
from collections.abc import Callable, Generator
from types import FrameType
from typing import Any

from .._core.text import format_traceback
from .._engine.nested import (
    INTERRUPTED,
    ensure_wakeup,
    get_shell,
    in_ipython_kernel,
    interrupt_cancels,
    is_guarded,
    on_main_thread,
)
from .display import LiveView, requested_view, wants_widget

logger = logging.getLogger("nbjobs")

#: seconds between checks that keep background runs interruptible (and the loop awake
#: where no wake-up fd could be had)
IDLE_CHECK_INTERVAL = 0.25

_installed = False


def install() -> None:
    """Hook the live view and Interrupt handling into every run; idempotent.

    Called when nbjobs is imported inside a running kernel, and by ``%load_ext nbjobs``.
    """
    global _installed
    if _installed or not in_ipython_kernel():
        return
    from .._engine.scheduler import RUN_HOOKS

    if _run_hook not in RUN_HOOKS:
        RUN_HOOKS.append(_run_hook)
    cell_widgets.install(get_shell())
    # with no loop yet, each run claims the wake-up fd when it starts
    with contextlib.suppress(RuntimeError):
        ensure_wakeup(asyncio.get_running_loop())
    _installed = True


def uninstall() -> None:
    """Undo :func:`install` (tests, and ``%unload_ext nbjobs``)."""
    global _installed
    from .._engine.scheduler import RUN_HOOKS

    while _run_hook in RUN_HOOKS:
        RUN_HOOKS.remove(_run_hook)
    cell_widgets.uninstall(get_shell())
    _installed = False


def _kernel_is_idle() -> bool:
    """No request is being handled: ipykernel ignores SIGINT then (or we handle it)."""
    current = signal.getsignal(signal.SIGINT)
    return current in (signal.SIG_IGN, _on_idle_sigint)


# --------------------------------------------------------------------------- run hook


def _run_hook(scheduler: Any) -> Callable[[], None] | None:
    """Called by the engine when a top-level run starts, on the loop's thread."""
    if not on_main_thread() or not in_ipython_kernel():
        return None
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    enders: list[Callable[[], None]] = []
    if not ensure_wakeup(loop):
        enders.append(_keep_awake(loop))
    if task is not None and task in _handles:
        # a background run: start() already shows its view and handles Interrupt
        pass
    elif task is not None and _kernel_is_idle():
        # started from a loop callback, not from a cell (a task a cell created): treat
        # it as a background run, so that Interrupt while idle can stop it
        handle = RunHandle(scheduler, task)
        _register(handle)
    else:
        if task is not None and not is_guarded(task):
            guard = interrupt_cancels(task)
            guard.__enter__()

            def unguard() -> None:
                guard.__exit__(None, None, None)

            enders.append(unguard)
        view = requested_view(scheduler)
        if view is not False:
            live = LiveView(scheduler, widget=wants_widget(view))
            live.show()
            live.follow()
            enders.append(live.finish)

    if not enders:
        return None

    def end() -> None:
        for ender in reversed(enders):
            try:
                ender()
            except Exception:
                logger.exception("nbjobs: cleaning up after a run failed")

    return end


def _keep_awake(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Wake the loop up periodically so that a signal is noticed within that period."""
    handle: asyncio.TimerHandle | None = None

    def tick() -> None:
        nonlocal handle
        handle = loop.call_later(IDLE_CHECK_INTERVAL, tick)

    tick()

    def stop() -> None:
        if handle is not None:
            handle.cancel()

    return stop


# --------------------------------------------------------------------------- cells


class CellWidgets:
    """The widgets each cell showed, closed when that cell runs again or is deleted.

    ipywidgets keeps every open widget (and its comm) for the kernel's life, while the
    page replaces a re-run cell's outputs: without this, each re-run would leave its
    widgets open for nothing. JupyterLab and Notebook 7 send the cell's id with each
    execute request (IPython hands it to ``pre_run_cell`` as ``info.cell_id``), and the
    ids of the cells deleted since the previous request (``deletedCells`` in the request's
    metadata). Only widgets made with ``close_with_cell`` (those nbjobs' views make) are
    tracked, and one also shown by another cell stays open until that cell goes too.
    A front-end that sends no cell id closes nothing.
    """

    def __init__(self) -> None:
        #: the id of the cell running now, None between cells or when the front-end
        #: sends none
        self.current: str | None = None
        self._by_cell: dict[str, weakref.WeakSet[Any]] = {}
        self._cells: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()

    def install(self, shell: Any) -> None:
        events = getattr(shell, "events", None)
        if events is None:
            return
        try:
            from .._widget.widget import SHOWN_HOOKS
        except ImportError:  # no widgets without anywidget: nothing to close
            return
        if self.shown not in SHOWN_HOOKS:
            SHOWN_HOOKS.append(self.shown)
        events.register("pre_run_cell", self.pre_run_cell)
        events.register("post_run_cell", self.post_run_cell)
        # installed from inside a cell (the one that imports nbjobs): its pre_run_cell
        # went by, but what it shows belongs to it
        self.current = _request_metadata().get("cellId") or None

    def uninstall(self, shell: Any) -> None:
        with contextlib.suppress(ImportError):
            from .._widget.widget import SHOWN_HOOKS

            while self.shown in SHOWN_HOOKS:
                SHOWN_HOOKS.remove(self.shown)
        events = getattr(shell, "events", None)
        if events is None:
            return
        for name, callback in (
            ("pre_run_cell", self.pre_run_cell),
            ("post_run_cell", self.post_run_cell),
        ):
            with contextlib.suppress(ValueError):
                events.unregister(name, callback)

    def shown(self, widget: Any) -> None:
        """``widget`` was put in an output of the running cell."""
        cell = self.current
        if cell is None:
            return
        self._by_cell.setdefault(cell, weakref.WeakSet()).add(widget)
        self._cells.setdefault(widget, set()).add(cell)

    def pre_run_cell(self, info: Any) -> None:
        cell = getattr(info, "cell_id", None)
        self.current = cell if isinstance(cell, str) and cell else None
        for gone in [self.current, *_deleted_cells()]:
            if gone is not None:
                self.forget(gone)

    def post_run_cell(self, result: Any) -> None:
        self.current = None

    def forget(self, cell: str) -> None:
        """The outputs of ``cell`` are gone from the page: close what only they showed."""
        for widget in list(self._by_cell.pop(cell, ())):
            cells = self._cells.get(widget)
            if cells is not None:
                cells.discard(cell)
                if cells:
                    continue  # still shown by another cell
                del self._cells[widget]
            try:
                widget.close()
            except Exception:
                logger.exception("nbjobs: closing the widget of a re-run cell failed")

    def open_count(self) -> int:
        """How many tracked widgets are still open."""
        return sum(1 for widget in self._cells if getattr(widget, "comm", None) is not None)


def _request_metadata() -> dict[str, Any]:
    """The metadata of the execute request being handled ({} when there is none)."""
    kernel = getattr(get_shell(), "kernel", None)
    try:
        parent = kernel.get_parent("shell") if kernel is not None else None
    except Exception:
        return {}
    if not isinstance(parent, dict):
        return {}
    if parent.get("header", {}).get("msg_type") != "execute_request":
        return {}
    metadata = parent.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _deleted_cells() -> list[str]:
    """The ids of the cells the front-end deleted since its previous request."""
    deleted = _request_metadata().get("deletedCells")
    if not isinstance(deleted, list):
        return []
    return [cell for cell in deleted if isinstance(cell, str) and cell]


cell_widgets = CellWidgets()


# --------------------------------------------------------------------------- background


class RunHandle:
    """A run going on in the background on the kernel's loop.

    Awaitable (``await h`` gives what ``co_run()`` returns, or raises what it raised);
    ``h.cancel()`` cancels the run; ``h.done()``; shows the live view when displayed.
    Awaiting is shielded: a cell that stops waiting (a timeout around ``await h``, say)
    does not cancel the run, but the kernel's Interrupt during ``await h`` does.
    """

    def __init__(self, scheduler: Any, task: asyncio.Task[Any]) -> None:
        # held while the run goes on, then weakly: a handle often outlives its run (a
        # cell's value stays in IPython's output history)
        self._held: Any = scheduler
        self._ref = weakref.ref(scheduler)
        self._label = scheduler.label_text_or_repr()
        self.task = task
        self.view: LiveView | None = None

    @property
    def scheduler(self) -> Any:
        """The scheduler run, or None once the run ended and nothing else holds it."""
        return self._held if self._held is not None else self._ref()

    def __repr__(self) -> str:
        if not self.task.done():
            state = "running"
        elif self.task.cancelled():
            state = "cancelled"
        elif self.task.exception() is not None:
            state = f"raised {type(self.task.exception()).__name__}"
        else:
            state = f"done -> {self.task.result()!r}"
        return f"<RunHandle of {self._label}: {state}>"

    def done(self) -> bool:
        return self.task.done()

    def cancelled(self) -> bool:
        return self.task.cancelled()

    def cancel(self, reason: str = "cancelled by user") -> bool:
        """Cancel the run: its jobs are cancelled with ``reason``.  False if already over."""
        if self.task.done():
            return False
        return self.task.cancel(reason)

    def result(self) -> Any:
        """What ``co_run()`` returned; raises like ``asyncio.Future.result()``."""
        return self.task.result()

    def exception(self) -> BaseException | None:
        return self.task.exception()

    def __await__(self) -> Generator[Any, None, Any]:
        return self._wait().__await__()

    async def _wait(self) -> Any:
        task = self.task
        if task.done():
            return task.result()
        current = asyncio.current_task()
        guard = None
        if on_main_thread() and current is not None and not _kernel_is_idle():
            guard = interrupt_cancels(task)
            guard.__enter__()
        try:
            await asyncio.wait([task])
        finally:
            if guard is not None:
                guard.__exit__(None, None, None)
        return task.result()

    def _on_done(self, task: asyncio.Task[Any]) -> None:
        try:
            self._report(task)
        finally:
            self._held = None

    def _report(self, task: asyncio.Task[Any]) -> None:
        _unregister(self)
        if self.view is not None:
            self.view.finish()
        if task.cancelled():
            return
        exc = task.exception()  # retrieved: never "exception was never retrieved"
        if exc is None:
            return
        text = format_traceback(exc).rstrip()
        banner = f"the background run raised {type(exc).__name__}: {exc}"
        logger.error("nbjobs: %s\n%s", banner, text)
        if self.view is not None:
            # a job's own exception already shows with its traceback, in that job's row
            from_job = any(job.raised_exception() is exc for job in self.scheduler.iterate_jobs())
            detail = "" if from_job else f"\n{text}"
            self.view.report(f"{banner} (await the handle to get it){detail}")
        else:
            # no view to show it in: say it in the cell that started the run
            from .display import _ipython_display_module

            _ipython_display_module().display({"text/plain": f"nbjobs: {banner}\n{text}"}, raw=True)


_handles: dict[asyncio.Task[Any], RunHandle] = {}


def start(scheduler: Any, *, view: Any = None) -> RunHandle:
    """Start a run of ``scheduler`` in the background on the running loop; return at once.

    In a kernel, the live view is shown in the calling cell and keeps updating while other
    cells run; Interrupt while the kernel is idle cancels the run with the reason
    "interrupted".  ``view`` as in ``run()``.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            f"start() runs {scheduler.label_text_or_repr()} in the background on the "
            "running event loop, and no loop is running here; use run() in a script, "
            "or 'await s.co_run()' in async code"
        ) from None
    if scheduler.is_running_now:
        from .._core.errors import AlreadyRunningError

        raise AlreadyRunningError(
            f"{scheduler.label_text_or_repr()} is already running; wait for it (or cancel "
            "it) before starting it again"
        )
    task = loop.create_task(scheduler.co_run(), name=f"nbjobs: {scheduler.label_text()}")
    handle = RunHandle(scheduler, task)
    _register(handle)
    chosen = view if view is not None else requested_view(scheduler)
    if chosen is not False and in_ipython_kernel():
        handle.view = LiveView(scheduler, widget=wants_widget(chosen))
        handle.view.show()
        handle.view.follow()
    return handle


def _register(handle: RunHandle) -> None:
    # a strong reference: the loop keeps only weak ones to tasks
    _handles[handle.task] = handle
    handle.task.add_done_callback(handle._on_done)
    _idle_guard.start()


def _unregister(handle: RunHandle) -> None:
    _handles.pop(handle.task, None)
    if not _handles:
        _idle_guard.stop()


def running_handles() -> list[RunHandle]:
    """The background runs going on, oldest first."""
    return list(_handles.values())


def _on_idle_sigint(signum: int, frame: FrameType | None) -> None:
    # runs between two bytecodes of the main thread: only schedule the work
    loop = _idle_guard.loop
    if loop is not None and not loop.is_closed():
        loop.call_soon_threadsafe(_interrupt_background)


def _interrupt_background() -> None:
    for handle in list(_handles.values()):
        logger.info("nbjobs: Interrupt while idle: cancelling %r", handle)
        handle.cancel(INTERRUPTED)


class _IdleGuard:
    """Keeps our SIGINT handler in place while background runs exist and no cell runs.

    ipykernel sets SIGINT to "ignore" at start-up, swaps in its own handler around each
    request and restores the previous one after; a handler set from a loop callback while
    idle survives that.  A handler cannot be set from inside a cell (it would be swapped
    out at the cell's end), hence the periodic check, which also keeps the loop awake.
    """

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        if self._timer is not None or not on_main_thread():
            return
        try:
            self.loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        ensure_wakeup(self.loop)
        self._timer = self.loop.call_soon(self._check)  # type: ignore[assignment]

    def _check(self) -> None:
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            signal.signal(signal.SIGINT, _on_idle_sigint)
        assert self.loop is not None
        self._timer = self.loop.call_later(IDLE_CHECK_INTERVAL, self._check)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if signal.getsignal(signal.SIGINT) is _on_idle_sigint:
            # back to what ipykernel had: ignore SIGINT while idle
            signal.signal(signal.SIGINT, signal.SIG_IGN)


_idle_guard = _IdleGuard()
