"""What every view formats the same way: durations, the clock views read, and the palette
of job states shared by the DOT text, the static SVG, the status table and the widget.

(A job's repr and traceback text are formatted by ``nbjobs._core.text``: jobs need them
too, and the core does not import views.)
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import NamedTuple

from .._core.job import Status


class Colours(NamedTuple):
    """How a state is drawn: text in ``ink`` on a ``fill`` background."""

    fill: str
    ink: str


#: The colours of each job state, everywhere: DOT and SVG fills, the table's state badges,
#: and the widget's ``--nbjobs-<state>`` CSS variables (``js/src/style.css``; a test keeps
#: them equal). Light fills under dark ink: a state's text always sits on its own fill, so
#: it reads the same in light and dark themes. Running is the one saturated fill, so that
#: what goes on now stands out; done states are pastel.
PALETTE: dict[Status, Colours] = {
    Status.IDLE: Colours("#e6e6e6", "#212121"),
    Status.WAITING: Colours("#fff1a6", "#212121"),
    Status.RUNNING: Colours("#ffb74d", "#212121"),
    Status.SUCCEEDED: Colours("#a5d6a7", "#212121"),
    Status.FAILED: Colours("#ef9a9a", "#212121"),
    Status.CANCELLED: Colours("#ce93d8", "#212121"),
    Status.SKIPPED: Colours("#f5f5f5", "#616161"),
}


def format_duration(seconds: float | None) -> str:
    """``0.05s``, ``2.40s``, ``12.3s``, ``3m07s``, ``2h05m``; empty when unknown."""
    if seconds is None or math.isnan(seconds):
        return ""
    seconds = max(seconds, 0.0)
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def now() -> float:
    """The clock jobs are stamped with: the running loop's time, else time.monotonic()
    (which is what asyncio's loops use), for a view drawn outside the loop."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


def cut_label(text: str, limit: int) -> str:
    """A label on one line, at most ``limit`` characters (the widget's page cuts alike)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
