"""The widget on a graph too big to draw ("list" mode): nothing described job by job up
front, deltas with counts on a timer, and rows answered to the page's queries."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

import pytest

from nbjobs import Job, Scheduler, Status
from nbjobs._widget.query import QUERY_MAX, Query, answer
from nbjobs._widget.widget import BIG_GRAPH, MAX_DRAWN, UPDATE_INTERVAL, DagWidget
from tests.test_widget import RecordingComm, _bundle, comms, noop, rec, request

__all__ = ["_bundle", "comms"]  # fixtures used here

N = max(BIG_GRAPH, MAX_DRAWN) + 200


def flat(n: int = N, label: str = "flat") -> tuple[Scheduler, list[Job]]:
    s = Scheduler(label=label, view=False)
    jobs = [Job(noop, i, label=f"{label} {i}", scheduler=s) for i in range(n)]
    return s, jobs


def last(c: RecordingComm, kind: str) -> dict[str, Any]:
    found = c.custom(kind)
    assert found, f"no {kind!r} message was sent"
    return found[-1]


def test_a_big_graph_is_not_described_job_by_job(comms: list[RecordingComm]) -> None:
    s, _jobs = flat()
    w = DagWidget(s)
    try:
        graph = w.graph
        assert graph["mode"] == "list"
        assert graph["leaves"] == N
        assert graph["jobs"]["id"] == []
        snap = w.snapshot
        assert snap["jobs"] == []
        assert snap["stats"]["total"] == N
        # the default list (running and failed jobs with neighbours) is empty before a run
        assert snap["list"] == {
            "view": "list",
            "filter": "attention",
            "search": "",
            "total": 0,
            "rows": [],
        }
        # the run pays nothing per status change for this view
        assert s._subscribers._watchers == []
    finally:
        w.close()


def test_queries_answer_the_rows_a_page_shows(comms: list[RecordingComm]) -> None:
    s, jobs = flat()
    w = DagWidget(s)
    c = rec(w)
    try:
        request(w, {"type": "query", "id": 7, "view": "list", "filter": "all", "search": ""})
        rows = last(c, "rows")
        assert rows["id"] == 7
        assert rows["total"] == N
        assert len(rows["rows"]) == QUERY_MAX
        # graph order, with labels: [id, label, state, ready, start, end, parent]
        assert rows["rows"][0] == [jobs[0].id, "flat 0", "idle", None, None, None, None]
        assert [r[0] for r in rows["rows"]] == [j.id for j in jobs[:QUERY_MAX]]
        assert rows["cost_ms"] >= 0
        # the search matches labels (any case) and ids
        request(w, {"type": "query", "id": 8, "filter": "all", "search": f"FLAT {N - 1}"})
        assert [r[0] for r in last(c, "rows")["rows"]] == [jobs[-1].id]
        needle = str(jobs[3].id)
        request(w, {"type": "query", "id": 9, "filter": "all", "search": needle})
        # that id, and any job whose label holds the same digits ("flat 246" for id 246)
        matching = [j.id for j in jobs if str(j.id) == needle or needle in j.label_text()]
        assert jobs[3].id in matching
        assert [r[0] for r in last(c, "rows")["rows"]] == matching[:QUERY_MAX]
        request(w, {"type": "query", "id": 10, "filter": "all", "search": "x", "limit": 5})
        assert last(c, "rows")["total"] == 0
        # nothing has run: the timeline is empty
        request(w, {"type": "query", "id": 11, "view": "timeline", "limit": 300})
        assert last(c, "rows")["total"] == 0
    finally:
        w.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"filter": "bogus"}, "unknown filter 'bogus'"),
        ({"view": "gantt"}, "unknown view 'gantt'"),
        ({"limit": 0}, "limit must be an integer from 1 to"),
        ({"limit": QUERY_MAX + 1}, "limit must be an integer from 1 to"),
        ({"search": 3}, "search must be a string, got 3"),
    ],
)
def test_a_bad_query_is_answered_with_an_error(
    comms: list[RecordingComm], content: dict[str, Any], message: str
) -> None:
    s, _ = flat(3)
    w = DagWidget(s)
    try:
        request(w, {"type": "query", "id": 4, **content})
        error = last(rec(w), "error")
        assert error["id"] == 4
        assert message in error["message"]
        assert rec(w).custom("rows") == []
    finally:
        w.close()


def test_a_run_in_list_mode_sends_counts_and_answers_attention(
    arun: Callable[..., Any], comms: list[RecordingComm]
) -> None:
    async def main() -> None:
        gate, started = asyncio.Event(), asyncio.Event()

        async def held() -> str:
            started.set()
            await gate.wait()
            return "through"

        async def broken() -> None:
            raise ValueError("boom")

        s, _jobs = flat()
        hold = Job(held, label="held", scheduler=s)
        after = Job(noop, label="after held", scheduler=s, required=hold)
        bad = Job(broken, label="bad", scheduler=s, critical=False)
        after_bad = Job(noop, label="after bad", scheduler=s, required=bad, critical=False)
        w = DagWidget(s)
        c = rec(w)
        t0 = time.monotonic()
        run = asyncio.create_task(s.co_run())
        await started.wait()
        for _ in range(500):  # the other jobs end (in a few ms, more on a loaded machine)
            if s.statistics().counts[Status.SUCCEEDED] == N + 1:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(UPDATE_INTERVAL * 3)
        delta = last(c, "delta")
        assert delta["jobs"] == []  # no job's state, only counts
        counts = delta["stats"]["counts"]
        assert counts["running"] == 1
        assert counts["failed"] == 1
        # a job requiring a failed non-critical one runs (asynciojobs' rule)
        assert counts["succeeded"] == N + 1
        # running and failed jobs with their neighbours, in graph order
        request(w, {"type": "query", "id": 1, "view": "list", "filter": "attention"})
        rows = last(c, "rows")
        assert [(r[0], r[2]) for r in rows["rows"]] == [
            (hold.id, "running"),
            (after.id, "idle"),
            (bad.id, "failed"),
            (after_bad.id, "succeeded"),
        ]
        # nothing changes while the job is held: no delta goes out
        sent = len(c.custom("delta"))
        await asyncio.sleep(UPDATE_INTERVAL * 4)
        assert len(c.custom("delta")) == sent
        # a panel opened on a job: its state rides on the deltas
        request(w, {"type": "detail", "id": 2, "job": hold.id})
        assert last(c, "detail")["detail"]["state"] == "running"
        gate.set()
        assert await run is True  # the failed job is not critical
        elapsed = time.monotonic() - t0
        deltas = c.custom("delta")
        assert [d["seq"] for d in deltas] == list(range(1, len(deltas) + 1))
        assert len(deltas) <= math.ceil(elapsed / UPDATE_INTERVAL) + 2
        # the end: counts, the watched job, and the default list (what a saved notebook shows)
        snap = w.snapshot
        assert snap["seq"] == deltas[-1]["seq"] + 1
        assert snap["stats"]["finished"] is True
        assert [r[:2] for r in snap["jobs"]] == [[hold.id, "succeeded"]]
        assert [r[0] for r in snap["list"]["rows"]] == [bad.id, after_bad.id]
        # the timeline: jobs that queued or started, the earliest first
        request(w, {"type": "query", "id": 3, "view": "timeline", "limit": 10})
        timeline = last(c, "rows")
        assert timeline["total"] == N + 4
        assert len(timeline["rows"]) == 10
        starts = [r[4] for r in timeline["rows"]]
        assert starts == sorted(starts)
        w.close()

    arun(main)


def test_growing_past_the_limit_switches_to_list_mode_and_back(
    arun: Callable[..., Any], comms: list[RecordingComm]
) -> None:
    async def main() -> None:
        s, jobs = flat(10)
        w = DagWidget(s)
        try:
            assert w.graph["mode"] == "full"
            assert len(s._subscribers._watchers) == 1
            # on the loop, as in a kernel: structure changes are coalesced
            for i in range(N):
                Job(noop, label=f"more {i}", scheduler=s)
            await asyncio.sleep(UPDATE_INTERVAL * 2)
            assert w.graph["mode"] == "list"
            assert w.graph["jobs"]["id"] == []
            assert s._subscribers._watchers == []
            s.keep_only(jobs)
            await asyncio.sleep(UPDATE_INTERVAL * 2)
            assert w.graph["mode"] == "full"
            assert len(w.graph["jobs"]["id"]) == 10
            assert len(s._subscribers._watchers) == 1
        finally:
            w.close()
        # closed: the scheduler has no subscription left
        assert not s._subscribers

    arun(main)


def test_nested_jobs_are_listed_with_their_scheduler() -> None:
    s = Scheduler(label="top", view=False)
    inner = Scheduler(label="inner", scheduler=s, view=False)
    a = Job(noop, label="a", scheduler=inner)
    b = Job(noop, label="b", scheduler=s, required=inner)
    got = answer(s, Query(filter="all"), 0.0)
    assert [(r[0], r[1], r[6]) for r in got["rows"]] == [
        (inner.id, "inner", None),
        (a.id, "a", inner.id),
        (b.id, "b", None),
    ]
    # a long label is cut
    Job(noop, label="x" * 1000, scheduler=s)
    longest = max(len(r[1]) for r in answer(s, Query(filter="all"), 0.0)["rows"])
    assert longest == 300


def test_a_collapsed_run_sends_its_nodes_states_and_counts_per_scheduler(
    arun: Callable[..., Any], comms: list[RecordingComm]
) -> None:
    async def main() -> None:
        gate, started = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            started.set()
            await gate.wait()

        s = Scheduler(label="nested", view=False)
        parts = []
        for p in range(3):
            part = Scheduler(label=f"part {p}", scheduler=s, view=False)
            for i in range(BIG_GRAPH // 2):
                Job(noop, label=f"p{p}-{i}", scheduler=part)
            parts.append(part)
        held = Job(hold, label="held", scheduler=parts[2])
        parts[1].requires(parts[0])
        parts[2].requires(parts[1])  # held starts once the others are done
        w = DagWidget(s)
        c = rec(w)
        assert w.graph["mode"] == "collapsed"
        run = asyncio.create_task(s.co_run())
        await started.wait()
        await asyncio.sleep(UPDATE_INTERVAL * 3)
        deltas = c.custom("delta")
        # the nested jobs' states never go out one by one: only the drawn nodes'
        sent = {row[0] for d in deltas for row in d["jobs"]}
        assert sent <= {p.id for p in parts}
        groups = deltas[-1]["stats"]["groups"]
        assert groups[str(parts[0].id)] == {"succeeded": BIG_GRAPH // 2}
        assert groups[str(parts[2].id)] == {"succeeded": BIG_GRAPH // 2, "running": 1}
        latest = {row[0]: row[1] for d in deltas for row in d["jobs"]}
        assert latest == {
            parts[0].id: "succeeded",
            parts[1].id: "succeeded",
            parts[2].id: "running",
        }
        # the list asks: the running job and its neighbours
        request(w, {"type": "query", "id": 1, "filter": "attention"})
        rows = last(c, "rows")["rows"]
        assert [(r[0], r[2], r[6]) for r in rows] == [
            (parts[1].id, "succeeded", None),
            (parts[2].id, "running", None),
            (held.id, "running", parts[2].id),
        ]
        gate.set()
        assert await run is True
        snap = w.snapshot
        assert [r[:2] for r in snap["jobs"]] == [[p.id, "succeeded"] for p in parts]
        assert snap["stats"]["groups"][str(parts[2].id)] == {"succeeded": BIG_GRAPH // 2 + 1}
        # output still pending at the run's end goes out in a delta after the snapshot;
        # its counts keep the groups (the collapsed nodes would show 0/0 otherwise)
        w._output.add(held.id, "stdout", "late\n")
        w._flush(["run"])
        tail = last(c, "delta")
        assert tail["output"] == [[held.id, "stdout", "late\n"]]
        assert tail["stats"]["groups"] == snap["stats"]["groups"]
        assert all("groups" in d["stats"] for d in c.custom("delta"))
        w.close()

    arun(main)
