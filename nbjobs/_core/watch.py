"""``Watch``: elapsed time since a starting point, for printing progress (asynciojobs')."""

from __future__ import annotations

import time
from datetime import datetime


class Watch:
    """Remembers a start; ``seconds()``/``elapsed()`` tell the time since then."""

    def __init__(
        self,
        message: str | None = None,
        *,
        show_elapsed: bool = True,
        show_wall_clock: bool = False,
    ) -> None:
        self.start = 0.0
        self.reset()
        text = message if message is not None else ""
        if show_elapsed:
            self.print_elapsed(f" {text}\n")
        if show_wall_clock:
            self.print_wall_clock(f" {text}\n")

    def reset(self) -> None:
        """Start again from now."""
        self.start = time.monotonic()

    def seconds(self) -> float:
        return time.monotonic() - self.start

    def elapsed(self) -> str:
        """Seconds since start as ``SSS.mmm``."""
        return f"{self.seconds():07.3f}"

    def print_elapsed(self, suffix: str = " ") -> None:
        print(f"{self.elapsed()} {suffix}", end="")

    @staticmethod
    def print_wall_clock(suffix: str = " ") -> None:
        now = datetime.now()
        print(f"{now:%H:%M:%S}.{now.microsecond // 1000:03d}{suffix}", end="")
