"""Blocking runs: ``Scheduler.run()`` and ``shutdown()`` from synchronous code.

Outside a running loop, a fresh loop runs the coroutine, and the first Ctrl-C cancels the
run's root task with the reason "interrupted" (so jobs show why they stopped) before
``KeyboardInterrupt`` is raised; a second Ctrl-C interrupts at once. Inside a running loop
(a Jupyter cell) the Jupyter glue takes over, see ``nbjobs._engine.nested``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any, TypeVar

from .._core.errors import RunningLoopError

T = TypeVar("T")


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
        return _run_in_new_loop(make_coro)
    try:
        from .nested import run_in_running_loop
    except ImportError:
        raise RunningLoopError(
            f"{what} blocks, and an event loop is already running in this thread; "
            "use 'await scheduler.co_run()' instead"
        ) from None
    return run_in_running_loop(make_coro)


def _run_in_new_loop(make_coro: Callable[[], Coroutine[Any, Any, T]]) -> T:
    loop = asyncio.new_event_loop()
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
        try:
            _cancel_leftovers(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Tasks the user's jobs created and left behind: cancel and await them."""
    leftovers = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not leftovers:
        return
    for task in leftovers:
        task.cancel()
    with contextlib.suppress(BaseException):
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
