"""Job bodies on Dask distributed: ``DaskExecutor`` (``pip install "nbjobs[dask]"``).

    from nbjobs import Job, Scheduler
    from nbjobs.dask import DaskExecutor

    with DaskExecutor(n_workers=2) as ex:       # a LocalCluster of processes, at first use
        a = Job(load, "data.parquet", executor=ex)
        b = Job(fit, a, executor=ex)            # a's result stays on the workers
        Scheduler(a, b).run()
        b.result()                              # fetched once, when asked

nbjobs keeps the DAG and its semantics (window, critical jobs, skips, timeouts, retries,
cancel); Dask runs the bodies, one Dask task per attempt of a job, submitted when the job
is ready, under a key of its own (a retry never reuses a failure Dask remembers). A
producer's Dask future is handed to its consumers on Dask, so data stays on the workers;
local consumers and ``result()`` fetch it. A future that every consumer has used is
released. A worker lost mid-run is Dask's to recover; a task that kills its workers fails
its job with ``KilledWorker``, and the job's ``retries`` apply.

The client is a synchronous ``distributed.Client``: it lives on Dask's own thread, so it
survives the event loops that blocking ``run()`` calls make, and the kernel's loop never
hosts the cluster. nbjobs learns that a Dask future ended on Dask's loop and hands it to
its own with ``loop.call_soon_threadsafe``, never by blocking a thread per job. What a
body prints or logs on a worker is sent back as Dask events routed by task key to the job
that owns the task, as it is written.

Workers need nbjobs importable (the embedded cluster's workers share this interpreter).
``distributed`` is imported when the executor starts, not when nbjobs is.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import pickle
import re
import sys
import threading
import uuid
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ._core.capture import StreamTee
from ._core.remote import RemoteExecutor, RemoteResult, data_consumers
from ._engine.executors import call_body

if TYPE_CHECKING:
    from ._core.job import AbstractJob

logger = logging.getLogger("nbjobs")

#: the Dask event topic that carries what bodies write, and where they run
TOPIC = "nbjobs-output"
#: arguments at least this large (``dask.sizeof``) are scattered to the workers before a
#: task that takes them is submitted
SCATTER_BYTES = 1_000_000
#: how long a finished task's last output may take to arrive after its result
_OUTPUT_GRACE = 2.0

_INSTALL = 'pip install "nbjobs[dask]"'


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(f"nbjobs.dask.DaskExecutor needs Dask distributed: {_INSTALL}") from exc
    return distributed


class DaskExecutor(RemoteExecutor):
    """Runs job bodies on Dask distributed.

    - ``DaskExecutor()``: an embedded ``LocalCluster`` of worker processes, started at
      first use (keyword arguments go to it: ``n_workers=``, ``threads_per_worker=``,
      ``silence_logs=`` (errors only by default), ...); its dashboard is off unless
      ``dashboard=True`` (or an address, ``":8787"``).
    - ``DaskExecutor("tcp://scheduler:8786")``: a cluster that runs elsewhere.
    - ``DaskExecutor(client=c)``: an existing synchronous ``distributed.Client``, which
      stays the caller's (``close()`` leaves it open).

    A job's result stays on the workers while the job lives, so that ``job.result()``
    fetches it when asked; it is released there when the job is freed (the user's names
    for it and its scheduler are gone), reset or run again. ``keep_results=False``
    releases a result as soon as every job that takes it as an argument succeeded (for
    large intermediate results nobody asks for); ``result()`` then raises
    ``ResultReleasedError``.
    ``show_workers=False`` spares the message per task that tells views which worker runs
    it (for many small tasks; a job that writes output still says where it ran).
    ``close()`` (or ``with``) closes the client and the cluster it started; so does the
    end of the interpreter.
    """

    name = "dask"

    def __init__(
        self,
        address: str | None = None,
        *,
        client: Any = None,
        keep_results: bool = True,
        show_workers: bool = True,
        dashboard: bool | str = False,
        **cluster_options: Any,
    ) -> None:
        if address is not None and not isinstance(address, str):
            raise TypeError(
                f"DaskExecutor(address): the address of a Dask scheduler, like "
                f"'tcp://host:8786', got {address!r}; pass a Client as client=..."
            )
        if address is not None and client is not None:
            raise TypeError("DaskExecutor: pass an address or a client=, not both")
        if cluster_options and (address is not None or client is not None):
            raise TypeError(
                f"DaskExecutor: {sorted(cluster_options)} are options of the embedded "
                "LocalCluster; a cluster given by address or client is configured where "
                "it was started"
            )
        if client is not None:
            distributed = _distributed()
            if not isinstance(client, distributed.Client):
                raise TypeError(
                    f"DaskExecutor(client=...) takes a distributed.Client, got {client!r}"
                )
            if client.asynchronous:
                raise TypeError(
                    f"DaskExecutor(client={client!r}): an asynchronous client belongs to one "
                    "event loop; pass a synchronous one (Client(..., asynchronous=False)) "
                    "or the scheduler's address"
                )
        self.address = address
        self.keep_results = bool(keep_results)
        self.show_workers = bool(show_workers)
        self.dashboard = dashboard
        self.cluster_options = cluster_options
        self._client: Any = client
        self._owns_client = client is None
        self._cluster: Any = None
        self._started = False
        self._closed = False
        self._lock = threading.Lock()
        # fetches and cancels block on Dask's thread: not on the loop, nor in the default
        # executor that plain-function jobs use
        self._io = ThreadPoolExecutor(4, thread_name_prefix="nbjobs-dask")
        self._finalizer: weakref.finalize[Any, Any] | None = None

    # ---- life ---------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (the embedded cluster starts on first access)."""
        return self._start()

    @property
    def cluster(self) -> Any:
        """The embedded ``LocalCluster``, or None (a cluster given by address or client)."""
        return self._cluster

    def _start(self) -> Any:
        if self._closed:
            self.check_open(self)
        if self._started:
            return self._client
        with self._lock:
            if self._started:
                return self._client
            distributed = _distributed()
            client = self._client
            cluster = None
            if client is None:
                if self.address is not None:
                    client = distributed.Client(self.address, set_as_default=False)
                else:
                    # the cluster's warnings (a task nbjobs cancelled, say) would land in
                    # whichever cell runs: errors only, unless asked otherwise
                    options = {
                        "processes": True,
                        "silence_logs": logging.ERROR,
                        **self.cluster_options,
                    }
                    dash = self.dashboard
                    if dash is True:
                        dash = ":0"
                    options.setdefault("dashboard_address", dash or None)
                    if not dash:
                        # without a dashboard the scheduler still serves its health
                        # routes over HTTP, by default on the dashboard's port 8787: a
                        # port of its own, so that two clusters never clash there
                        scheduler_kwargs = dict(options.get("scheduler_kwargs") or {})
                        scheduler_kwargs.setdefault("dashboard_address", "127.0.0.1:0")
                        options["scheduler_kwargs"] = scheduler_kwargs
                    cluster = distributed.LocalCluster(**options)
                    try:
                        client = distributed.Client(cluster, set_as_default=False)
                    except BaseException:
                        cluster.close()
                        raise
            # one handler per topic and client, shared by every executor on that client;
            # it holds no executor, so the executor's finalizer can close what it started
            client.subscribe_topic(TOPIC, _on_event)
            self._client, self._cluster = client, cluster
            self._finalizer = weakref.finalize(
                self,
                _shutdown,
                client if self._owns_client else None,
                cluster,
                self._io,
            )
            self._started = True
            logger.debug("nbjobs: %r started", self)
            return client

    def close(self) -> None:
        """Close the client and the cluster this executor started (not a client given
        to it); jobs can no longer run on it."""
        self._closed = True
        if self._finalizer is not None:
            self._finalizer()
        else:
            self._io.shutdown(wait=False)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dashboard_link(self) -> str | None:
        """The Dask dashboard's address, when it is on."""
        if not self._started or self._closed:
            return None
        if self._cluster is not None and not self.dashboard:
            return None
        try:
            link = self._client.dashboard_link
        except Exception:
            return None
        return str(link) if link else None

    def __repr__(self) -> str:
        if self._closed:
            state = "closed"
        elif not self._started:
            state = "not started"
        elif self._cluster is not None:
            state = f"LocalCluster at {self._cluster.scheduler_address}"
        else:
            state = f"at {self._client.scheduler.address}"
        return f"<DaskExecutor {state}>"

    # ---- running a body -------------------------------------------------------------------
    def accepts(self, value: RemoteResult) -> bool:
        return isinstance(value, DaskResult) and value.client is self._client

    async def run_body(
        self, job: AbstractJob, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Any
    ) -> Any:
        self.check_open(job)
        loop = asyncio.get_running_loop()
        client: Any = self._client if self._started else None
        if client is None:
            # starting a cluster takes a second: not on the loop
            client = await loop.run_in_executor(self._io, self._start)
        args, kwargs = await self._scatter_large(client, loop, args, kwargs)
        # a key per attempt: Dask remembers a failed key, and a retry must run again
        key = f"{_slug(job.label_text())}-{uuid.uuid4().hex}"
        route = _ROUTES[key] = _Route(job, loop)
        try:
            try:
                future = client.submit(
                    _run_on_worker, fn, args, kwargs, key, self.show_workers, key=key, pure=False
                )
            except Exception as exc:
                # the client pickles the task here: what does not pickle fails now
                if "serializ" in str(exc) or isinstance(exc, pickle.PicklingError):
                    _raise_unshippable(job, exc)
                raise
            waiter: asyncio.Future[tuple[str, Any, Any]] = loop.create_future()
            _when_done(client, future, functools.partial(_done, loop, waiter), self._io)
            try:
                status, error, tb = await waiter
            except asyncio.CancelledError:
                # the job ends now; Dask stops the task if it has not started (a running
                # body cannot be stopped)
                self._io.submit(_cancel, future)
                raise
            killed = type(error).__name__ == "KilledWorker"
            if route.wrote and not killed:
                # the task's output travels apart from its result: wait until it is all here
                await route.wait_end(_OUTPUT_GRACE)
            if status == "finished":
                return DaskResult(self, future, job, route.worker)
            if status == "error" and isinstance(error, Exception):
                raise error.with_traceback(tb)
            if status == "error" and isinstance(error, BaseException):
                raise RuntimeError(f"{type(error).__name__}: {error} (raised on a Dask worker)")
            raise RuntimeError(f"the Dask task of {job!r} ended as {status!r}: {error}")
        finally:
            del _ROUTES[key]

    async def _scatter_large(
        self, client: Any, loop: asyncio.AbstractEventLoop, args: tuple[Any, ...], kwargs: Any
    ) -> tuple[tuple[Any, ...], Any]:
        """Large values among the arguments (a local job's result, say) go to the workers
        apart, as Dask advises, rather than inside the task's graph."""
        from dask.sizeof import sizeof
        from distributed import Future

        def large(value: Any) -> bool:
            return not isinstance(value, Future) and sizeof(value) >= SCATTER_BYTES

        if not any(map(large, args)) and not any(map(large, kwargs.values())):
            return args, kwargs

        async def moved(value: Any) -> Any:
            if not large(value):
                return value
            scatter = functools.partial(client.scatter, value, hash=False)
            return await loop.run_in_executor(self._io, scatter)

        new_args = tuple([await moved(a) for a in args])
        new_kwargs = {k: await moved(v) for k, v in kwargs.items()}
        return new_args, new_kwargs


class DaskResult(RemoteResult):
    """A job's result that stays on the Dask workers (its Dask future)."""

    def __init__(self, executor: DaskExecutor, future: Any, job: AbstractJob, worker: str | None):
        super().__init__(data_consumers(job))
        self.executor = executor
        self.client = executor._client
        self.future: Any = future
        self.label = job.label_text()
        self.where = f"dask worker {worker}" if worker else "dask"

    def ref(self) -> Any:
        self._check_available()
        return self.future

    def _fetch(self) -> Any:
        return self.future.result()

    async def _fetch_async(self) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor._io, self.future.result)

    def _release(self) -> None:
        future, self.future = self.future, None
        if future is not None:
            future.release()

    def __repr__(self) -> str:
        state = " (released)" if self.released and not self._fetched else ""
        return f"<result of {self.label!r} on {self.where}{state}>"


# ---- plumbing on the client side ----------------------------------------------------------
class _Route:
    """One attempt of a job on Dask: where its output and its worker's address go."""

    def __init__(self, job: AbstractJob, loop: asyncio.AbstractEventLoop) -> None:
        self.job = job
        self.loop = loop
        self.worker: str | None = None
        self.started = False
        self.wrote = False
        self.end = asyncio.Event()

    def deliver(self, msg: dict[str, Any]) -> None:
        # on the loop's thread
        if "worker" in msg and not self.started:
            self.started = True
            self.worker = str(msg["worker"])
            self.job.where = f"dask worker {self.worker}"
        if "text" in msg:
            self.wrote = True
            self.job._record_output(str(msg.get("stream", "stdout")), str(msg["text"]))
        if msg.get("end"):
            self.end.set()

    async def wait_end(self, grace: float) -> None:
        try:
            async with asyncio.timeout(grace):
                await self.end.wait()
        except TimeoutError:
            logger.debug("nbjobs: the last output of %r did not arrive", self.job)


#: task key -> the attempt it runs: what a body writes, and where, is routed by key
_ROUTES: dict[str, _Route] = {}


def _on_event(event: Any) -> None:
    # on Dask's thread: hand the message to the loop of the job it belongs to
    _, msg = event
    route = _ROUTES.get(str(msg.get("key"))) if isinstance(msg, dict) else None
    if route is None:
        return
    # a closed loop raises: the run it belonged to is over
    with contextlib.suppress(RuntimeError):
        route.loop.call_soon_threadsafe(route.deliver, msg)


def _when_done(client: Any, future: Any, callback: Any, io: ThreadPoolExecutor) -> None:
    """Call ``callback(future)`` once ``future`` has ended, in a thread that may wait on
    Dask's loop (``io``) when it failed; right on Dask's loop when it succeeded.

    ``Future.add_done_callback`` hands every callback to one thread of Dask's, one more
    hop between threads per task (each hop waits for the GIL) than a task's end needs.
    """
    try:
        from distributed.client import done_callback
    except ImportError:  # another version of distributed: the public way
        future.add_done_callback(callback)
        return

    def ended(fut: Any) -> None:
        # on Dask's loop: nothing here may wait on it
        if fut.status == "finished":
            callback(fut)
        else:
            io.submit(callback, fut)

    client.loop.add_callback(done_callback, future, ended)


def _done(loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[Any], future: Any) -> None:
    # the outcome, read here: when the task failed, these calls wait on Dask's loop (so this
    # runs in a thread of its own then)
    status = future.status
    exc = tb = None
    if status == "error":
        try:
            exc, tb = future.exception(), future.traceback()
        except Exception as error:
            exc = error
    # a closed loop raises: nobody awaits this any more
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, waiter, (status, exc, tb))


def _settle(waiter: asyncio.Future[Any], outcome: Any) -> None:
    if not waiter.done():
        waiter.set_result(outcome)


def _cancel(future: Any) -> None:
    try:
        future.cancel(reason="cancelled by nbjobs")
    except Exception:
        logger.debug("nbjobs: cancelling %r failed", future, exc_info=True)


def _raise_unshippable(job: AbstractJob, exc: Exception) -> None:
    raise pickle.PicklingError(
        f"{job!r}: its function or arguments cannot be sent to the Dask workers "
        f"({type(exc).__name__}: {exc}); define the function at the top level of the "
        "notebook, the script or a module (a module of your own must be importable on "
        "the workers: cloudpickle.register_pickle_by_value(module) sends it by value), "
        "and pass arguments that pickle (no open files, locks, sockets or event-loop "
        "objects)"
    ) from exc


def _shutdown(client: Any, cluster: Any, io: ThreadPoolExecutor) -> None:
    for thing in (client, cluster):
        if thing is not None:
            try:
                thing.close()
            except Exception:
                logger.debug("nbjobs: closing %r failed", thing, exc_info=True)
    io.shutdown(wait=False)


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "-", label)[:40].strip("-") or "job"


# ---- on the workers ------------------------------------------------------------------------
class _Task:
    """The body running in this thread of a worker: its worker, its key, whether it wrote."""

    __slots__ = ("key", "worker", "wrote")

    def __init__(self, worker: Any, key: str) -> None:
        self.worker = worker
        self.key = key
        self.wrote = False


_running: contextvars.ContextVar[_Task | None] = contextvars.ContextVar(
    "nbjobs_dask_task", default=None
)
_capture_lock = threading.Lock()


def _run_on_worker(fn: Callable[..., Any], args: Any, kwargs: Any, key: str, announce: bool) -> Any:
    """A job's body, on a worker: what it writes goes to its job, live; with ``announce``,
    a first message says which worker runs it."""
    from distributed import get_worker

    worker = get_worker()
    _install_capture()
    task = _Task(worker, key)
    token = _running.set(task)
    if announce:
        worker.log_event(TOPIC, {"key": key, "worker": str(worker.address)})
    try:
        return call_body(fn, args, kwargs)
    finally:
        _running.reset(token)
        if task.wrote:
            # events reach the client in the order sent, and before the task's end: this
            # one says that the job's output is complete
            worker.log_event(TOPIC, {"key": key, "end": True})


def _send(stream: str, text: str) -> None:
    task = _running.get()
    if task is not None and text:
        task.wrote = True
        task.worker.log_event(TOPIC, {"key": task.key, "stream": stream, "text": text})


class _WorkerTee(StreamTee):
    """Stands for stdout/stderr in a worker process: what a job's body writes goes to its
    job (by task key), the rest where it went before."""

    def write(self, text: str) -> int:
        if _running.get() is not None:
            # a job's output goes to its job only: a LocalCluster's workers share the
            # kernel's file descriptors, which a kernel shows in whatever cell runs
            _send(self._nbjobs_name, text)
            return len(text)
        return self._nbjobs_wrapped.write(text)


class _WorkerLogHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if _running.get() is None:
            return
        try:
            _send("log", self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def _install_capture() -> None:
    with _capture_lock:
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is not None and not isinstance(stream, _WorkerTee):
                setattr(sys, name, _WorkerTee(stream, name))
        root = logging.getLogger()
        if not any(isinstance(h, _WorkerLogHandler) for h in root.handlers):
            root.addHandler(_WorkerLogHandler())


__all__ = ("DaskExecutor", "DaskResult")
