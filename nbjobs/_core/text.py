"""Text about values and exceptions that jobs themselves need (their repr, their
``traceback_text``) and that every view shows the same way: one bounded repr, one traceback
formatter, and one rule for which frames of a traceback are nbjobs' own.

The views' other shared formatting (durations, the palette) is in ``nbjobs._views.format``.
"""

from __future__ import annotations

import functools
import os
import reprlib
import traceback
from types import TracebackType
from typing import Any

_repr = reprlib.Repr()
_repr.maxstring = 400
_repr.maxother = 400
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = 20
_repr.maxlevel = 3


def bounded_repr(value: Any, limit: int = 2_000) -> str:
    """A repr of at most ``limit`` characters whatever the value (a huge list, a deep
    structure), which never raises."""
    try:
        text = _repr.repr(value)
    except Exception as exc:
        text = f"<repr failed: {type(exc).__name__}: {exc}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: the directory of the nbjobs package: frames whose code lives here are nbjobs' own
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


@functools.lru_cache(maxsize=256)
def _in_package(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE)


def is_nbjobs_frame(tb: TracebackType) -> bool:
    """Whether this traceback entry runs nbjobs' own code (the engine, a job's wrapper)."""
    return _in_package(tb.tb_frame.f_code.co_filename)


def user_traceback(tb: TracebackType | None, keep_last: bool = True) -> TracebackType | None:
    """``tb`` without nbjobs' frames on top (and with ``keep_last``, never without its
    last entry: an error raised by nbjobs itself still says where).

    Those frames are the same for every job and say nothing about what went wrong in it;
    the engine drops them all from a job's exception because they hold the scheduler (a
    reference cycle that only the garbage collector would free).
    """
    while tb is not None and is_nbjobs_frame(tb) and (tb.tb_next is not None or not keep_last):
        tb = tb.tb_next
    return tb


def format_traceback(exc: BaseException, tb: TracebackType | None = None) -> str:
    """The traceback of ``exc`` (from ``tb``, else its own) as text, without nbjobs'
    frames on top."""
    start = exc.__traceback__ if tb is None else tb
    return "".join(traceback.format_exception(type(exc), exc, user_traceback(start)))
