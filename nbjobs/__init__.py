"""nbjobs: run asyncio jobs whose dependencies form a DAG, at home in Jupyter.

The public API of asynciojobs, with the same semantics, and more. Everything public is
re-exported here; the code lives in the private modules.
"""

import logging as _logging
import sys as _sys
from typing import Any as _Any

from ._core.errors import (
    AlreadyRunningError,
    CycleError,
    DotNotFoundError,
    ExecutorClosedError,
    GraphvizError,
    JobNotDoneError,
    NbjobsError,
    NotRerunnableError,
    OwnershipError,
    RequirementError,
    ResultReleasedError,
    RunGoneError,
    RunningLoopError,
)
from ._core.events import Event, EventKind
from ._core.job import AbstractJob, Job, Status
from ._core.printjob import PrintJob
from ._core.protocol import RunStatistics
from ._core.sequence import Sequence
from ._core.watch import Watch
from ._engine.factory import JobFactory
from ._engine.scheduler import PureScheduler, Scheduler
from ._jupyter.hooks import register as _register_jupyter_hooks
from ._version import __version__

#: The seed notebook's name for a scheduler (``Engine(...).orchestrate()``).
Engine = Scheduler


def set_debug(debug: bool = True) -> None:
    """Log the engine's steps (logger ``nbjobs``) at DEBUG level, or stop doing so."""
    _logging.getLogger("nbjobs").setLevel(_logging.DEBUG if debug else _logging.NOTSET)


def load_ipython_extension(ipython: _Any) -> None:
    """``%load_ext nbjobs``: registers the ``%%orchestrate`` cell magic."""
    from ._jupyter.magic import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: _Any) -> None:
    from ._jupyter.magic import unload_ipython_extension as unload

    unload(ipython)


__all__ = (
    "AbstractJob",
    "AlreadyRunningError",
    "CycleError",
    "DotNotFoundError",
    "Engine",
    "Event",
    "EventKind",
    "ExecutorClosedError",
    "GraphvizError",
    "Job",
    "JobFactory",
    "JobNotDoneError",
    "NbjobsError",
    "NotRerunnableError",
    "OwnershipError",
    "PrintJob",
    "PureScheduler",
    "RequirementError",
    "ResultReleasedError",
    "RunGoneError",
    "RunStatistics",
    "RunningLoopError",
    "Scheduler",
    "Sequence",
    "Status",
    "Watch",
    "__version__",
    "load_ipython_extension",
    "set_debug",
    "unload_ipython_extension",
)


def _fixup_module_metadata() -> None:
    # tracebacks, reprs and pickle say nbjobs.CycleError, not where the class lives
    # (trio's fixup_module_metadata)
    for name in __all__:
        obj = globals()[name]
        if callable(obj) and getattr(obj, "__module__", "").startswith("nbjobs."):
            obj.__module__ = "nbjobs"


_fixup_module_metadata()
_register_jupyter_hooks()


def _in_kernel() -> bool:
    if "ipykernel" not in _sys.modules:
        return False
    try:
        from IPython.core.getipython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()  # type: ignore[no-untyped-call, unused-ignore]
    return shell is not None and getattr(shell, "kernel", None) is not None


if _in_kernel():
    try:
        from ._jupyter.kernel import install as _install_jupyter
    except ImportError:  # the Jupyter extra is not installed
        pass
    else:
        _install_jupyter()
