"""Lends the engine what it shows in Jupyter: fills the engine's ``JUPYTER_HOOKS``.

The engine does not import this room (imports go one way); ``nbjobs`` calls
:func:`register` when it is imported. The display and the kernel glue are imported on first
use, as the engine did before: importing ``nbjobs`` stays light.
"""

from __future__ import annotations

from typing import Any

from .._engine.scheduler import JUPYTER_HOOKS


def _mimebundle(scheduler: Any, include: Any = None, exclude: Any = None) -> Any:
    try:
        from .display import mimebundle
    except ImportError:
        from .._views.text import scheduler_repr

        return {"text/plain": scheduler_repr(scheduler)}
    return mimebundle(scheduler, include=include, exclude=exclude)


def _ipython_display(scheduler: Any) -> None:
    from .display import ipython_display

    ipython_display(scheduler)


def _start(scheduler: Any, *, view: Any = None) -> Any:
    from .kernel import start

    return start(scheduler, view=view)


def register() -> None:
    """Fill the engine's registry; idempotent."""
    JUPYTER_HOOKS.mimebundle = _mimebundle
    JUPYTER_HOOKS.ipython_display = _ipython_display
    JUPYTER_HOOKS.start = _start
