"""Job bodies that run elsewhere: the contract between a job and an executor.

A job given ``executor=`` (or whose scheduler has one) still belongs to the DAG that nbjobs
runs on its loop: its window slot, its timeout, its retries and its cancellation stay here;
only its body goes away. This module knows no engine: it declares what an executor must
do (:class:`RemoteExecutor`), what a result left where it was made looks like
(:class:`RemoteResult`), and keeps the registry through which upper rooms turn the objects
users pass (a ``concurrent.futures.Executor``, say) into executors (:data:`ADAPTERS`, filled
by ``nbjobs._engine.executors``; ``nbjobs.dask.DaskExecutor`` is one itself).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import ExecutorClosedError, ResultReleasedError

if TYPE_CHECKING:
    from .job import AbstractJob


class RemoteTraceback(Exception):
    """The traceback of an exception raised in another process, as text (the cause of
    the exception a job raised there, when its frames could not travel with it)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n" + self.text


class RemoteExecutor(abc.ABC):
    """What runs job bodies away from the loop (nbjobs' side of an engine)."""

    #: a short description for views ("process pool", "dask tcp://...")
    name: str = "executor"

    @property
    def closed(self) -> bool:
        """True once the executor cannot run anything any more."""
        return False

    @property
    def dashboard_link(self) -> str | None:
        """A web page that shows what the engine does, if there is one."""
        return None

    def check_open(self, what: object) -> None:
        """Raise :class:`ExecutorClosedError` when closed (``what`` names who asks)."""
        if self.closed:
            who = what if isinstance(what, str) else repr(what)
            raise ExecutorClosedError(
                f"{who} is to run on {self!r}, which is closed; pass an open executor "
                "(or create a new one) before running"
            )

    @abc.abstractmethod
    async def run_body(
        self, job: AbstractJob, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Any
    ) -> Any:
        """Run ``fn(*args, **kwargs)`` for ``job`` (one attempt) and return its result, or a
        :class:`RemoteResult` that stands for it. Cancelling the awaiting task cancels the
        remote work as far as the engine can."""

    def accepts(self, value: RemoteResult) -> bool:
        """True when ``value`` can be passed to a body on this executor as it is (it stays
        where it is); else the consumer's argument is fetched first."""
        return False


class RemoteResult(abc.ABC):
    """A job's result that stays where it was made, fetched when a local job or
    ``result()`` needs it (once: the value is then kept here)."""

    #: where the value lives, for views
    where: str = "elsewhere"

    def __init__(self, users: int) -> None:
        #: consumers of this result in the run that made it; once they all succeeded, the
        #: remote copy is released (unless the executor keeps results)
        self.users = users
        self._used_by: set[int] = set()
        self._released = False
        self._fetched = False
        self._value: Any = None

    @abc.abstractmethod
    def _fetch(self) -> Any:
        """Fetch the value (blocking)."""

    @abc.abstractmethod
    async def _fetch_async(self) -> Any:
        """Fetch the value without blocking the loop."""

    @abc.abstractmethod
    def _release(self) -> None:
        """Let the remote side forget the value."""

    def ref(self) -> Any:
        """What a body on the same executor takes as its argument."""
        self._check_available()
        return self

    def _check_available(self) -> None:
        if self._released and not self._fetched:
            raise ResultReleasedError(
                f"{self!r} was released from where it was made once every job that takes "
                "it as an argument had succeeded (its executor was made with "
                "keep_results=False); to keep results until they are asked for, leave "
                "keep_results at its default (True)"
            )

    def fetch(self) -> Any:
        if not self._fetched:
            self._check_available()
            self._value = self._fetch()
            self._fetched = True
            self.release()
        return self._value

    async def fetch_async(self) -> Any:
        if not self._fetched:
            self._check_available()
            value = await self._fetch_async()
            if not self._fetched:
                self._value = value
                self._fetched = True
        return self._value

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._release()

    @property
    def released(self) -> bool:
        return self._released

    def used_by(self, consumer: AbstractJob, keep: bool) -> None:
        """``consumer`` succeeded with this value: release it when all consumers did."""
        self._used_by.add(consumer.id)
        if not keep and len(self._used_by) >= self.users:
            self.release()


#: turn what a user passed as ``executor=`` into a RemoteExecutor, or None if not theirs
ADAPTERS: list[Callable[[object], RemoteExecutor | None]] = []


def as_executor(value: object, who: str) -> RemoteExecutor:
    """``value`` (what ``executor=`` was given) as a RemoteExecutor, or a clear error."""
    if isinstance(value, RemoteExecutor):
        return value
    for adapt in ADAPTERS:
        found = adapt(value)
        if found is not None:
            return found
    raise TypeError(
        f"{who}: executor= takes a concurrent.futures.Executor (a ProcessPoolExecutor, a "
        f"ThreadPoolExecutor) or an nbjobs.dask.DaskExecutor; got {value!r} of type "
        f"{type(value).__name__}"
    )


def data_consumers(job: AbstractJob) -> int:
    """How many jobs of the current run of ``job``'s scheduler take its result as an
    argument (read from the run's plan: its successors)."""
    owner = job._owner()
    runner = owner._runner if owner is not None else None
    n = job._nsucc
    if runner is None or not n:
        return 0
    if n == 1:  # a lone successor, held by the job (see plan.link)
        following = [job._succ_end]
    else:
        end = job._succ_end
        following = runner.successors[end - n : end]
    return sum(1 for nxt in following if job in nxt.data_required)
