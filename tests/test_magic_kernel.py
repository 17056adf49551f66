"""``%load_ext nbjobs`` and ``%%orchestrate`` with each option, in a real kernel."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest_kernel import start_kernel
from tests.kernel_utils import Kernel

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def mkernel() -> Iterator[Kernel]:
    kernel = start_kernel()
    try:
        kernel.ok("%load_ext nbjobs")
        yield kernel
    finally:
        kernel.close()


@pytest.fixture
def k(mkernel: Kernel) -> Iterator[Kernel]:
    yield mkernel
    # nothing left running, and no coroutine left to warn "never awaited"
    cell = mkernel.ok("import gc; gc.collect(); print(len(leftovers()))")
    assert cell.stdout == "0\n", cell.describe()
    assert "never awaited" not in cell.stderr, cell.stderr


def test_bare_coroutines_become_jobs_labelled_by_their_names(k: Kernel) -> None:
    cell = k.ok("%%orchestrate\nalpha = work('a', 0.02, 1)\nbeta = work('b', 0.01, 2)\n")
    assert cell.result == "True"
    assert "alpha" in cell.text() and "beta" in cell.text()
    out = k.ok(
        "print(type(alpha).__name__, alpha.label, alpha.result(), beta.result())\n"
        "print(orchestration.label, [j.label for j in orchestration.jobs])"
    ).stdout
    assert out == "Job alpha 1 2\norchestration ['alpha', 'beta']\n"


def test_job_objects_requirements_and_top_level_await(k: Kernel) -> None:
    cell = k.ok(
        "%%orchestrate --name deps\n"
        "await asyncio.sleep(0)\n"
        "hidden = None\n"
        "first = Job(work('first', 0.02), label='first')\n"
        "last = Job(work('last', 0.01), label='last', required=[first, "
        "Job(work('pre'), label='pre')])\n"
    )
    assert cell.result == "True"
    out = k.ok(
        "print([j.label for j in deps.jobs])\n"
        "print(last.start_time >= max(first.end_time, [j for j in deps.jobs "
        "if j.label == 'pre'][0].end_time))"
    ).stdout
    assert out == "['first', 'last', 'pre']\nTrue\n"


def test_lists_and_dicts_of_coroutines(k: Kernel) -> None:
    k.ok("%%orchestrate --name many\nbatch = [work(i, 0.01, i) for i in range(3)]\n")
    out = k.ok("print([j.label for j in many.jobs], [j.result() for j in batch])").stdout
    assert out == "['batch[0]', 'batch[1]', 'batch[2]'] [0, 1, 2]\n"


def test_window_option(k: Kernel) -> None:
    k.ok("%%orchestrate --window 1 --name win\nw1 = work('w1', 0.03)\nw2 = work('w2', 0.03)\n")
    out = k.ok("print(win.jobs_window, w2.start_time >= w1.end_time)").stdout
    assert out == "1 True\n"


def test_timeout_option(k: Kernel) -> None:
    cell = k.execute("%%orchestrate --timeout 0.1 --name slow\nlong = work('long', 30)\n")
    assert cell.error is not None and cell.error["ename"] == "TimeoutError", cell.describe()
    assert cell.elapsed < 2
    assert k.value("long.cancel_reason") == "'timeout after 0.1s'"


def test_critical_by_default_the_cell_raises_the_jobs_exception(k: Kernel) -> None:
    cell = k.execute("%%orchestrate\nbad = fail('bad', 0.01)\nslow = work('slow', 5)\n")
    assert cell.error is not None and cell.error["ename"] == "ValueError", cell.describe()
    assert cell.error["evalue"] == "bad failed"
    assert cell.elapsed < 2
    assert k.value("slow.status.value") == "'cancelled'"


def test_non_critical_the_run_goes_on(k: Kernel) -> None:
    cell = k.ok(
        "%%orchestrate --non-critical\nbad = fail('bad', 0.01)\ngood = work('good', 0.05)\n"
    )
    assert cell.result == "True"
    assert k.value("bad.status.value, good.status.value") == "('failed', 'succeeded')"
    assert "ValueError: bad failed" in cell.text()


def test_text_option_and_verbose_plan(k: Kernel) -> None:
    cell = k.ok("%%orchestrate --text --verbose --name txt\nv = work('v', 0.01)\n")
    assert k.value("txt.view") == "'text'"
    # the plan is printed before the run starts
    assert cell.stdout.index("v") < cell.stdout.index("start v")


def test_dry_run_runs_nothing(k: Kernel) -> None:
    cell = k.ok("%%orchestrate --dry-run --name plan\nd1 = work('d1')\nd2 = work('d2')\n")
    assert "start d" not in cell.stdout
    # the graph: the widget
    assert "application/vnd.jupyter.widget-view+json" in str(cell.displays)
    assert k.value("[j.status.value for j in plan.jobs]") == "['idle', 'idle']"


def test_dry_run_with_text_shows_the_graph_as_svg(k: Kernel) -> None:
    cell = k.ok("%%orchestrate --dry-run --text --name plan2\nd3 = work('d3')\n")
    assert "start d" not in cell.stdout
    (shown,) = cell.displays.values()
    # drawn by dot where it is installed, in process where not (CI runs both)
    assert "<svg" in shown["image/svg+xml"]
    assert ">d3</text>" in shown["image/svg+xml"]
    assert k.value("[j.status.value for j in plan2.jobs]") == "['idle']"


def test_background_option_returns_a_handle_at_once(k: Kernel) -> None:
    cell = k.ok("%%orchestrate --background --name bg\nb = work('b', 0.3, 7)\n")
    assert cell.elapsed < 0.3
    assert cell.result is not None and cell.result.startswith("<RunHandle of Scheduler 'bg'")
    k.ok("h = _")
    assert k.value("await h") == "True"
    assert k.value("b.result()") == "7"


def test_rerunning_a_background_cell_replaces_its_earlier_run(k: Kernel) -> None:
    k.ok("%%orchestrate --background --name again\nz = work('z1', 30)\n")
    k.ok("old = again\nold_z = z")
    k.ok("%%orchestrate --background --name again\nz = work('z2', 0.05)\n")
    k.ok("await _")
    out = k.ok("print(old.is_running_now, old_z.cancel_reason)").stdout
    assert out == "False replaced by a new run of its %%orchestrate cell\n"


def test_error_in_the_body_is_a_normal_cell_error_and_nothing_runs(k: Kernel) -> None:
    cell = k.execute(
        "%%orchestrate --name broken\nearly = work('early')\n1 / 0\nlate = work('late')\n"
    )
    assert cell.error is not None and cell.error["ename"] == "ZeroDivisionError"
    assert any("line 3" in line for line in cell.error["traceback"])
    assert "start early" not in cell.stdout
    assert k.value("'broken' in globals(), 'late' in globals()") == "(False, False)"
    # the coroutine the body made was closed: no "never awaited" warning (checked by k)


def test_no_jobs_is_a_usage_error(k: Kernel) -> None:
    cell = k.execute("%%orchestrate\nx = 1\n")
    # IPython reports a UsageError on stderr, without a traceback
    assert cell.status == "error"
    assert "UsageError: %%orchestrate found no jobs in the cell" in cell.stderr


def test_bad_option_is_a_usage_error_and_the_body_does_not_run(k: Kernel) -> None:
    cell = k.execute("%%orchestrate --window 0\nprint('body ran')\nq = work('q')\n")
    assert cell.status == "error"
    assert "UsageError: --window takes a number >= 1" in cell.stderr
    assert "body ran" not in cell.stdout


def test_help(k: Kernel) -> None:
    cell = k.ok("%%orchestrate?")
    text = cell.page
    for option in ("--timeout", "--window", "--background", "--name", "--no-widget", "--text"):
        assert option in text, option
    for option in ("--critical", "--non-critical", "--verbose", "--dry-run"):
        assert option in text, option
    assert "bare coroutine objects" in text


def test_interrupt_during_orchestrate(k: Kernel) -> None:
    cell = k.execute(
        "%%orchestrate --name stopped\ni1 = work('i1', 30)\ni2 = work('i2', 30)\n",
        interrupt_when="start i2",
        interrupt_after=0.1,
    )
    assert cell.error is not None and cell.error["ename"] == "CancelledError"
    assert cell.interrupt_latency is not None and cell.interrupt_latency < 2
    assert k.value("i1.cancel_reason, i2.cancel_reason") == "('interrupted', 'interrupted')"


def test_the_magic_called_directly_runs_blocking(k: Kernel) -> None:
    cell = k.ok(
        "get_ipython().run_cell_magic('orchestrate', '--name direct', "
        "'d = work(\"direct\", 0.01, 3)')"
    )
    assert cell.result == "True"
    assert k.value("d.result(), direct.label") == "(3, 'direct')"


def test_the_documented_example(k: Kernel) -> None:
    k.ok(
        "async def fetch(x):\n    return x * 2\n"
        "async def combine(x, y):\n    return x + y\n"
        "async def notify(message):\n    print(message)\n"
    )
    cell = k.ok(
        "%%orchestrate --window 2 --name pipeline\n"
        'a = Job(fetch, "a", label="a")\n'
        'b = Job(fetch, "b", label="b")\n'
        "c = Job(combine, a, b, label=\"combine\")  # runs combine(a's result, b's result)\n"
        'd = notify("starting")                    # a bare coroutine: a job labelled d\n'
    )
    assert cell.result == "True"
    assert k.value("c.result(), d.label, pipeline.jobs_window") == "('aabb', 'd', 2)"
