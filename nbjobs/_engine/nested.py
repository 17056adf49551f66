"""Blocking runs inside an event loop that is already running (a Jupyter kernel).

A cell of an IPython kernel runs inside the kernel's asyncio loop, so a synchronous
``run()`` cannot call ``asyncio.run()`` there.  This module makes that loop re-entrant with
nest-asyncio2 (applied lazily: it swaps in the slower pure-Python ``Task``/``Future``, so
only when a blocking run is actually asked for), runs the root coroutine in a task of its
own, and guarantees that an interrupt never leaves that task pending.

It also owns the low-level signal plumbing shared with :mod:`nbjobs._jupyter.kernel`:

* a wake-up file descriptor, because in a kernel ``SIGINT`` is often delivered to one of
  ipykernel's helper threads: the main thread then stays asleep in ``select()`` and only
  notices the signal at the loop's next timer, which can be many seconds away;
* :func:`interrupt_cancels`, which turns the kernel's Interrupt into a clean cancellation
  of a given task with the reason ``"interrupted"``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import signal
import socket
import sys
import threading
import weakref
from collections.abc import Callable, Coroutine, Iterator
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")

logger = logging.getLogger("nbjobs")

#: the cancel message that marks a run stopped by the kernel's Interrupt (SIGINT)
INTERRUPTED = "interrupted"

#: how many further interrupts a blocking run absorbs while it drains its tasks, before
#: giving up on them (a job that ignores cancellation must not make the cell unstoppable)
_MAX_DRAIN_INTERRUPTS = 3

_SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

_nest_applied = False

#: tasks whose cancellation on SIGINT is already arranged (see interrupt_cancels)
_guarded: weakref.WeakSet[asyncio.Future[Any]] = weakref.WeakSet()


def in_ipython_kernel() -> bool:
    """True when running inside an IPython kernel (not a terminal IPython, not a script)."""
    if "IPython" not in sys.modules or "ipykernel" not in sys.modules:
        return False
    shell = get_shell()
    return shell is not None and getattr(shell, "kernel", None) is not None


def get_shell() -> Any:
    """The running IPython shell, or None (without importing IPython when it is not)."""
    if "IPython" not in sys.modules:
        return None
    from IPython.core.getipython import get_ipython

    return get_ipython()  # type: ignore[no-untyped-call, unused-ignore]


def on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def apply_nest_asyncio(loop: asyncio.AbstractEventLoop) -> None:
    """Make ``loop`` re-entrant, once.

    nest-asyncio2 and never the archived nest-asyncio: on ipykernel >= 7.3 the latter loses
    the shell messages that arrive during a nested run (the next queued cell, completions).
    """
    global _nest_applied
    if _nest_applied:
        return
    import nest_asyncio2

    nest_asyncio2.apply(loop)
    _nest_applied = True
    logger.debug("nest-asyncio2 applied to %r", loop)


# --------------------------------------------------------------------------- wake-up fd


class _Wakeup:
    """A socket pair whose write end is the process' signal wake-up fd.

    CPython writes one byte to the wake-up fd from its C-level signal handler, whichever
    thread receives the signal; the read end is watched by the loop, so the main thread
    leaves ``select()`` at once and runs the Python-level handler.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.reader, self.writer = socket.socketpair()
        self.reader.setblocking(False)
        self.writer.setblocking(False)
        loop.add_reader(self.reader.fileno(), self._drain)

    def _drain(self) -> None:
        # the bytes are signal numbers: the Python-level handlers do the work
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while self.reader.recv(4096):
                pass

    def claim(self) -> bool:
        """Make our socket the wake-up fd unless someone else owns it; True if ours."""
        fd = self.writer.fileno()
        previous = signal.set_wakeup_fd(fd, warn_on_full_buffer=False)
        if previous in (-1, fd):
            return True
        # another owner (asyncio's add_signal_handler sets its own self-pipe): leave it
        signal.set_wakeup_fd(previous)
        return False

    def close(self) -> None:
        fd = self.writer.fileno()
        if fd != -1 and on_main_thread():
            previous = signal.set_wakeup_fd(-1)
            if previous not in (-1, fd):
                signal.set_wakeup_fd(previous)  # not ours: put it back
        if not self.loop.is_closed():
            self.loop.remove_reader(self.reader.fileno())
        self.reader.close()
        self.writer.close()


_wakeups: dict[int, _Wakeup] = {}


@atexit.register
def _close_wakeups() -> None:
    for wakeup in list(_wakeups.values()):
        with contextlib.suppress(Exception):
            wakeup.close()
    _wakeups.clear()


def ensure_wakeup(loop: asyncio.AbstractEventLoop) -> bool:
    """Have signals wake ``loop`` up at once; True when that is in place.

    Only possible from the main thread.  When it is not (another library owns the wake-up
    fd), callers keep the loop awake with a periodic timer instead.
    """
    if not on_main_thread() or loop.is_closed():
        return False
    for key, stale in list(_wakeups.items()):
        if stale.loop.is_closed():
            # a loop that ended (a test's, say): its sockets are of no use any more
            del _wakeups[key]
            stale.close()
    wakeup = _wakeups.get(id(loop))
    if wakeup is None or wakeup.loop is not loop:
        try:
            wakeup = _Wakeup(loop)
        except (OSError, NotImplementedError, RuntimeError):
            logger.debug("no wake-up fd for %r", loop, exc_info=True)
            return False
        _wakeups[id(loop)] = wakeup
    try:
        return wakeup.claim()
    except (ValueError, OSError):
        logger.debug("set_wakeup_fd failed", exc_info=True)
        return False


# --------------------------------------------------------------------------- interrupt


class InterruptState:
    """What happened to one guarded run; ``count`` interrupts were received."""

    def __init__(self) -> None:
        self.count = 0

    @property
    def interrupted(self) -> bool:
        return self.count > 0


@contextlib.contextmanager
def interrupt_cancels(
    task: asyncio.Future[Any],
    *,
    escalate: bool = False,
) -> Iterator[InterruptState]:
    """While in the block, SIGINT cancels ``task`` with the message ``"interrupted"``.

    The cancellation is scheduled on the loop rather than done in the handler: a signal
    handler runs between two arbitrary bytecodes of the main thread, possibly in the middle
    of the engine's own bookkeeping.  With ``escalate``, a further SIGINT received while the
    task is still unwinding raises ``KeyboardInterrupt`` as the default handler would, the
    way out of a job that blocks the loop synchronously (only safe where the caller catches
    it around a nested ``run_until_complete``, never on the kernel's own loop).

    Does nothing off the main thread, where signal handlers cannot be installed.
    """
    state = InterruptState()
    if not on_main_thread():
        yield state
        return
    loop = task.get_loop()
    if in_ipython_kernel():
        # only there does SIGINT land on a helper thread, leaving the loop asleep
        ensure_wakeup(loop)

    def handler(signum: int, frame: FrameType | None) -> None:
        state.count += 1
        if state.count > 1 and escalate:
            raise KeyboardInterrupt
        if not task.done():
            loop.call_soon_threadsafe(_cancel, task, INTERRUPTED)

    previous: _SignalHandler = signal.signal(signal.SIGINT, handler)
    _guarded.add(task)
    try:
        yield state
    finally:
        _guarded.discard(task)
        # restore only our own: whoever replaced us restores theirs (ipykernel does so
        # around each request), and stacking stays balanced
        if signal.getsignal(signal.SIGINT) is handler:
            signal.signal(signal.SIGINT, previous)


def is_guarded(task: asyncio.Future[Any] | None) -> bool:
    """True when an Interrupt already cancels ``task`` (a blocking run's root, a handle)."""
    return task is not None and task in _guarded


def _cancel(task: asyncio.Future[Any], msg: str) -> None:
    if not task.done():
        task.cancel(msg)


# --------------------------------------------------------------------------- blocking run


def run_in_running_loop(make_coro: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``make_coro()`` to completion and return its value, blocking the caller.

    Called by the engine's synchronous ``run()`` when an event loop is already running in
    this thread.  Inside an IPython kernel the loop is made re-entrant; anywhere else this
    raises :class:`~nbjobs._core.errors.RunningLoopError` before creating the coroutine, so
    that nothing is left un-awaited.

    The kernel's Interrupt cancels the root task with the reason ``"interrupted"``; once the
    run has unwound (every task it created finished), ``KeyboardInterrupt`` is raised so
    that the cell ends in error and "Run All" stops there.  A second Interrupt while it
    unwinds raises ``KeyboardInterrupt`` at once; the root task is still cancelled and
    drained before the exception leaves this function.
    """
    from nbjobs._core.errors import RunningLoopError

    loop = asyncio.get_running_loop()
    if not in_ipython_kernel():
        raise RunningLoopError(
            "run() was called while an asyncio event loop is running in this thread "
            f"({loop!r}); a blocking call would deadlock it. "
            "Use 'await s.co_run()' from async code instead."
        )
    apply_nest_asyncio(loop)
    root: asyncio.Task[T] = loop.create_task(make_coro())
    with interrupt_cancels(root, escalate=True) as state:
        try:
            result = loop.run_until_complete(root)
        except BaseException:
            _drain(loop, root)
            if state.interrupted:
                raise KeyboardInterrupt from None
            raise
    if state.interrupted:
        # the run honoured the cancellation and returned normally: still, the user asked
        # to stop this cell, so the cell must not carry on as if all went well
        raise KeyboardInterrupt
    return result


def _drain(loop: asyncio.AbstractEventLoop, root: asyncio.Task[Any]) -> None:
    """Cancel ``root`` and run the loop until it has unwound, absorbing a few interrupts."""
    if not root.done():
        root.cancel(INTERRUPTED)
    attempts = 0
    while not root.done():
        try:
            # wait() never raises the task's own exception: that stays on the task
            loop.run_until_complete(asyncio.wait([root]))
        except KeyboardInterrupt:
            attempts += 1
            if attempts >= _MAX_DRAIN_INTERRUPTS:
                logger.warning(
                    "gave up waiting for %r to unwind after %d interrupts", root, attempts
                )
                return
            root.cancel(INTERRUPTED)
    if not root.cancelled() and root.exception() is not None:
        # retrieved here so that asyncio does not log "exception was never retrieved":
        # the exception the caller re-raises is the one that matters
        logger.debug("root task ended with %r", root.exception())
