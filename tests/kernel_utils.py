"""Drive a real IPython kernel and read everything it sends back.

A :class:`Kernel` starts ``python -m ipykernel_launcher`` with this checkout importable,
runs cells and collects, per cell, the stream text, display data (following
``update_display_data`` by display id, as front-ends do), the result, the error and the
reply, with timings.  ``execute(..., interrupt_when=...)`` sends the kernel's Interrupt
(SIGINT, as the stop button does) once a given text has been printed, and measures how
long the cell took to end after it.
"""

from __future__ import annotations

import os
import queue
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Cell:
    """What one ``execute_request`` produced."""

    code: str
    status: str = ""
    stdout: str = ""
    stderr: str = ""
    result: str | None = None
    result_data: dict[str, Any] = field(default_factory=dict)
    # what the reply's payloads carry for the pager (``obj?`` help)
    page: str = ""
    error: dict[str, Any] | None = None
    # display id (or a running number when it has none) -> latest data bundle
    displays: dict[str, dict[str, Any]] = field(default_factory=dict)
    display_order: list[str] = field(default_factory=list)
    updates: int = 0
    elapsed: float = 0.0
    interrupted_at: float | None = None
    ended_at: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def interrupt_latency(self) -> float | None:
        if self.interrupted_at is None:
            return None
        return self.ended_at - self.interrupted_at

    def texts(self) -> list[str]:
        """The text/plain of every display, in the order they appeared."""
        return [str(self.displays[k].get("text/plain", "")) for k in self.display_order]

    def text(self) -> str:
        return "\n".join(self.texts())

    def describe(self) -> str:
        parts = [f"status={self.status!r} elapsed={self.elapsed:.2f}s"]
        if self.stdout:
            parts.append(f"stdout:\n{self.stdout}")
        if self.stderr:
            parts.append(f"stderr:\n{self.stderr}")
        if self.result is not None:
            parts.append(f"result: {self.result}")
        if self.error:
            parts.append(f"error: {self.error['ename']}: {self.error['evalue']}")
            parts.append("\n".join(self.error.get("traceback", [])))
        for text in self.texts():
            parts.append(f"display:\n{text}")
        return "\n".join(parts)


class Kernel:
    """One real kernel and a blocking client to it."""

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
        # the kernel should not inherit pytest's warning filters, but must not be noisy
        env.pop("PYTHONWARNINGS", None)
        env.update(extra_env or {})
        self.km = KernelManager(kernel_name="python3")
        self.km.kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        self.km.start_kernel(env=env, cwd=str(ROOT))
        self.kc = self.km.blocking_client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.iopub_leftovers: list[dict[str, Any]] = []
        # display id -> latest data, across cells (background views update late)
        self.display_updates: dict[str, dict[str, Any]] = {}

    def close(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- executing ----------------------------------------------------------------------
    def execute(
        self,
        code: str,
        *,
        timeout: float = 30.0,
        interrupt_when: str | None = None,
        interrupt_after: float | None = None,
        cell_id: str | None = None,
        deleted_cells: list[str] | None = None,
    ) -> Cell:
        """Run ``code`` as a cell and wait until the kernel is idle again.

        ``interrupt_when``: interrupt once this text appears in the cell's stdout (or in
        any display), then ``interrupt_after`` seconds later if also given.
        ``cell_id`` and ``deleted_cells`` go in the request's metadata, as JupyterLab and
        Notebook 7 send them (``cellId``, ``deletedCells``).
        """
        cell = Cell(code)
        msg_id = self._send_execute(code, cell_id, deleted_cells)
        start = time.monotonic()
        deadline = start + timeout
        idle = replied = False
        # display ids seen in this cell map to the key where their latest data lives
        pending_interrupt_at: float | None = None
        if interrupt_when is None and interrupt_after is not None:
            pending_interrupt_at = start + interrupt_after
        while not (idle and replied):
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError(f"cell did not finish within {timeout}s:\n{cell.describe()}")
            if pending_interrupt_at is not None and now >= pending_interrupt_at:
                pending_interrupt_at = None
                cell.interrupted_at = time.monotonic()
                self.km.interrupt_kernel()
            if not replied:
                try:
                    reply = self.kc.get_shell_msg(timeout=0.001)
                except queue.Empty:
                    pass
                else:
                    if reply["parent_header"].get("msg_id") == msg_id:
                        replied = True
                        cell.status = reply["content"]["status"]
                        for payload in reply["content"].get("payload", []):
                            if payload.get("source") == "page":
                                cell.page += payload["data"].get("text/plain", "")
            try:
                msg = self.kc.get_iopub_msg(timeout=0.02)
            except queue.Empty:
                continue
            self._absorb(cell, msg, msg_id)
            if msg["parent_header"].get("msg_id") == msg_id:
                kind = msg["msg_type"]
                if kind == "status" and msg["content"]["execution_state"] == "idle":
                    idle = True
                    cell.ended_at = time.monotonic()
            if (
                interrupt_when is not None
                and cell.interrupted_at is None
                and pending_interrupt_at is None
                and interrupt_when in cell.stdout + "\n".join(cell.texts())
            ):
                pending_interrupt_at = time.monotonic() + (interrupt_after or 0.0)
        cell.elapsed = cell.ended_at - start
        return cell

    def _send_execute(self, code: str, cell_id: str | None, deleted_cells: list[str] | None) -> str:
        if cell_id is None and deleted_cells is None:
            return str(self.kc.execute(code, allow_stdin=False))
        metadata: dict[str, Any] = {}
        if cell_id is not None:
            metadata["cellId"] = cell_id
        if deleted_cells is not None:
            metadata["deletedCells"] = deleted_cells
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        msg = self.kc.session.msg("execute_request", content, metadata=metadata)
        self.kc.shell_channel.send(msg)
        return str(msg["header"]["msg_id"])

    def _absorb(self, cell: Cell, msg: dict[str, Any], msg_id: str) -> None:
        kind = msg["msg_type"]
        content = msg["content"]
        if kind == "update_display_data":
            # updates reach displays of earlier cells too: follow them by id wherever
            key = content.get("transient", {}).get("display_id")
            self.display_updates[key] = content["data"]
            if key in cell.displays:
                cell.displays[key] = content["data"]
                cell.updates += 1
            return
        if msg["parent_header"].get("msg_id") != msg_id:
            self.iopub_leftovers.append(msg)
            return
        if kind == "stream":
            if content["name"] == "stdout":
                cell.stdout += content["text"]
            else:
                cell.stderr += content["text"]
        elif kind == "display_data":
            key = content.get("transient", {}).get("display_id") or f"#{len(cell.displays)}"
            cell.displays[key] = content["data"]
            cell.display_order.append(key)
        elif kind == "execute_result":
            cell.result = content["data"].get("text/plain")
            cell.result_data = content["data"]
        elif kind == "error":
            cell.error = content

    def drain(self, seconds: float) -> list[dict[str, Any]]:
        """Collect iopub messages for ``seconds`` (updates sent while no cell runs)."""
        end = time.monotonic() + seconds
        got = []
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return got
            try:
                msg = self.kc.get_iopub_msg(timeout=left)
            except queue.Empty:
                return got
            if msg["msg_type"] == "update_display_data":
                key = msg["content"].get("transient", {}).get("display_id")
                self.display_updates[key] = msg["content"]["data"]
            got.append(msg)

    def interrupt(self) -> float:
        self.km.interrupt_kernel()
        return time.monotonic()

    def ok(self, code: str, **kwargs: Any) -> Cell:
        """Run a cell that must succeed."""
        cell = self.execute(code, **kwargs)
        assert cell.ok, cell.describe()
        return cell

    def value(self, expression: str) -> str:
        """The text/plain repr of ``expression`` evaluated in the kernel."""
        cell = self.ok(expression)
        assert cell.result is not None, cell.describe()
        return cell.result
