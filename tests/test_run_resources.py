"""The hooks that integrations use (nbjobs.ssh): what a run's jobs open is closed when the
run ends, whatever its outcome; a callable labels the jobs made of it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from nbjobs import Job, Scheduler
from nbjobs._engine.runner import at_run_end
from tests.conftest import run_checked


class Resource:
    """Stands for a connection: opened by the first job that needs it, closed at the end."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.answers: list[Any] = []

    async def use(self, name: str, fail: bool = False, sleep: float = 0.0) -> str:
        self.answers.append(at_run_end(("resource", id(self)), self.close))
        self.events.append(f"use {name}")
        await asyncio.sleep(sleep)
        if fail:
            raise RuntimeError(f"{name} failed")
        return name

    async def close(self) -> None:
        await asyncio.sleep(0)
        self.events.append("closed")


def test_closed_once_when_the_run_ends_after_every_job() -> None:
    res = Resource()
    jobs = [Job(res.use, name) for name in "abc"]
    assert run_checked(Scheduler(*jobs).co_run) is True
    assert res.events == ["use a", "use b", "use c", "closed"]
    assert res.answers == ["added", "known", "known"]


@pytest.mark.parametrize("outcome", ["critical", "timeout", "cancel"])
def test_closed_whatever_the_outcome(outcome: str) -> None:
    res = Resource()
    if outcome == "critical":
        sched = Scheduler(Job(res.use, "a", fail=True), critical=False)
    elif outcome == "timeout":
        sched = Scheduler(Job(res.use, "a", sleep=30), timeout=0.05, critical=False)
    else:
        sched = Scheduler(Job(res.use, "a", sleep=30), critical=False)

    async def main() -> bool:
        task = asyncio.ensure_future(sched.co_run())
        if outcome == "cancel":
            await asyncio.sleep(0.05)
            sched.cancel("stop")
        return await task

    assert run_checked(main) is False
    assert res.events == ["use a", "closed"]


def test_a_nested_schedulers_jobs_close_with_the_outermost_run() -> None:
    res = Resource()
    inner = Scheduler(Job(res.use, "inner"), label="inner")
    after = Job(res.use, "after", required=inner)
    assert run_checked(Scheduler(inner, after).co_run) is True
    assert res.events == ["use inner", "use after", "closed"]
    assert res.answers == ["added", "known"]


def test_outside_a_run_there_is_nothing_to_close() -> None:
    res = Resource()
    assert asyncio.run(res.use("alone")) == "alone"
    assert res.answers == [None] and res.events == ["use alone"]


def test_a_callable_labels_the_jobs_made_of_it() -> None:
    class Remote:
        name = "node1"

        async def run(self, command: str, check: bool = True) -> str:
            return command

        run.__nbjobs_label__ = lambda self, command, **_: f"{self.name}: {command}"  # type: ignore[attr-defined]

    async def plain(x: int) -> int:
        return x

    async def broken(x: int) -> int:
        return x

    broken.__nbjobs_label__ = lambda *a: 1 / 0  # type: ignore[attr-defined]
    remote = Remote()
    assert Job(remote.run, "make -j4", check=False).label_text() == "node1: make -j4"
    assert Job(remote.run, "make", label="mine").label_text() == "mine"
    assert Job(plain, 1).label_text().endswith("plain")
    # a label that fails to describe is no label: the name is used
    assert Job(broken, 1).label_text().endswith("broken")
