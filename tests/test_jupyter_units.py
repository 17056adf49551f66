"""The Jupyter glue's pieces that need no kernel: the status table, the mime bundle, the
cell rewrite of ``%%orchestrate``, the Interrupt guard, and run() in a foreign loop."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbjobs import Job, RunningLoopError, Scheduler, Status
from nbjobs._engine.nested import INTERRUPTED, interrupt_cancels, run_in_running_loop
from nbjobs._jupyter.display import mimebundle
from nbjobs._jupyter.magic import transform_cell
from nbjobs._views.table import (
    MAX_ROWS,
    _walk,
    rows,
    snapshot,
    table_html,
    table_text,
)

Arun = Callable[[Callable[[], Awaitable[Any]]], Any]


async def _sleep(seconds: float, value: Any = None) -> Any:
    await asyncio.sleep(seconds)
    return value


async def _boom() -> None:
    print("about to fail")
    raise RuntimeError("<boom> & co")


def test_table_of_a_finished_run(arun: Arun) -> None:
    ok = Job(_sleep, 0.001, 1, label="fine")
    bad = Job(_boom, label="bad <job>", critical=False)
    s = Scheduler(ok, bad, label="demo", view=False)
    assert arun(s.co_run) is True
    text = table_text(s)
    lines = text.splitlines()
    assert lines[0].startswith("Scheduler 'demo' · FINE · 1 succeeded, 1 failed (2 jobs) · ")
    assert lines[1].split() == ["job", "state", "elapsed", "note"]
    assert lines[2].split()[:2] == ["fine", "succeeded"]
    assert lines[3].split()[:3] == ["bad", "<job>", "failed"]
    assert lines[3].endswith("RuntimeError: <boom> & co · about to fail")
    assert "── bad <job> (failed) ──\nabout to fail\nTraceback (most recent call last):" in text
    html = table_html(s)
    assert "<boom>" not in html and "bad <job>" not in html
    assert "&lt;boom&gt; &amp; co" in html and "bad &lt;job&gt;" in html
    assert '<details open data-job-id="' in html  # a failure's traceback shows unfolded


def test_table_keeps_the_rows_that_need_attention(arun: Arun) -> None:
    jobs = [Job(_sleep, 0, i, label=f"j{i}") for i in range(MAX_ROWS + 10)]
    failing = Job(_boom, label="the-failure", critical=False)
    s = Scheduler(*jobs, failing, view=False)
    arun(s.co_run)
    text = table_text(s, full=False)
    assert "the-failure" in text
    assert "… 11 more job(s) not shown" in text
    shown = [line for line in text.splitlines()[2:] if line.startswith(("  j", "  the-failure"))]
    assert len(shown) == MAX_ROWS


def test_nested_schedulers_are_indented(arun: Arun) -> None:
    inner = Scheduler(Job(_sleep, 0, label="leaf"), label="inner")
    s = Scheduler(inner, view=False)
    arun(s.co_run)
    rows = table_text(s).splitlines()[2:4]
    assert rows[0].split()[:3] == ["inner", "succeeded", rows[0].split()[2]]
    assert rows[1].startswith("    leaf")


def test_mimebundle_include_exclude() -> None:
    s = Scheduler(Job(_sleep, 0, label="x"), view=False)
    bundle = mimebundle(s)
    assert set(bundle) == {"text/plain", "text/html"}
    assert set(mimebundle(s, include=["text/plain"])) == {"text/plain"}
    assert set(mimebundle(s, exclude=["text/plain"])) == {"text/html"}
    assert bundle["text/plain"].startswith("Scheduler")
    assert "not run" in bundle["text/plain"]


def test_transform_rewrites_an_orchestrate_cell_into_an_await() -> None:
    lines = ["%%orchestrate --window 2\n", "a = f(1)\n", "b = f(2)"]
    out = transform_cell(lines)
    assert len(out) == len(lines) + 1  # same line numbers for the body
    assert out[0].startswith("__nbjobs_orchestrate__ = __import__('nbjobs._jupyter.magic'")
    assert out[0].endswith(".begin('--window 2')\n")
    assert out[1:3] == ["a = f(1)\n", "b = f(2)\n"]
    assert out[3] == "await __nbjobs_orchestrate__.finish()\n"


@pytest.mark.parametrize(
    "first",
    ["%%orchestrate?\n", "%%orchestrate??\n", "%%orchestrated\n", "%%time\n", "x = 1\n"],
)
def test_transform_leaves_other_cells_alone(first: str) -> None:
    lines = [first, "a = 1\n"]
    assert transform_cell(lines) == lines


def test_run_in_a_running_loop_outside_a_kernel_is_refused_before_making_the_coroutine(
    arun: Arun,
) -> None:
    made = []

    def make() -> Any:
        made.append(1)
        return _sleep(0)

    async def main() -> None:
        with pytest.raises(RunningLoopError, match=r"await s\.co_run\(\)"):
            run_in_running_loop(make)

    arun(main)
    assert made == []


def test_interrupt_guard_cancels_the_task_with_the_reason_and_restores_the_handler(
    arun: Arun,
) -> None:
    before = signal.getsignal(signal.SIGINT)

    async def main() -> str:
        task = asyncio.ensure_future(asyncio.sleep(30))
        with interrupt_cancels(task) as state:
            os.kill(os.getpid(), signal.SIGINT)
            try:
                await task
            except asyncio.CancelledError as exc:
                assert state.interrupted
                return str(exc.args[0])
        return "not cancelled"

    assert arun(main) == INTERRUPTED
    assert signal.getsignal(signal.SIGINT) is before


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 30), min_size=1, max_size=4),
    statuses=st.lists(st.sampled_from(list(Status)), min_size=1, max_size=120),
    max_rows=st.integers(1, 25),
)
def test_table_rows_taken_from_counts_match_a_full_ranking(
    sizes: list[int], statuses: list[Status], max_rows: int
) -> None:
    """The table finds its rows from the schedulers' counts when one state fills them;
    whatever the states, it shows the rows a ranking of every job gives."""
    s = Scheduler(view=False)
    for k, size in enumerate(sizes):
        holder = s if k == 0 else Scheduler(label=f"n{k}", scheduler=s, view=False)
        for i in range(size):
            Job(_sleep, 0, label=f"j{k}-{i}", scheduler=holder)
    for index, (job, _) in enumerate(_walk(s.jobs, 0)):
        job._set_status(statuses[index % len(statuses)], None)
    got = snapshot(s, full=False, max_rows=max_rows)
    expected, hidden = rows(s, max_rows, list(_walk(s.jobs, 0)))
    assert [r.job for r in got.rows] == [r.job for r in expected]
    assert got.hidden == hidden
