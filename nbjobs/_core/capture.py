"""Per-job output capture: stdout, stderr and logging records, kept on the job that wrote them.

The job running in the current context is a ``ContextVar``: each job's task sets it, and
``asyncio.to_thread`` copies it into the worker thread, so concurrent jobs never mix. While
a run is going on, ``sys.stdout``/``sys.stderr`` are wrapped by a tee that records what the
current job writes and still writes it where it would have gone; a root logging handler
does the same for logging records. Both are installed by the first run and removed by the
last one to end (reference counted), and only if nobody replaced them meanwhile.

A context outlives its job: a connection opened by job A runs its protocol callbacks in
the context copied when it was opened, a thread started by A keeps A's context after A
ended. So what is written in a job's context is recorded on it only while it runs:
nothing is ever attributed to a job that has ended (integrations that serve several jobs,
such as ``nbjobs.ssh``, route their output to the job that owns each session instead).
"""

from __future__ import annotations

import logging
import sys
import threading
from contextvars import ContextVar
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .job import AbstractJob

# the value of ``Status.RUNNING``: ``job`` imports this module, so the status is compared
# by its value
_RUNNING = "running"

current_job: ContextVar[AbstractJob | None] = ContextVar("nbjobs_current_job", default=None)

# Output beyond this many characters per job is dropped from the oldest end: a chatty job
# must not eat the kernel's memory; views say how much was dropped.
DEFAULT_LIMIT = 1_000_000


class JobOutput:
    """What one job wrote, as ``(stream, text)`` chunks; stream is stdout, stderr or log."""

    __slots__ = ("_size", "chunks", "dropped", "limit")

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.chunks: list[tuple[str, str]] = []
        self.limit = limit
        self.dropped = 0
        self._size = 0

    def append(self, stream: str, text: str) -> None:
        if not text:
            return
        if self.chunks and self.chunks[-1][0] == stream:
            # merge with the previous chunk: print() writes the text and the newline apart
            self.chunks[-1] = (stream, self.chunks[-1][1] + text)
        else:
            self.chunks.append((stream, text))
        self._size += len(text)
        while self._size > self.limit and self.chunks:
            _, old = self.chunks.pop(0)
            self._size -= len(old)
            self.dropped += len(old)

    def text(self, *streams: str) -> str:
        """All the text, or that of the given streams only, in the order written."""
        return "".join(text for stream, text in self.chunks if not streams or stream in streams)

    def last_line(self) -> str:
        """The last non-empty line written (for one-line views)."""
        for _, text in reversed(self.chunks):
            for line in reversed(text.splitlines()):
                if line.strip():
                    return line
        return ""

    def clear(self) -> None:
        self.chunks.clear()
        self.dropped = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"<JobOutput {len(self.chunks)} chunk(s), {self._size} char(s)>"


class StreamTee:
    """Stands for a text stream: subclasses say where ``write()`` sends a job's text;
    everything else (flush, encoding, isatty, fileno, ...) is the wrapped stream's."""

    def __init__(self, wrapped: IO[str], name: str) -> None:
        self._nbjobs_wrapped = wrapped
        self._nbjobs_name = name

    def write(self, text: str) -> int:
        return self._nbjobs_wrapped.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._nbjobs_wrapped, name)


class _Tee(StreamTee):
    """Records the current job's writes, then passes them on."""

    def write(self, text: str) -> int:
        job = current_job.get()
        if job is not None and job._status.value == _RUNNING:
            job._record_output(self._nbjobs_name, text)
        return self._nbjobs_wrapped.write(text)


class _JobLogHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        job = current_job.get()
        if job is None or job._status.value != _RUNNING:
            return
        try:
            job._record_output("log", self.format(record) + "\n")
        except Exception:
            self.handleError(record)


_lock = threading.Lock()
_installed = 0
_tees: dict[str, _Tee] = {}
_handler = _JobLogHandler()


def install() -> None:
    """Start capturing (called when a run starts)."""
    global _installed
    with _lock:
        _installed += 1
        if _installed > 1:
            return
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is None or isinstance(stream, _Tee):
                continue
            tee = _Tee(stream, name)
            _tees[name] = tee
            setattr(sys, name, tee)
        logging.getLogger().addHandler(_handler)


def uninstall() -> None:
    """Stop capturing when the last run ends; leave streams that others replaced alone."""
    global _installed
    with _lock:
        if _installed == 0:
            return
        _installed -= 1
        if _installed:
            return
        for name, tee in _tees.items():
            if getattr(sys, name) is tee:
                setattr(sys, name, tee._nbjobs_wrapped)
        _tees.clear()
        logging.getLogger().removeHandler(_handler)
