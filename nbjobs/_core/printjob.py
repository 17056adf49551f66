"""``PrintJob``: a job that prints messages and may sleep (tutorials, tests)."""

from __future__ import annotations

import asyncio
from typing import Any

from .job import AbstractJob


class PrintJob(AbstractJob):
    """Prints ``messages`` (after ``banner`` if given), then sleeps ``sleep`` seconds."""

    def __init__(
        self,
        *messages: Any,
        sleep: float | None = None,
        banner: str | None = None,
        label: Any = None,
        required: Any = None,
        scheduler: Any = None,
        critical: bool = True,
        forever: bool = False,
    ) -> None:
        self.messages = messages
        self.sleep = sleep
        self.banner = banner
        super().__init__(
            label=label, required=required, scheduler=scheduler, critical=critical, forever=forever
        )

    async def co_run(self) -> None:
        if self.banner:
            print(self.banner + " ", end="")
        print(*self.messages)
        if self.sleep:
            print(f"Sleeping for {self.sleep}s")
            await asyncio.sleep(self.sleep)

    def text_label(self) -> str:
        first = str(self.messages[0]) if self.messages else ""
        return f"print {first}" + ("..." if len(self.messages) > 1 else "")

    def details(self) -> str:
        text = f"[+ sleep {self.sleep}s] " if self.sleep else ""
        text += "msg= " + (str(self.messages[0]) if self.messages else "")
        return text + ("..." if len(self.messages) > 1 else "")
