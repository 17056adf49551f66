"""The event stream views read, and the coalescer that bounds their refresh rate."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from nbjobs import AbstractJob, Event, EventKind, Job, Scheduler, Status
from nbjobs._core.events import Coalescer, Subscribers
from tests.conftest import run_checked


def test_status_events_follow_each_job_life_in_order() -> None:
    a = Job(asyncio.sleep, 0, label="a")
    b = Job(asyncio.sleep, 0, label="b", required=a)
    s = Scheduler(a, b, jobs_window=1)
    seen: list[Event] = []
    unsubscribe = s.subscribe(seen.append)
    run_checked(s.co_run)
    unsubscribe()
    kinds = [e.kind for e in seen]
    assert kinds[0] is EventKind.RUN_STARTED and kinds[-1] is EventKind.RUN_FINISHED
    assert seen[-1].text == "FINE"
    per_job = {
        job.label: [e.status for e in seen if e.kind is EventKind.STATUS and e.job is job]
        for job in (a, b)
    }
    assert per_job == {
        "a": [Status.RUNNING, Status.SUCCEEDED],
        "b": [Status.RUNNING, Status.SUCCEEDED],
    }
    times = [e.time for e in seen if e.kind is EventKind.STATUS]
    assert times == sorted(times)


def test_nested_events_reach_the_top_and_output_events_carry_text() -> None:
    async def talk() -> None:
        print("hello")

    inner_job = Job(talk, label="inner job")
    inner = Scheduler(inner_job, label="inner")
    top = Scheduler(inner)
    seen: list[Event] = []
    top.subscribe(seen.append)
    run_checked(top.co_run)
    assert any(e.job is inner_job and e.scheduler is inner for e in seen)
    outputs = [e for e in seen if e.kind is EventKind.OUTPUT]
    assert [(e.stream, e.text) for e in outputs][:1] == [("stdout", "hello")]


def test_unsubscribed_callbacks_hear_nothing_and_a_failing_one_breaks_nothing() -> None:
    s = Scheduler(Job(asyncio.sleep, 0))
    heard: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("view bug")

    s.subscribe(broken)
    s.subscribe(heard.append)()
    assert run_checked(s.co_run) is True
    assert heard == []


def test_structure_events_on_new_requirements() -> None:
    a, b = Job(asyncio.sleep, 0), Job(asyncio.sleep, 0)
    s = Scheduler(a, b)
    seen: list[Event] = []
    s.subscribe(seen.append)
    b.requires(a)
    assert [e.kind for e in seen] == [EventKind.STRUCTURE]


def test_coalescer_flushes_once_per_interval() -> None:
    flushed: list[list[int]] = []

    async def main() -> None:
        co = Coalescer(flushed.append, interval=0.05)
        for i in range(1000):
            co.mark(i % 10)
        await asyncio.sleep(0)
        assert flushed == [list(range(10))]  # first change: at once, keys deduplicated
        co.mark(3)
        co.mark(4)
        await asyncio.sleep(0.01)
        assert len(flushed) == 1  # within the interval: held back
        await asyncio.sleep(0.06)
        assert flushed[1] == [3, 4]
        co.mark(5)
        co.close()  # flushes what is pending
        assert flushed[-1] == [5]
        co.mark(6)
        assert flushed[-1] == [5]

    run_checked(main)


def test_status_watchers_collect_changed_jobs_and_quiet_callbacks_skip_statuses() -> None:
    inner_job = Job(asyncio.sleep, 0, label="inner job")
    inner = Scheduler(inner_job, label="inner")
    a = Job(asyncio.sleep, 0, label="a")
    top = Scheduler(a, inner)
    dirty: dict[int, AbstractJob] = {}
    wakes: list[int] = []
    drained: list[set[int]] = []

    def wake() -> None:
        wakes.append(len(dirty))  # called while the dict is still empty

        def drain() -> None:  # a view takes the changes at its own pace
            drained.append(set(dirty))
            dirty.clear()

        asyncio.get_running_loop().call_soon(drain)

    quiet: list[Event] = []
    stop_watching = top._subscribers.watch_statuses(dirty, wake)
    stop_quiet = top._subscribers.add(quiet.append, statuses=False)
    run_checked(top.co_run)
    stop_watching()
    stop_quiet()
    assert wakes and all(n == 0 for n in wakes)
    # every job whose status changed was recorded, nested ones included
    assert set().union(*drained, dirty) == {a.id, inner.id, inner_job.id}
    # the quiet callback heard the run start and end, and no status change
    kinds = {e.kind for e in quiet}
    assert EventKind.STATUS not in kinds
    assert {EventKind.RUN_STARTED, EventKind.RUN_FINISHED} <= kinds


def test_quiet_subscribers_alone_cost_a_run_no_status_emission(monkeypatch: Any) -> None:
    """With only quiet subscriptions, the engine does not even call ``_emit`` for a status
    change (the widget on a big graph subscribes so); a status subscriber brings it back."""
    emitted: list[EventKind] = []
    original = AbstractJob._emit

    def counting(self: AbstractJob, kind: EventKind, *args: Any, **kwargs: Any) -> None:
        emitted.append(kind)
        original(self, kind, *args, **kwargs)

    monkeypatch.setattr(AbstractJob, "_emit", counting)
    # subscriptions of earlier tests' schedulers ended with them
    gc.collect()
    assert Subscribers.statuses == 0
    forgotten = Scheduler(Job(asyncio.sleep, 0))
    forgotten.subscribe(print)
    forgotten._subscribers.add(print, statuses=False)
    assert (Subscribers.active, Subscribers.statuses) == (2, 1)
    del forgotten
    gc.collect()
    assert (Subscribers.active, Subscribers.statuses) == (0, 0)

    def build() -> Scheduler:
        a = Job(asyncio.sleep, 0, label="a")
        b = Job(asyncio.sleep, 0, label="b", required=a)
        c = Job(asyncio.sleep, 0, label="c")
        return Scheduler(a, b, c, jobs_window=1)

    quiet: list[Event] = []
    top = build()
    stop = top._subscribers.add(quiet.append, statuses=False)
    run_checked(top.co_run)
    stop()
    assert EventKind.STATUS not in emitted
    assert {EventKind.RUN_STARTED, EventKind.RUN_FINISHED} <= {e.kind for e in quiet}

    heard: list[Event] = []
    top = build()
    stop_quiet = top._subscribers.add(quiet.append, statuses=False)
    stop_loud = top.subscribe(heard.append)
    run_checked(top.co_run)
    stop_quiet()
    stop_loud()
    # waiting for the window, running, succeeded: each one emitted and heard
    assert emitted.count(EventKind.STATUS) == len([e for e in heard if e.kind is EventKind.STATUS])
    assert emitted.count(EventKind.STATUS) >= 7
