"""Run modes in a real kernel: await co_run(), blocking run(), background start(); the live
view; output attribution; Interrupt in each mode."""

from __future__ import annotations

import time

import pytest

from tests.conftest_kernel import *  # noqa: F403 (the kernel fixtures)
from tests.conftest_kernel import start_kernel
from tests.kernel_utils import Kernel

pytestmark = pytest.mark.kernel

# long enough that only an Interrupt ends them within the test's time
LONG = 30


def test_await_co_run_runs_on_the_kernel_loop_with_a_live_view(clean_kernel: Kernel) -> None:
    cell = clean_kernel.ok(
        "s = Scheduler(Job(work('a')), Job(work('b', 0.1), label='bee'))\n"
        "assert not hasattr(asyncio, '_nest_patched')\n"
        "await s.co_run()"
    )
    assert cell.result == "True"
    [view] = cell.texts()
    lines = view.splitlines()
    assert "FINE" in lines[0] and "2 succeeded" in lines[0]
    assert lines[1].split() == ["job", "state", "elapsed", "note"]
    assert lines[2].split()[:2] == ["work", "succeeded"]
    assert lines[3].split()[:2] == ["bee", "succeeded"]
    assert lines[3].endswith("end b")


def test_blocking_run_in_a_cell_returns_co_runs_value(clean_kernel: Kernel) -> None:
    cell = clean_kernel.ok(
        "b1 = Job(work('first', 0.05, 1000), label='first')\n"
        "b3 = Job(work('last', 0.05, 1500.0), label='last', required=b1)\n"
        "s = Scheduler(b1, b3)\n"
        "s.run()"
    )
    assert cell.result == "True"
    assert "2 succeeded" in cell.text()
    assert clean_kernel.value("b3.result(), b1.is_done()") == "(1500.0, True)"
    # the kernel's loop is still the one running cells afterwards
    assert clean_kernel.ok("await asyncio.sleep(0.01); print('alive')").stdout == "alive\n"


def test_run_with_view_false_shows_no_view(clean_kernel: Kernel) -> None:
    cell = clean_kernel.ok("s = Scheduler(Job(work('quiet'))); s.run(view=False)")
    assert cell.result == "True"
    assert cell.displays == {}


def test_scheduler_view_text_and_display_of_a_scheduler(clean_kernel: Kernel) -> None:
    cell = clean_kernel.ok(
        "s = Scheduler(Job(work('x')), view='text', label='mine')\nawait s.co_run()\ns"
    )
    assert "Scheduler 'mine'" in cell.text()
    # the scheduler as a cell's value is displayed (a live view: here the text table, as
    # text and HTML)
    shown = [
        data
        for data in cell.displays.values()
        if data.get("text/plain", "").startswith("Scheduler 'mine' · FINE")
    ]
    assert shown, cell.displays
    assert "<table>" in shown[-1]["text/html"]


def test_live_view_updates_in_place_at_a_bounded_rate(clean_kernel: Kernel) -> None:
    cell = clean_kernel.ok(
        "jobs = [Job(work(f'j{i}', 0.01 * (i % 7))) for i in range(200)]\n"
        "s = Scheduler(*jobs, jobs_window=20)\n"
        "t0 = time.monotonic(); await s.co_run()\nprint(round(time.monotonic() - t0, 3))"
    )
    elapsed = float(cell.stdout.strip().splitlines()[-1])
    assert len(cell.displays) == 1
    # at most 10 a second, plus the first and the final one
    assert 1 <= cell.updates <= elapsed * 10 + 3, (cell.updates, elapsed)
    [view] = cell.texts()
    assert "200 succeeded" in view
    assert "more job(s) not shown" in view


def test_live_view_changes_while_the_run_goes_on(clean_kernel: Kernel) -> None:
    cell = clean_kernel.ok(
        "s = Scheduler(*[Job(work(f'p{i}', 0.15 * i), label=f'p{i}') for i in range(1, 6)], "
        "view='text')\nawait s.co_run()"
    )
    # jobs end every 0.15 s: the table was redrawn in between, not only at the end
    assert 3 <= cell.updates <= 12, cell.updates
    assert "5 succeeded" in cell.text()


def test_job_output_and_traceback_are_shown_with_their_job(clean_kernel: Kernel) -> None:
    cell = clean_kernel.execute(
        "s = Scheduler(Job(work('ok', 0.02), label='good'), "
        "Job(fail('bad', 0.05), label='broken', critical=False), critical=False)\n"
        "await s.co_run()"
    )
    assert cell.ok, cell.describe()
    assert cell.result == "True"  # a non-critical failure does not fail the run
    view = cell.text()
    good = view.index("── good (succeeded) ──")
    broken = view.index("── broken (failed) ──")
    assert view[good:broken].split("\n")[1:3] == ["start ok", "end ok"]
    tail = view[broken:]
    assert "start bad" in tail
    assert "Traceback (most recent call last)" in tail
    assert "ValueError: bad failed" in tail
    html = next(iter(cell.displays.values()))["text/html"]
    assert "ValueError: bad failed" in html


def test_html_view_escapes_what_jobs_print(clean_kernel: Kernel) -> None:
    cell = clean_kernel.ok(
        "async def shout():\n"
        "    print('<script>alert(1)</script> & <b>')\n"
        "s = Scheduler(Job(shout(), label='<img src=x>'))\nawait s.co_run()"
    )
    html = next(iter(cell.displays.values()))["text/html"]
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;" in html
    assert "&lt;img src=x&gt;" in html


def test_two_schedulers_at_once(clean_kernel: Kernel) -> None:
    cell = clean_kernel.ok(
        "s1 = Scheduler(Job(work('one', 0.1)), label='s1')\n"
        "s2 = Scheduler(Job(work('two', 0.05)), label='s2')\n"
        "await asyncio.gather(s1.co_run(), s2.co_run())"
    )
    assert cell.result == "[True, True]"
    assert len(cell.displays) == 2


# ---------------------------------------------------------------------------- background


def test_background_run_goes_on_across_later_cells(clean_kernel: Kernel) -> None:
    first = clean_kernel.ok(
        "s = Scheduler(Job(work('bg1', 0.4)), Job(work('bg2', 0.5), label='bg2'), label='bg')\n"
        "h = start(s)\nh"
    )
    assert first.elapsed < 0.3
    assert first.result is not None and "running" in first.result
    assert clean_kernel.value("h.done()") == "False"
    # a later cell that blocks the loop does not break it, one that awaits lets it run
    clean_kernel.ok("x = sum(range(1000))")
    assert clean_kernel.ok("r = await h\nprint(r, h.done())").stdout == "True True\n"
    # the view in the first cell was updated in place after that cell had ended
    [key] = first.displays
    clean_kernel.drain(0.2)
    final = clean_kernel.display_updates[key]["text/plain"]
    assert "FINE" in final and "2 succeeded" in final


def test_background_failure_is_reported_in_the_view(clean_kernel: Kernel) -> None:
    first = clean_kernel.ok("s = Scheduler(Job(fail('bf', 0.05), label='bf'))\nh = start(s)")
    cell = clean_kernel.execute("await asyncio.wait([h.task]); print(h)")
    assert "raised ValueError" in cell.stdout
    clean_kernel.drain(0.2)
    [key] = first.displays
    final = clean_kernel.display_updates[key]["text/plain"]
    assert "ValueError: bf failed" in final
    assert "the background run raised ValueError: bf failed" in final
    awaited = clean_kernel.execute("await h")
    assert awaited.error is not None and awaited.error["ename"] == "ValueError"


def test_background_handle_cancel(clean_kernel: Kernel) -> None:
    clean_kernel.ok(f"s = Scheduler(Job(work('c', {LONG}), label='c'))\nh = start(s)")
    cell = clean_kernel.ok(
        "await asyncio.sleep(0.05)\nprint(h.cancel('enough'))\n"
        "await asyncio.wait([h.task])\nprint(h.cancelled(), list(s.jobs)[0].cancel_reason)"
    )
    assert cell.stdout == "True\nTrue enough\n"


def test_start_twice_is_an_error(clean_kernel: Kernel) -> None:
    clean_kernel.ok(f"s = Scheduler(Job(work('t', {LONG})))\nh = start(s)")
    cell = clean_kernel.execute("start(s)")
    assert cell.error is not None and cell.error["ename"] == "AlreadyRunningError"
    clean_kernel.ok("h.cancel(); await asyncio.wait([h.task])")


# ----------------------------------------------------------------------------- interrupt


def _assert_interrupted(kernel: Kernel, cell_latency: float | None) -> None:
    assert cell_latency is not None and cell_latency < 2.0, cell_latency
    out = kernel.ok(
        "print(sorted({j.status.value for j in s.jobs}), sorted({j.cancel_reason for j in s.jobs}))"
    ).stdout
    assert out == "['cancelled'] ['interrupted']\n"
    assert kernel.ok("print(len(leftovers()))").stdout == "0\n"
    # usable afterwards, in every mode
    assert kernel.value("Scheduler(Job(work('after'))).run(view=False)") == "True"


def test_interrupt_await_co_run(clean_kernel: Kernel) -> None:
    cell = clean_kernel.execute(
        f"s = Scheduler(Job(work('i1', {LONG})), Job(work('i2', {LONG})))\nawait s.co_run()",
        interrupt_when="start i2",
        interrupt_after=0.1,
    )
    assert cell.error is not None and cell.error["ename"] == "CancelledError", cell.describe()
    assert cell.error["evalue"] == "interrupted"
    assert "CANCELLED (interrupted)" in cell.text()
    _assert_interrupted(clean_kernel, cell.interrupt_latency)


def test_interrupt_blocking_run(clean_kernel: Kernel) -> None:
    cell = clean_kernel.execute(
        f"s = Scheduler(Job(work('r1', {LONG})), Job(work('r2', {LONG})))\ns.run()",
        interrupt_when="start r2",
        interrupt_after=0.1,
    )
    assert cell.error is not None and cell.error["ename"] == "KeyboardInterrupt", cell.describe()
    assert "CANCELLED (interrupted)" in cell.text()
    _assert_interrupted(clean_kernel, cell.interrupt_latency)


def test_interrupt_blocking_run_from_a_cell_that_also_awaits(clean_kernel: Kernel) -> None:
    cell = clean_kernel.execute(
        f"await asyncio.sleep(0)\ns = Scheduler(Job(work('w1', {LONG})))\ns.run()",
        interrupt_when="start w1",
        interrupt_after=0.1,
    )
    assert cell.error is not None and cell.error["ename"] == "KeyboardInterrupt", cell.describe()
    _assert_interrupted(clean_kernel, cell.interrupt_latency)


def test_interrupt_stops_forever_jobs_and_runs_shutdown_hooks(clean_kernel: Kernel) -> None:
    cell = clean_kernel.execute(
        "closed = []\n"
        "async def tick():\n"
        "    while True:\n"
        "        await asyncio.sleep(0.01)\n"
        "async def bye():\n"
        "    closed.append('bye')\n"
        f"s = Scheduler(Job(tick(), forever=True, coshutdown=bye()), Job(work('f', {LONG})))\n"
        "s.run()",
        interrupt_when="start f",
        interrupt_after=0.1,
    )
    assert cell.error is not None and cell.error["ename"] == "KeyboardInterrupt"
    assert cell.interrupt_latency is not None and cell.interrupt_latency < 2.0
    out = clean_kernel.ok("print(closed, [j.cancel_reason for j in s.jobs])").stdout
    assert out == "['bye'] ['interrupted', 'interrupted']\n"


def test_interrupt_while_idle_cancels_a_background_run(clean_kernel: Kernel) -> None:
    first = clean_kernel.ok(
        f"s = Scheduler(Job(work('b1', {LONG})), Job(work('b2', {LONG})))\nh = start(s)"
    )
    clean_kernel.drain(0.3)  # the kernel is idle, the run goes on
    sent = clean_kernel.interrupt()
    [key] = first.displays
    deadline = sent + 2.0
    while time.monotonic() < deadline:
        clean_kernel.drain(0.05)
        if "CANCELLED" in clean_kernel.display_updates.get(key, {}).get("text/plain", ""):
            break
    latency = time.monotonic() - sent
    assert latency < 1.0, latency
    assert clean_kernel.value("h.cancelled()") == "True"
    _assert_interrupted(clean_kernel, latency)


def test_interrupt_while_awaiting_a_background_handle(clean_kernel: Kernel) -> None:
    clean_kernel.ok(f"s = Scheduler(Job(work('h1', {LONG})))\nh = start(s)")
    cell = clean_kernel.execute("await h", interrupt_after=0.3)
    assert cell.error is not None and cell.error["ename"] == "CancelledError", cell.describe()
    _assert_interrupted(clean_kernel, cell.interrupt_latency)


def test_run_outside_a_kernel_in_a_running_loop_is_a_clear_error() -> None:
    import asyncio

    from nbjobs import Job, RunningLoopError, Scheduler

    async def main() -> None:
        async def nothing() -> None:
            pass

        s = Scheduler(Job(nothing, label="n"))
        with pytest.raises(RunningLoopError, match=r"await s\.co_run\(\)"):
            s.run()

    asyncio.run(main())


def test_seed_style_blocking_runs_in_a_fresh_kernel_leave_the_kernel_responsive() -> None:
    with start_kernel() as kernel:
        for _ in range(3):
            assert kernel.value("Scheduler(Job(work('z', 0.01))).run()") == "True"
        # the pure-Python tasks nest-asyncio2 swapped in still run awaited cells
        assert kernel.value("await Scheduler(Job(work('y', 0.01))).co_run()") == "True"
        assert kernel.ok("print(len(leftovers()))").stdout == "0\n"


def test_scheduler_start_method_and_no_view(clean_kernel: Kernel) -> None:
    cell = clean_kernel.ok("s = Scheduler(Job(work('m', 0.05, 5)))\nh = s.start(view=False)")
    assert cell.displays == {}
    assert clean_kernel.value("await h") == "True"
    assert clean_kernel.value("list(s.jobs)[0].result()") == "5"


def test_closing_a_notebook_with_runs_in_progress_does_not_hang() -> None:
    # what a front-end does when a notebook with a background run (and one blocked in a
    # cell) is closed: a graceful kernel shutdown request
    kernel = start_kernel()
    try:
        kernel.ok("h = Scheduler(Job(work('long', 30), label='long')).start(view=False)")
        kernel.kc.execute("Scheduler(Job(work('blocked', 30))).run(view=False)")
        time.sleep(0.3)
        start = time.monotonic()
        kernel.kc.stop_channels()
        kernel.km.shutdown_kernel(now=False)
        assert time.monotonic() - start < 10
        assert not kernel.km.is_alive()
    finally:
        if kernel.km.is_alive():
            kernel.km.shutdown_kernel(now=True)
