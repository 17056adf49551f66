"""A widget lets its run go once the run ended: it keeps what the page shows, and holds
the scheduler weakly, so that a long-lived kernel frees finished runs (jobs, results)."""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from collections.abc import Callable
from typing import Any

import pytest

import nbjobs
from nbjobs import Job, RunGoneError, Scheduler
from nbjobs._widget import widget as widget_module
from nbjobs._widget.widget import DagWidget
from tests.test_widget import RecordingComm, comms, demo, rec, request

__all__ = ("comms",)  # the fixture, used by name


async def big() -> bytearray:
    return bytearray(4 * 2**20)


def test_a_finished_run_is_freed_while_its_widget_stays_open(
    arun: Callable[..., Any], comms: list[RecordingComm]
) -> None:
    s = Scheduler(Job(big, label="big"), label="freed", view=False)
    w = DagWidget(s)
    arun(s.co_run)
    final = w.snapshot
    assert [row[1] for row in final["jobs"]] == ["succeeded"]
    ref = weakref.ref(s)
    del s
    gc.collect()
    assert ref() is None, gc.get_referrers(ref())
    # what the page shows stays, and says the run is gone
    assert w.comm is not None
    assert w.gone
    assert w.snapshot == final
    assert repr(w) == "<DagWidget of 'freed': the run is gone, its last state is shown>"
    with pytest.raises(RunGoneError, match=r"the run of 'freed' .* is gone"):
        _ = w.scheduler
    w.close()


def test_requests_about_a_run_that_is_gone_are_answered_in_band(
    arun: Callable[..., Any], comms: list[RecordingComm]
) -> None:
    s, jobs = demo()
    w = DagWidget(s)
    c = rec(w)
    arun(s.co_run)
    job_id = jobs["b"].id
    final = w.snapshot
    del s, jobs
    gc.collect()
    assert w.gone
    # a page opened (or reloaded) now gets the last state the run sent
    request(w, {"type": "hello"})
    snapshot = c.custom("snapshot")[-1]
    assert snapshot["jobs"] == final["jobs"] and snapshot["stats"] == final["stats"]
    # a click on a job says the run is gone, instead of failing
    for ask in (
        {"type": "detail", "id": 7, "job": job_id},
        {"type": "cancel", "id": 8},
        {"type": "query", "id": 9},
    ):
        request(w, ask)
        error = c.custom("error")[-1]
        assert error["id"] == ask["id"]
        assert error["gone"] is True
        assert "is gone" in error["message"] and "run the cell again" in error["message"]
    # displayed again, it says so too
    bundle = w._repr_mimebundle_()
    assert bundle is not None
    assert "the run is gone" in bundle[0]["text/plain"]
    w.close()


def test_the_scheduler_is_held_while_it_runs_and_let_go_after(
    arun: Callable[..., Any], comms: list[RecordingComm]
) -> None:
    seen: list[bool] = []

    async def main() -> None:
        s = Scheduler(label="held", view=False)
        w = DagWidget(s)
        ref = weakref.ref(s)

        async def probe() -> None:
            seen.append(w._held is ref())

        Job(probe, scheduler=s)
        task = asyncio.ensure_future(s.co_run())
        del s
        await task
        del task
        gc.collect()
        seen.append(ref() is None)
        w.close()

    arun(main)
    assert seen == [True, True]


def test_a_rerun_of_a_scheduler_still_named_updates_its_widget(
    arun: Callable[..., Any], comms: list[RecordingComm]
) -> None:
    s, jobs = demo()
    w = DagWidget(s)
    c = rec(w)
    arun(s.co_run)
    assert not w.gone
    s.reset()
    before = len(c.updates())
    arun(s.co_run)
    # the second run's end went into the snapshot trait again
    assert len(c.updates()) > before
    assert json.loads(c.updates()[-1]["snapshot_json"])["stats"]["finished"] is True
    request(w, {"type": "detail", "id": 1, "job": jobs["b"].id})
    assert c.custom("detail")[-1]["detail"]["state"] == "succeeded"
    w.close()


def test_widgets_made_for_views_call_the_shown_hooks(
    monkeypatch: pytest.MonkeyPatch, comms: list[RecordingComm]
) -> None:
    shown: list[DagWidget] = []
    monkeypatch.setattr(widget_module, "SHOWN_HOOKS", [shown.append])
    s, _ = demo()
    mine = DagWidget(s)
    viewed = DagWidget(s, close_with_cell=True)
    mine._repr_mimebundle_()
    viewed._repr_mimebundle_()
    viewed.widget_view()
    assert shown == [viewed, viewed]
    mine.close()
    viewed.close()


def test_run_gone_error_is_public() -> None:
    assert nbjobs.RunGoneError is RunGoneError
    assert issubclass(RunGoneError, LookupError)
