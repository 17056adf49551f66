"""Job bodies on a ``concurrent.futures.Executor``: a process pool, a thread pool.

Registered in ``nbjobs._core.remote.ADAPTERS`` when the engine is imported, so that
``Job(fn, executor=pool)`` takes any standard executor. A process pool gets the function
and its arguments pickled here (by value with cloudpickle when it is installed, so that
functions defined in a notebook or a script reach the workers), and sends back the
result with what the body printed or logged, which becomes the job's output. A thread
pool runs the body in a copy of the job's context: what it prints is the job's output as
it is written.

An ``async def`` body runs with ``asyncio.run()`` in the worker: a fresh event loop per
attempt, never the kernel's (Prefect runs async tasks on Dask the same way).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import io
import logging
import os
import pickle
import sys
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from .._core.remote import ADAPTERS, RemoteExecutor, RemoteTraceback

if TYPE_CHECKING:
    from .._core.job import AbstractJob

logger = logging.getLogger("nbjobs")


def call_body(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Any) -> Any:
    """Call a job's body where it runs; an awaitable it returns runs in a fresh loop."""
    value = fn(*args, **kwargs)
    if inspect.isawaitable(value):
        return asyncio.run(_awaited(value))
    return value


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def ship(job: object, payload: Any) -> bytes:
    """``payload`` pickled to send to another process, by value where pickle would send a
    reference the other side cannot resolve (a notebook's or a script's ``__main__``)."""
    try:
        import cloudpickle  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        dumps: Callable[[Any], bytes] = pickle.dumps
    else:
        dumps = cloudpickle.dumps
    try:
        return dumps(payload)
    except Exception as exc:
        raise pickle.PicklingError(
            f"{job!r}: its function or arguments cannot be sent to another process "
            f"({type(exc).__name__}: {exc}); define the function at the top level of a "
            "module, a script or the notebook, pass arguments that pickle (no open "
            "files, locks, sockets or event-loop objects), or run this job on this loop "
            "(executor=None)"
        ) from exc


# ---- in the worker process ----------------------------------------------------------------
class _Sink(io.TextIOBase):
    """Stands for stdout or stderr in a pool's worker: keeps what the body writes."""

    def __init__(self, chunks: list[tuple[str, str]], stream: str) -> None:
        self._chunks = chunks
        self._stream = stream

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if text:
            self._chunks.append((self._stream, text))
        return len(text)


class _Handler(logging.Handler):
    def __init__(self, chunks: list[tuple[str, str]]) -> None:
        super().__init__(logging.NOTSET)
        self._chunks = chunks
        self.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._chunks.append(("log", self.format(record) + "\n"))
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def _captured(chunks: list[tuple[str, str]]) -> Iterator[None]:
    # a pool's worker process runs one body at a time: replacing its streams is safe
    old = sys.stdout, sys.stderr
    handler = _Handler(chunks)
    root = logging.getLogger()
    sys.stdout, sys.stderr = _Sink(chunks, "stdout"), _Sink(chunks, "stderr")
    root.addHandler(handler)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = old
        root.removeHandler(handler)


def run_shipped(payload: bytes) -> tuple[bool, Any, str | None, list[tuple[str, str]], int]:
    """In a pool's worker: ``(ok, value or exception, traceback text, output, pid)``."""
    chunks: list[tuple[str, str]] = []
    fn, args, kwargs = pickle.loads(payload)
    with _captured(chunks):
        try:
            value = call_body(fn, args, kwargs)
        except Exception as exc:
            text = traceback.format_exc()
            try:
                pickle.dumps(exc)
            except Exception:
                exc = RuntimeError(f"{type(exc).__name__}: {exc} (which does not pickle)")
            return False, exc, text, chunks, os.getpid()
    return True, value, None, chunks, os.getpid()


# ---- on the loop ----------------------------------------------------------------------------
class PoolExecutor(RemoteExecutor):
    """nbjobs' side of a ``concurrent.futures.Executor``."""

    def __init__(self, pool: Executor) -> None:
        self.pool = pool
        self.processes = isinstance(pool, ProcessPoolExecutor)
        self.name = "process pool" if self.processes else type(pool).__name__

    @property
    def closed(self) -> bool:
        # the standard executors say it only in private fields; others are taken as open
        # (their submit() raises RuntimeError once shut down, which fails the job)
        return bool(getattr(self.pool, "_shutdown_thread", False)) or bool(
            getattr(self.pool, "_shutdown", False)
        )

    def __repr__(self) -> str:
        return f"<nbjobs executor on {self.pool!r}>"

    async def run_body(
        self, job: AbstractJob, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Any
    ) -> Any:
        self.check_open(job)
        if not self.processes:
            # what the body prints is this job's: it runs in a copy of the job's context
            context = contextvars.copy_context()
            job.where = self.name
            return await asyncio.wrap_future(
                self.pool.submit(context.run, call_body, fn, args, kwargs)
            )
        payload = ship(job, (fn, args, kwargs))
        ok, value, text, chunks, pid = await asyncio.wrap_future(
            self.pool.submit(run_shipped, payload)
        )
        job.where = f"{self.name}, process {pid}"
        for stream, chunk in chunks:
            job._record_output(stream, chunk)
        if ok:
            return value
        if text is not None and value.__cause__ is None:
            value.__cause__ = RemoteTraceback(text)
        raise value


def _adapt(value: object) -> RemoteExecutor | None:
    if isinstance(value, Executor):
        return PoolExecutor(value)
    return None


ADAPTERS.append(_adapt)
