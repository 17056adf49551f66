"""Blocking runs: ``Scheduler.run()`` and ``shutdown()`` from synchronous code.

Outside a running loop, the coroutine runs on the loop that the blocking runs of this
thread share: what a run opened (a connection, a client, a task it left behind) belongs to
that loop and still works in the next run of the script. The loop is made by the first
blocking run of the thread and closed when the thread ends or at interpreter exit (its
leftover tasks cancelled, the closers registered with ``at_loop_close`` awaited first).
The first Ctrl-C cancels the run's root task with the reason "interrupted" (so jobs show
why they stopped) before ``KeyboardInterrupt`` is raised; a second Ctrl-C interrupts at
once. Inside a running loop (a Jupyter cell) the Jupyter glue takes over, see
``nbjobs._engine.nested``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import signal
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from types import FrameType
from typing import Any, TypeVar

from .._core.errors import RunningLoopError

T = TypeVar("T")

logger = logging.getLogger("nbjobs")


class _SharedLoop:
    """The loop of one thread's blocking runs; closed when its thread ends (the
    thread-local that holds it goes away) or at interpreter exit, whichever comes first."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        #: awaited, in order, before the loop closes (see ``at_loop_close``)
        self.closers: list[Callable[[], Awaitable[None]]] = []
        _SHARED.add(self)

    def close(self) -> None:
        loop = self.loop
        if loop.is_closed() or loop.is_running():
            return
        try:
            closers, self.closers = self.closers, []
            for closer in closers:
                try:
                    loop.run_until_complete(closer())
                except Exception:
                    logger.exception("nbjobs: a closer of the shared event loop failed")
            _cancel_leftovers(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


_local = threading.local()
#: every shared loop still open, for the exit hook (weak: a thread's end frees its own)
_SHARED: weakref.WeakSet[_SharedLoop] = weakref.WeakSet()


@atexit.register
def _close_shared_loops() -> None:
    for shared in list(_SHARED):
        try:
            shared.close()
        except Exception:
            logger.exception("nbjobs: closing a shared event loop failed at exit")


def shared_loop() -> asyncio.AbstractEventLoop:
    """The loop that blocking runs in this thread use (made at first use)."""
    shared: _SharedLoop | None = getattr(_local, "shared", None)
    if shared is None or shared.loop.is_closed():
        shared = _local.shared = _SharedLoop()
    return shared.loop


def at_loop_close(loop: asyncio.AbstractEventLoop, closer: Callable[[], Awaitable[None]]) -> bool:
    """Await ``closer()`` on ``loop`` before it closes, if it is a loop that blocking runs
    share (what outlives runs on purpose, such as a connection kept open, closes cleanly
    then). False for any other loop: its owner closes it."""
    for shared in list(_SHARED):
        if shared.loop is loop and not loop.is_closed():
            shared.closers.append(closer)
            return True
    return False


def run_blocking(make_coro: Callable[[], Coroutine[Any, Any, T]], what: str = "run()") -> T:
    """Run ``make_coro()`` to completion and return its value, blocking the caller."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:
        # out of the handler: a job's exception must not carry "no running event loop"
        return _run_in_shared_loop(make_coro)
    try:
        from .nested import run_in_running_loop
    except ImportError:
        raise RunningLoopError(
            f"{what} blocks, and an event loop is already running in this thread; "
            "use 'await scheduler.co_run()' instead"
        ) from None
    return run_in_running_loop(make_coro)


def _run_in_shared_loop(make_coro: Callable[[], Coroutine[Any, Any, T]]) -> T:
    loop = shared_loop()
    asyncio.set_event_loop(loop)
    task = loop.create_task(make_coro())
    interrupted = False
    previous: Any = None
    hooked = False

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        if interrupted:
            # second Ctrl-C: the user insists, stop waiting for the clean-up
            raise KeyboardInterrupt
        interrupted = True
        loop.call_soon_threadsafe(task.cancel, "interrupted")

    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    ):
        previous = signal.signal(signal.SIGINT, on_sigint)
        hooked = True
    try:
        try:
            return loop.run_until_complete(task)
        except asyncio.CancelledError:
            if interrupted:
                raise KeyboardInterrupt from None
            raise
        except BaseException:
            # KeyboardInterrupt/SystemExit left the loop mid-run (raised inside a job):
            # let the run unwind with a reason before the loop goes away
            if not task.done():
                task.cancel("interrupted")
                with contextlib.suppress(BaseException):
                    loop.run_until_complete(task)
            raise
    finally:
        if hooked:
            signal.signal(signal.SIGINT, previous)
        # the loop stays open for the next run of this thread: see the module's docstring
        asyncio.set_event_loop(None)


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Tasks the user's jobs created and left behind: cancel and await them."""
    leftovers = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not leftovers:
        return
    for task in leftovers:
        task.cancel()
    with contextlib.suppress(BaseException):
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
