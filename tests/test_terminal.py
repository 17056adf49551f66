"""The terminal views, in process: plain lines, the live view's screen, its redraw rate."""

from __future__ import annotations

import asyncio
import datetime
import io
import itertools
import re
from typing import Any

import pytest
from rich.console import Console

from nbjobs import Job, Scheduler, Status
from nbjobs._views.terminal import (
    ASCII_SYMBOLS,
    LiveView,
    PlainView,
    attach,
    last_output_line,
)
from tests.conftest import run_checked

STAMP = r"\d\d:\d\d:\d\d\.\d{3}"


async def ok(seconds: float = 0.0, say: str | None = None) -> str:
    if say is not None:
        print(say)
    await asyncio.sleep(seconds)
    return "ok"


async def boom(seconds: float = 0.0) -> None:
    await asyncio.sleep(seconds)
    raise ValueError("boom")


async def forever() -> None:
    await asyncio.Event().wait()


def scenario() -> tuple[Scheduler, dict[str, Job]]:
    """A bit of everything: success, non-critical failure, forever, nested scheduler."""
    jobs = {
        "first": Job(ok, 0.01, "hello from first", label="first"),
        "flaky": Job(boom, 0.005, label="flaky", critical=False),
        "ticker": Job(forever, label="ticker", forever=True),
        "inner-a": Job(ok, 0.005, label="inner-a"),
        "inner-b": Job(ok, 0.0, "inner says hi", label="inner-b"),
    }
    jobs["inner-b"].requires(jobs["inner-a"])
    inner = Scheduler(jobs["inner-a"], jobs["inner-b"], label="inner")
    inner.requires(jobs["first"])
    top = Scheduler(jobs["first"], jobs["flaky"], jobs["ticker"], inner, label="top")
    return top, jobs


def screen(view: LiveView) -> str:
    """What the live view shows now, as plain text."""
    console = Console(
        file=io.StringIO(), width=view.console.width, color_system=None, legacy_windows=False
    )
    console.print(view.render(), crop=True, overflow="crop")
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return out


def live_console(height: int = 40, width: int = 100, encoding: str = "utf-8") -> Console:
    class File(io.StringIO):
        @property
        def encoding(self) -> str:  # type: ignore[override]
            return encoding

    return Console(file=File(), width=width, height=height, force_terminal=True, color_system=None)


def run_with(scheduler: Scheduler, view: Any) -> bool:
    async def main() -> bool:
        view.start()
        try:
            return bool(await scheduler.co_run())
        finally:
            view.stop()

    result = run_checked(main)
    assert isinstance(result, bool)
    return result


# ---------------------------------------------------------------------------------------
# plain lines
# ---------------------------------------------------------------------------------------
def test_plain_view_prints_one_timestamped_line_per_start_and_end() -> None:
    top, _ = scenario()
    out = io.StringIO()
    assert run_with(top, PlainView(top, out)) is True
    lines = out.getvalue().splitlines()
    assert all(re.match(STAMP + " ", line) for line in lines), lines
    body = [line[13:] for line in lines]
    assert body[0] == "start      [top]"
    assert re.fullmatch(r"finish     \[top\]  \d+\.\d\ds  FINE", body[-1])
    # each job: one start line, one end line, in that order
    for name in ("first", "flaky", "ticker", "inner/inner-a", "inner/inner-b"):
        started = body.index(f"running    {name}")
        ended = [i for i, line in enumerate(body) if re.match(rf"\w+ +{name}  ", line)]
        assert len(ended) == 1 and started < ended[0], (name, body)
    assert any(re.fullmatch(r"succeeded  first  0\.0\ds", line) for line in body), body
    assert any(
        re.fullmatch(r"failed     flaky  0\.0\ds  ValueError: boom  \(non-critical\)", line)
        for line in body
    ), body
    assert any(
        re.fullmatch(
            r"cancelled  ticker  0\.\d\ds  \(forever job stopped at the end of the run\)", line
        )
        for line in body
    ), body
    # the nested scheduler's run shows as a start and a finish of its own
    assert body.index("start      [inner]") < body.index("running    inner/inner-a")
    # a job's own output is not repeated, and waiting for a slot is not a line
    assert not any("hello from first" in line for line in body)


def test_plain_view_lines_are_not_recorded_as_the_jobs_output() -> None:
    top, jobs = scenario()
    out = io.StringIO()
    run_with(top, PlainView(top, out))
    # The lines are written while each job's task runs; they must not leak into it.
    assert jobs["first"].output.text() == "hello from first\n"
    assert jobs["inner-a"].output.text() == ""


def test_plain_view_uses_the_injected_clock_for_its_stamps() -> None:
    job = Job(ok, label="only")
    s = Scheduler(job, label="s")
    out = io.StringIO()
    fixed = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456)
    run_with(s, PlainView(s, out, now=lambda: fixed))
    assert out.getvalue().splitlines()[1] == "07:08:09.123 running    only"


def test_plain_view_stops_quietly_when_its_pipe_is_closed() -> None:
    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError("reader went away")

    job = Job(ok, label="only")
    s = Scheduler(job)
    assert run_with(s, PlainView(s, Closed())) is True
    assert job.status is Status.SUCCEEDED


def test_attach_picks_plain_lines_when_the_file_is_not_a_terminal() -> None:
    job = Job(ok, label="only")
    s = Scheduler(job, label="s")
    out = io.StringIO()

    async def main() -> bool:
        detach = attach(s, file=out)
        assert detach is not None
        try:
            return bool(await s.co_run())
        finally:
            detach()

    assert run_checked(main) is True
    assert re.search(STAMP + r" succeeded  only  0\.00s\n", out.getvalue())
    assert "\x1b[" not in out.getvalue()


def test_attach_rejects_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="mode must be 'auto', 'live' or 'plain', got 'fancy'"):
        attach(Scheduler(), mode="fancy")  # type: ignore[arg-type]


def test_attach_returns_none_without_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", None)
    assert attach(Scheduler()) is None


# ---------------------------------------------------------------------------------------
# live view
# ---------------------------------------------------------------------------------------
def test_live_view_final_screen_lists_every_job_grouped_by_scheduler() -> None:
    top, _ = scenario()
    view = LiveView(top, live_console())
    assert run_with(top, view) is True
    text = screen(view)
    lines = text.splitlines()
    assert re.match(r"top .*━.* 4/4  \d+\.\d+s$", lines[0]), lines[0]
    assert lines[1] == "✘ 1 failed  ⊘ 1 cancelled  ✔ 3 succeeded"
    rows = [" ".join(line.split()) for line in lines[2:]]
    # topological order; the nested scheduler's jobs under its header, indented
    assert re.fullmatch(r"✔ first \d\.\d\ds hello from first", rows[0])
    assert re.fullmatch(r"✘ flaky \d\.\d\ds ValueError: boom \(non-critical\)", rows[1])
    assert re.fullmatch(r"⊘ ticker ∞ \d\.\d\ds forever job stopped at the end of the run", rows[2])
    assert re.fullmatch(r"▼ inner \d\.\d\ds 2/2", rows[3])
    assert lines[5].startswith("▼ inner")
    assert lines[6].startswith("  ✔ inner-a")
    assert re.fullmatch(r"✔ inner-b \d\.\d\ds inner says hi", rows[5])
    assert lines[7].startswith("  ✔ inner-b")
    assert len(rows) == 6


def test_live_view_shows_running_jobs_with_elapsed_time_and_last_output() -> None:
    seen: dict[str, str] = {}
    now = [100.0]
    view: LiveView

    async def watched() -> None:
        print("step 1")
        print("progress 10%\rprogress 55%", end="")
        await asyncio.sleep(0)
        now[0] = job.start_time + 2.5 if job.start_time is not None else 0.0
        seen["screen"] = screen(view)

    job = Job(watched, label="watched")
    waiting = Job(ok, label="queued")
    s = Scheduler(job, waiting, jobs_window=1, label="s")
    view = LiveView(s, live_console(), clock=lambda: now[0])
    run_with(s, view)
    rows = [" ".join(line.split()) for line in seen["screen"].splitlines()]
    assert rows[1] == "▶ 1 running ◷ 1 waiting"
    # the spinner's frame, the label, the elapsed time from the injected clock, and the
    # last line as a terminal shows it (after the last carriage return)
    assert re.fullmatch(r"[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] watched 2\.50s progress 55%", rows[2]), rows[2]
    assert rows[3] == "◷ queued"


def test_live_view_redraws_at_a_bounded_rate_whatever_the_number_of_events() -> None:
    jobs = [Job(ok, 0.001, label=f"j{i}") for i in range(300)]
    for before, after in itertools.pairwise(jobs):
        after.requires(before)
    s = Scheduler(*jobs, label="chain")
    view = LiveView(s, live_console(height=20), refresh_per_second=20)
    events = 0

    def count(_: Any) -> None:
        nonlocal events
        events += 1

    s.subscribe(count)
    loop_time: list[float] = []

    async def main() -> bool:
        loop = asyncio.get_running_loop()
        view.start()
        begin = loop.time()
        try:
            return bool(await s.co_run())
        finally:
            loop_time.append(loop.time() - begin)
            view.stop()

    assert run_checked(main) is True
    assert events >= 600  # at least a start and an end per job
    # one draw at start, one per tick at most, one at the end
    assert view.frames <= loop_time[0] * 20 + 3, (view.frames, loop_time[0])


def test_live_view_keeps_jobs_that_need_attention_when_the_screen_is_full() -> None:
    seen: list[str] = []
    view: LiveView

    async def look() -> None:
        await asyncio.sleep(0)
        seen.append(screen(view))

    jobs: list[Job] = [Job(ok, label=f"easy{i}") for i in range(200)]
    bad = Job(boom, label="the bad one", critical=False)
    watcher = Job(look, label="watcher")
    for job in jobs:
        watcher.requires(job)
    watcher.requires(bad)
    inner = Scheduler(*[Job(ok, label=f"deep{i}") for i in range(50)], label="inner")
    s = Scheduler(*jobs, bad, watcher, inner, label="big")
    view = LiveView(s, live_console(height=15))
    run_with(s, view)
    lines = seen[0].splitlines()
    assert len(lines) <= 15
    text = "\n".join(" ".join(line.split()) for line in lines)
    assert "✘ the bad one" in text
    assert re.search(r"[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] watcher", text)
    assert "▼ inner" in text
    # what did not fit is counted, per scheduler
    assert "… 200 more: ✔ 200" in text
    assert "… 50 more: ✔ 50" in text
    final = screen(view)
    assert len(final.splitlines()) <= 15
    assert "✘ the bad one" in final


def test_live_view_flat_list_when_too_many_nested_schedulers() -> None:
    inners = [Scheduler(Job(ok, label=f"leaf{i}"), label=f"group{i}") for i in range(30)]
    bad = Job(boom, label="bad", critical=False)
    inners[7].add(bad)
    s = Scheduler(*inners, label="many")
    view = LiveView(s, live_console(height=12))
    run_with(s, view)
    text = screen(view)
    assert len(text.splitlines()) <= 12
    # one line per notable job, named by its path, and the rest counted
    assert "✘ group7/bad" in text
    assert "… 30 more: ✔ 30" in text


def test_live_view_falls_back_to_ascii_on_a_terminal_that_cannot_show_symbols() -> None:
    top, _ = scenario()
    console = live_console(encoding="ascii")
    view = LiveView(top, console)
    run_with(top, view)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    text.encode("ascii")  # nothing else, escape codes included
    assert f"{ASCII_SYMBOLS[Status.FAILED]} flaky" in text
    assert "ticker (forever)" in text
    assert "v inner" in text


def test_live_view_leaves_the_final_frame_and_never_records_into_jobs() -> None:
    top, jobs = scenario()
    console = live_console()
    view = LiveView(top, console)
    assert run_with(top, view) is True
    written = console.file.getvalue()  # type: ignore[attr-defined]
    assert "✘ flaky" in written.rsplit("\x1b[2K", 1)[-1]
    assert jobs["first"].output.text() == "hello from first\n"


def test_live_view_follows_structure_changes() -> None:
    s = Scheduler(Job(ok, label="first"), label="s")
    view = LiveView(s, live_console())
    view.start()
    try:
        assert "added later" not in screen(view)
        s.add(Job(ok, label="added later"))
        assert "· added later" in screen(view)
    finally:
        view.stop()


def test_live_view_rejects_a_non_positive_rate() -> None:
    with pytest.raises(ValueError, match="refresh_per_second must be > 0, got 0"):
        LiveView(Scheduler(), live_console(), refresh_per_second=0)


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def _job_with_output(*chunks: str) -> Job:
    job = Job(ok)
    for chunk in chunks:
        job.output.append("stdout", chunk)
    return job


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (("one\ntwo\n",), "two"),
        (("one\n", "two\n\n   \n"), "two"),
        (("downloading 10%\rdownloading 90%",), "downloading 90%"),
        (("partial line without newline",), "partial line without newline"),
        (("done\r\n",), "done"),
        ((), ""),
    ],
)
def test_last_output_line_is_what_a_terminal_would_show(
    chunks: tuple[str, ...], expected: str
) -> None:
    job = _job_with_output(*chunks)
    assert last_output_line(job) == expected
