"""The widget's kernel side: structure, coalesced deltas, requests from the page, fallbacks.

A recording comm stands for the front-end: it keeps every message the widget sends, and
requests from the page are fed to the widget's message handler as the comm would.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable, Iterator
from typing import Any
from xml.etree import ElementTree

import comm
import pytest
from comm.base_comm import BaseComm

import nbjobs
from nbjobs import Job, Scheduler, Status
from nbjobs._views.dot import render_svg
from nbjobs._views.format import cut_label
from nbjobs._widget import runtime as widget_runtime_module
from nbjobs._widget import widget as widget_module
from nbjobs._widget.widget import (
    BIG_GRAPH,
    DELTA_OUTPUT_MAX,
    LABEL_MAX,
    RESULT_MAX,
    UPDATE_INTERVAL,
    DagWidget,
    graph_columns,
)
from tests.browser.support import ensure_bundle

XSS = "<img src=x onerror=alert(1)>"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class RecordingComm(BaseComm):  # type: ignore[misc]
    """A comm that keeps what it would send to the front-end, with the time it was sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sent: list[tuple[float, str, dict[str, Any]]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: Any = None,
        metadata: Any = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        self.sent.append((time.monotonic(), msg_type, data or {}))

    # ---- reading what was sent ----------------------------------------------------------
    def custom(self, kind: str | None = None) -> list[dict[str, Any]]:
        out = []
        for _, msg_type, data in self.sent:
            if msg_type == "comm_msg" and data.get("method") == "custom":
                content = data["content"]
                if kind is None or content.get("type") == kind:
                    out.append(content)
        return out

    def custom_times(self, kind: str) -> list[float]:
        return [
            t
            for t, msg_type, data in self.sent
            if msg_type == "comm_msg"
            and data.get("method") == "custom"
            and data["content"].get("type") == kind
        ]

    def updates(self) -> list[dict[str, Any]]:
        return [
            data["state"]
            for _, msg_type, data in self.sent
            if msg_type == "comm_msg" and data.get("method") == "update"
        ]


@pytest.fixture(scope="module", autouse=True)
def _bundle() -> None:
    ensure_bundle()


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[RecordingComm]]:
    """Every comm a widget opens in the test; the test fails if one is left open."""
    created: list[RecordingComm] = []

    def create(*args: Any, **kwargs: Any) -> RecordingComm:
        c = RecordingComm(*args, **kwargs)
        created.append(c)
        return c

    monkeypatch.setattr(comm, "create_comm", create)
    # each test gets its own runtime model (the view's code, one per kernel), closed at
    # its end like the widgets
    monkeypatch.setattr(widget_runtime_module, "_runtime", None)
    yield created
    runtime = widget_runtime_module._runtime
    if runtime is not None:
        runtime.close()
    left = [c for c in created if not c._closed]
    for c in left:
        c.close()
    assert not left, f"{len(left)} widget comm(s) left open: close() the widgets"


def request(w: DagWidget, content: dict[str, Any]) -> None:
    """Deliver a message from the page, as the comm does."""
    w._handle_msg(
        {
            "content": {"comm_id": w.model_id, "data": {"method": "custom", "content": content}},
            "buffers": [],
        }
    )


def rec(w: DagWidget) -> RecordingComm:
    assert isinstance(w.comm, RecordingComm)
    return w.comm


async def noop(value: Any = None) -> Any:
    await asyncio.sleep(0)
    return value


async def hold(started: asyncio.Event) -> None:
    """Say it started, then run until cancelled."""
    started.set()
    await asyncio.Event().wait()


def demo() -> tuple[Scheduler, dict[str, nbjobs.AbstractJob]]:
    s = Scheduler(label="demo", view=False)
    a = Job(noop, 1, label=XSS, scheduler=s)
    inner = Scheduler(label="inner", scheduler=s, required=a, view=False)
    b = Job(noop, 2, label="b", scheduler=inner)
    c = Job(noop, 3, label="c", scheduler=inner, required=b)
    d = Job(noop, 4, label="d", scheduler=s, required=inner)
    return s, {"a": a, "inner": inner, "b": b, "c": c, "d": d}


# ---- structure ------------------------------------------------------------------------
def test_graph_names_nodes_by_job_id_and_draws_nested_schedulers_as_clusters(
    comms: list[RecordingComm],
) -> None:
    s, j = demo()
    w = DagWidget(s)
    try:
        spec = w.graph
        assert spec["mode"] == "full"
        assert spec["leaves"] == 4
        assert spec["label"] == "demo"
        # the page receives the jobs column by column
        cols = spec["jobs"]
        assert cols["id"] == [j[k].id for k in ("a", "inner", "b", "c", "d")]
        at = {job_id: i for i, job_id in enumerate(cols["id"])}
        assert cols["parent"][at[j["b"].id]] == j["inner"].id
        assert cols["parent"][at[j["a"].id]] is None
        assert cols["scheduler"][at[j["inner"].id]] == 1
        assert cols["requires"][at[j["c"].id]] == [j["b"].id]
        dot = spec["dot"]
        for k in ("a", "b", "c", "d"):
            assert f"j{j[k].id} [label=" in dot
        assert f"subgraph cluster_j{j['inner'].id} {{" in dot
        # edges into and out of a cluster attach to a job inside and are clipped at it
        assert f"j{j['a'].id} -> j{j['b'].id} [lhead=cluster_j{j['inner'].id}]\n" in dot
        assert f"j{j['c'].id} -> j{j['d'].id} [ltail=cluster_j{j['inner'].id}]\n" in dot
    finally:
        w.close()


def test_dot_labels_are_literal_whatever_they_contain(
    comms: list[RecordingComm], renderer: str
) -> None:
    """Quotes, backslashes (\\N is Graphviz's node-name escape), braces and markup in a
    label neither break the DOT text nor change what Graphviz measures (by Graphviz's dot,
    and by the build that nbjobs runs in process where dot is missing)."""
    labels = [XSS, 'say "hi" \\N \\n }', "two\nlines\there", "x" * 100, "é ü 漢字 🙂"]
    s = Scheduler(view=False)
    jobs = [Job(noop, label=label, scheduler=s) for label in labels]
    spec = graph_columns(s)
    # drawn as nbjobs draws (Graphviz's JSON output escapes backslashes differently
    # from one version to another; the text in the SVG is what was measured and drawn)
    root = ElementTree.fromstring(render_svg(spec["dot"]))
    svg = "{http://www.w3.org/2000/svg}"
    nodes = {g.findtext(f"{svg}title"): g for g in root.iter(f"{svg}g") if g.get("class") == "node"}
    for job, label in zip(jobs, labels, strict=True):
        texts = [t.text for t in nodes[f"j{job.id}"].iter(f"{svg}text")]
        assert texts == [cut_label(label, LABEL_MAX)]
    assert cut_label("x" * 100, LABEL_MAX) == "x" * (LABEL_MAX - 1) + "…"
    assert cut_label("two\nlines\there", LABEL_MAX) == "two lines here"


def test_big_graph_collapses_nested_schedulers_into_single_nodes(
    comms: list[RecordingComm],
) -> None:
    s = Scheduler(label="big", view=False)
    per = BIG_GRAPH // 3 + 1
    nested = []
    for k in range(4):
        inner = Scheduler(label=f"part {k}", scheduler=s, view=False)
        for i in range(per):
            Job(noop, label=f"p{k}-{i}", scheduler=inner)
        nested.append(inner)
    nested[1].requires(nested[0])
    spec = graph_columns(s)
    assert spec["mode"] == "collapsed"
    assert spec["leaves"] == 4 * per
    assert "subgraph" not in spec["dot"]
    node_lines = [line for line in spec["dot"].splitlines() if "[label=" in line]
    assert [line.split()[0] for line in node_lines] == [f"j{n.id}" for n in nested]
    assert f"j{nested[0].id} -> j{nested[1].id}\n" in spec["dot"]
    # only the nodes drawn are described: the page asks for the rows it lists, and the
    # kernel counts the jobs inside each collapsed scheduler
    assert spec["jobs"]["id"] == [n.id for n in nested]
    w = DagWidget(s)
    try:
        groups = w.snapshot["stats"]["groups"]
        assert groups == {str(n.id): {"idle": per} for n in nested}
        assert [row[0] for row in w.snapshot["jobs"]] == [n.id for n in nested]
    finally:
        w.close()


def test_huge_flat_graph_is_not_laid_out(comms: list[RecordingComm]) -> None:
    s = Scheduler(view=False)
    for i in range(BIG_GRAPH + 1):
        Job(noop, label=f"j{i}", scheduler=s)
    spec = graph_columns(s)
    assert spec["mode"] == "list"
    assert spec["dot"] == ""
    assert spec["leaves"] == BIG_GRAPH + 1


def test_structure_change_resends_graph_and_snapshot(comms: list[RecordingComm]) -> None:
    s, j = demo()
    w = DagWidget(s)
    try:
        seq = w.snapshot["seq"]
        extra = Job(noop, label="late", scheduler=s, required=j["d"])
        assert extra.id in w.graph["jobs"]["id"]
        assert f"j{extra.id} [label=" in w.graph["dot"]
        assert w.snapshot["seq"] == seq + 1
        assert [extra.id, "idle", None, None, None] in w.snapshot["jobs"]
        # both traits went out in one message
        last = rec(w).updates()[-1]
        assert set(last) == {"graph_json", "snapshot_json"}
    finally:
        w.close()


# ---- deltas ---------------------------------------------------------------------------
def test_deltas_are_coalesced_and_end_with_the_final_state(
    arun: Callable[..., Any], comms: list[RecordingComm]
) -> None:
    n = 150

    async def main() -> None:
        s = Scheduler(label="many", view=False)
        for i in range(n):
            Job(asyncio.sleep, 0.3 * i / n, label=f"job {i}", scheduler=s)
        w = DagWidget(s)
        c = rec(w)
        t0 = time.monotonic()
        assert await s.co_run() is True
        elapsed = time.monotonic() - t0
        deltas = c.custom("delta")
        # each job changes state twice (running, succeeded): ~300 events, a few messages
        assert 2 <= len(deltas) <= math.ceil(elapsed / UPDATE_INTERVAL) + 2
        assert [d["seq"] for d in deltas] == list(range(1, len(deltas) + 1))
        times = c.custom_times("delta")
        gaps = [b - a for a, b in itertools.pairwise(times[:-1])]
        # the last one is sent at once when the run ends; the others keep the interval
        assert all(gap >= UPDATE_INTERVAL * 0.9 for gap in gaps), gaps
        rows_sent = sum(len(d["jobs"]) for d in deltas)
        # the end of the run goes out once, as the snapshot trait (which a notebook saves),
        # next in sequence after the deltas: not as a last delta repeating its rows
        snap = w.snapshot
        assert snap["seq"] == deltas[-1]["seq"] + 1
        assert {row[0]: row[1] for row in snap["jobs"]} == {job.id: "succeeded" for job in s.jobs}
        assert snap["stats"]["finished"] is True
        assert snap["stats"]["counts"]["succeeded"] == n
        assert snap["stats"]["outcome"] == "success"
        # each job changed twice; the deltas carried each at most once per message, and
        # not the jobs whose last change only the snapshot holds
        assert rows_sent < 2 * n
        w.close()

    arun(main)


def test_a_delta_carries_only_the_jobs_that_changed(
    arun: Callable[..., Any], comms: list[RecordingComm]
) -> None:
    async def main() -> None:
        gate, started = asyncio.Event(), asyncio.Event()

        async def wait_gate() -> str:
            started.set()
            await gate.wait()
            return "through"

        s = Scheduler(view=False)
        first = Job(wait_gate, label="first", scheduler=s)
        second = Job(noop, label="second", scheduler=s, required=first)
        w = DagWidget(s)
        c = rec(w)
        run = asyncio.create_task(s.co_run())
        await started.wait()
        await asyncio.sleep(UPDATE_INTERVAL * 2)
        delta = c.custom("delta")[-1]
        assert [row[:2] for row in delta["jobs"]] == [[first.id, "running"]]
        assert delta["stats"]["started"] is True
        assert delta["stats"]["running"] == 1
        row = delta["jobs"][0]
        # loop-clock times, as microseconds after the widget's origin
        assert first.start_time is not None
        assert row[3] == int((first.start_time - w._origin) * 1_000_000)
        assert row[2] <= row[3]
        assert row[4] is None
        gate.set()
        assert await run is True
        later = [r[:2] for d in c.custom("delta")[1:] for r in d["jobs"]]
        # the last change of the run is in the final snapshot, not in a delta
        assert later == [[first.id, "succeeded"], [second.id, "running"]]
        assert [r[:2] for r in w.snapshot["jobs"]] == [
            [first.id, "succeeded"],
            [second.id, "succeeded"],
        ]
        w.close()

    arun(main)


def test_hello_is_answered_with_a_full_snapshot(comms: list[RecordingComm]) -> None:
    s, j = demo()
    w = DagWidget(s)
    try:
        request(w, {"type": "hello"})
        (snap,) = rec(w).custom("snapshot")
        assert snap["seq"] == w.snapshot["seq"]
        assert sorted(row[0] for row in snap["jobs"]) == sorted(job.id for job in j.values())
        assert snap["stats"]["total"] == 4
        assert snap["stats"]["started"] is False
    finally:
        w.close()


# ---- requests from the page ------------------------------------------------------------
def test_detail_reports_result_exception_and_traceback(
    arun: Callable[..., Any], comms: list[RecordingComm]
) -> None:
    async def fails() -> None:
        print("about to fail")
        raise ValueError("boom <b>not bold</b>")

    async def big() -> list[int]:
        return list(range(100_000))

    async def main() -> None:
        s = Scheduler(view=False)
        bad = Job(fails, label=XSS, critical=False, scheduler=s)
        good = Job(big, label="big", scheduler=s)
        w = DagWidget(s)
        await s.co_run()
        request(w, {"type": "detail", "id": 7, "job": bad.id})
        request(w, {"type": "detail", "id": 8, "job": good.id})
        d_bad, d_good = rec(w).custom("detail")
        assert (d_bad["id"], d_bad["job"]) == (7, bad.id)
        detail = d_bad["detail"]
        # text travels as it is; the page renders it with textContent
        assert detail["label"] == XSS
        assert detail["state"] == "failed"
        assert detail["exception"] == "ValueError: boom <b>not bold</b>"
        assert "Traceback (most recent call last)" in detail["traceback"]
        assert 'raise ValueError("boom <b>not bold</b>")' in detail["traceback"]
        assert detail["output"] == [["stdout", "about to fail\n"]]
        assert detail["result"] is None
        assert detail["end"] is not None
        detail = d_good["detail"]
        assert detail["state"] == "succeeded"
        assert detail["result"].startswith("[0, 1, 2, ")
        assert len(detail["result"]) <= RESULT_MAX
        assert detail["duration"] == pytest.approx(good.end_time - good.start_time)
        w.close()

    arun(main)


def test_watched_job_output_streams_in_deltas(
    arun: Callable[..., Any], comms: list[RecordingComm]
) -> None:
    async def main() -> None:
        gate, started = asyncio.Event(), asyncio.Event()

        async def talk(name: str) -> None:
            print(f"{name} starts")
            if name == "w":
                started.set()
            await gate.wait()
            for k in range(3):
                print(f"{name} line {k}")
                await asyncio.sleep(0.01)

        s = Scheduler(view=False)
        watched = Job(talk, "w", label="watched", scheduler=s)
        other = Job(talk, "o", label="other", scheduler=s)
        w = DagWidget(s)
        c = rec(w)
        run = asyncio.create_task(s.co_run())
        await started.wait()
        request(w, {"type": "detail", "id": 1, "job": watched.id})
        (answer,) = c.custom("detail")
        assert answer["detail"]["output"] == [["stdout", "w starts\n"]]
        gate.set()
        assert await run is True
        streamed = [
            tuple(row) for d in c.custom("delta") for row in d["output"]
        ]  # (job id, stream, text)
        assert {row[0] for row in streamed} == {watched.id}
        text = "".join(row[2] for row in streamed)
        # only what came after the answer, in order, nothing twice
        assert text == "w line 0\nw line 1\nw line 2\n"
        request(w, {"type": "unwatch", "job": watched.id})
        assert watched.id not in w._watched
        assert other.output.text() == "o starts\no line 0\no line 1\no line 2\n"
        w.close()

    arun(main)


def test_streamed_output_is_bounded_per_message(
    arun: Callable[..., Any], comms: list[RecordingComm]
) -> None:
    async def main() -> None:
        gate, started = asyncio.Event(), asyncio.Event()

        async def flood() -> None:
            started.set()
            await gate.wait()
            for _ in range(300):
                print("x" * 999)  # 1000 characters with the newline

        s = Scheduler(view=False)
        job = Job(flood, label="flood", scheduler=s)
        w = DagWidget(s)
        run = asyncio.create_task(s.co_run())
        await started.wait()
        request(w, {"type": "detail", "id": 1, "job": job.id})
        gate.set()
        await run
        for d in rec(w).custom("delta"):
            size = sum(len(row[2]) for row in d["output"])
            assert size <= DELTA_OUTPUT_MAX + 100
        outputs = [row for d in rec(w).custom("delta") for row in d["output"]]
        assert outputs[-1][1:] == ["log", "[236000 characters of output dropped]\n"]
        w.close()

    arun(main)


def test_cancel_from_the_page_cancels_the_run(
    arun: Callable[..., Any], comms: list[RecordingComm]
) -> None:
    async def main() -> None:
        started = asyncio.Event()
        s = Scheduler(view=False, critical=False)
        long = Job(hold, started, label="long", scheduler=s)
        after = Job(noop, label="after", scheduler=s, required=long)
        w = DagWidget(s)
        run = asyncio.create_task(s.co_run())
        await started.wait()
        request(w, {"type": "cancel", "id": 3})
        assert await asyncio.wait_for(run, 5) is False
        assert rec(w).custom("ack") == [{"type": "ack", "id": 3}]
        assert long.status is Status.CANCELLED
        assert long.cancel_reason == "cancelled from the widget"
        assert after.status is Status.SKIPPED
        assert w.snapshot["stats"]["outcome"] == "cancelled"
        # nothing to cancel any more: the page is told why, in-band
        request(w, {"type": "cancel", "id": 4})
        (error,) = rec(w).custom("error")
        assert error["id"] == 4
        assert "is not running" in error["message"]
        w.close()

    arun(main)


def test_cancel_one_job_from_the_page(arun: Callable[..., Any], comms: list[RecordingComm]) -> None:
    async def main() -> None:
        gate, started = asyncio.Event(), asyncio.Event()
        s = Scheduler(view=False)
        stuck = Job(hold, started, label="stuck", critical=False, scheduler=s)
        fine = Job(gate.wait, label="fine", scheduler=s)
        w = DagWidget(s)
        run = asyncio.create_task(s.co_run())
        await started.wait()
        request(w, {"type": "cancel_job", "id": 5, "job": stuck.id})
        await asyncio.sleep(0.01)
        assert stuck.status is Status.CANCELLED
        assert fine.status is Status.RUNNING
        gate.set()
        assert await asyncio.wait_for(run, 5) is True
        assert rec(w).custom("ack") == [{"type": "ack", "id": 5}]
        request(w, {"type": "cancel_job", "id": 6, "job": fine.id})
        (error,) = rec(w).custom("error")
        assert error["id"] == 6
        assert "cannot cancel 'fine'" in error["message"]
        w.close()

    arun(main)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"type": "detail", "id": 9, "job": 10**9}, "no job with id 1000000000"),
        ({"type": "detail", "id": 9, "job": "1"}, "no job with id '1'"),
        ({"type": "launch", "id": 9}, "unknown request 'launch'"),
    ],
)
def test_bad_requests_get_an_error_with_their_id(
    comms: list[RecordingComm], content: dict[str, Any], message: str
) -> None:
    s, _ = demo()
    w = DagWidget(s)
    try:
        request(w, content)
        (error,) = rec(w).custom("error")
        assert error == {"type": "error", "id": 9, "message": error["message"], "gone": False}
        assert message in error["message"]
    finally:
        w.close()


# ---- display --------------------------------------------------------------------------
def test_fallback_bundle_is_an_escaped_status_table(comms: list[RecordingComm]) -> None:
    s, j = demo()
    w = DagWidget(s)
    try:
        bundle = w._repr_mimebundle_()
        assert bundle is not None
        data, _ = bundle
        assert data[WIDGET_MIME]["model_id"] == w.model_id
        html_text = data["text/html"]
        assert "&lt;img src=x onerror=alert(1)&gt;" in html_text
        assert "<img" not in html_text
        for name in ("b", "c", "d"):
            assert f'data-job-id="{j[name].id}"' in html_text
        assert XSS in data["text/plain"]
        assert "idle" in data["text/plain"]
    finally:
        w.close()


def test_repr_says_what_is_shown(arun: Callable[..., Any], comms: list[RecordingComm]) -> None:
    s, _ = demo()
    w = DagWidget(s)
    assert repr(w) == "<DagWidget of 'demo': 0/4 jobs done, not started>"

    async def main() -> None:
        await s.co_run()

    arun(main)
    assert repr(w) == "<DagWidget of 'demo': 4/4 jobs done, finished>"
    w.close()


def test_closed_widget_stops_following(
    arun: Callable[..., Any], comms: list[RecordingComm]
) -> None:
    s, _ = demo()
    w = DagWidget(s)
    c = rec(w)
    w.close()
    before = len(c.sent)

    async def main() -> None:
        await s.co_run()

    arun(main)
    assert len(c.sent) == before
    assert c._closed


def test_widget_refuses_what_is_not_a_scheduler(comms: list[RecordingComm]) -> None:
    with pytest.raises(TypeError, match=r"DagWidget\(\) takes a scheduler .* got <Job"):
        DagWidget(Job(noop, label="x"))  # type: ignore[arg-type]
    assert comms == []


def test_missing_bundle_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, comms: list[RecordingComm], tmp_path: Any
) -> None:
    monkeypatch.setattr(widget_module, "_BUNDLE", tmp_path / "widget.js")
    s, _ = demo()
    with pytest.raises(FileNotFoundError, match="npm --prefix js ci"):
        DagWidget(s)
    assert comms == []


def test_missing_test_tools_skip_but_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.browser.support import need

    need(True, "never said")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium is missing"):
        need(False, "chromium is missing")
    assert "skipped: chromium is missing" in capsys.readouterr().out
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set and chromium is missing"):
        need(False, "chromium is missing")
