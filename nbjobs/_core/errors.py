"""Every exception nbjobs raises on purpose.

Messages name the misuse, show the object's repr and say what to do instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class NbjobsError(Exception):
    """Base class of the errors nbjobs raises about how it is used."""


class CycleError(NbjobsError, ValueError):
    """The requirements of a scheduler's jobs form a cycle.

    ``cycle`` holds the jobs of one cycle, in order, the first one repeated at the end
    (as ``graphlib.CycleError`` does).
    """

    def __init__(self, message: str, cycle: Sequence[Any]) -> None:
        super().__init__(message)
        self.cycle = list(cycle)

    def __reduce__(self) -> tuple[Any, ...]:
        # an exception pickles as ``cls(*args)``; this one needs its jobs too (errors cross
        # processes: a job's body may run in a process pool or on a Dask worker)
        return (type(self), (str(self), self.cycle), self.__dict__)


class RequirementError(NbjobsError, ValueError):
    """A job requires (or consumes the result of) a job that is not in the same scheduler,
    or requires itself."""


class OwnershipError(NbjobsError, ValueError):
    """A job was added to a second scheduler."""


class NotRerunnableError(NbjobsError, RuntimeError):
    """A run needs jobs again whose one-shot coroutine was already consumed."""

    def __init__(self, message: str, jobs: Sequence[Any]) -> None:
        super().__init__(message)
        self.jobs = list(jobs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.jobs), self.__dict__)


class RunningLoopError(NbjobsError, RuntimeError):
    """A blocking ``run()`` was asked for inside a running event loop."""


class AlreadyRunningError(NbjobsError, RuntimeError):
    """A scheduler was run while it is already running."""


class JobNotDoneError(NbjobsError, ValueError):
    """``result()`` was asked of a job that has not finished.

    A ``ValueError`` as in asynciojobs, so existing ``except ValueError`` keeps working.
    """


class DotNotFoundError(NbjobsError, FileNotFoundError):
    """The ``dot`` program (Graphviz) is needed (for PNG and other formats than SVG, which
    is drawn without it) and is not installed."""


class GraphvizError(NbjobsError, RuntimeError):
    """Graphviz failed to draw a graph (``dot`` exited with an error, or took too long)."""


class RunGoneError(NbjobsError, LookupError):
    """A view was asked about a run whose scheduler no longer exists.

    Once a run has ended, views keep what they show and hold the scheduler weakly, so that
    a long-lived kernel frees a run (its jobs and their results) when the user's names
    for it are gone.
    """


class ExecutorClosedError(NbjobsError, RuntimeError):
    """A job is to run on an executor (``executor=``) that was closed."""


class ResultReleasedError(NbjobsError, LookupError):
    """A result that stayed where it was made (on Dask's workers) was asked for after it
    was released there, once every job that consumed it had succeeded."""
