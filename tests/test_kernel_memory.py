"""A long day in a real kernel: re-run cells free their runs and close their widgets.

Each mode re-runs one cell (same cell id, as JupyterLab and Notebook 7 send it) whose job
returns a big result, then deletes the user's names: no scheduler may be left alive
(weak references), the traced memory must not hold even one result (tracemalloc: what
Python objects hold, unlike RSS, which the C allocator keeps after frees), and only the
widget the last run shows may still be open.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest_kernel import start_kernel
from tests.kernel_utils import Kernel

pytestmark = pytest.mark.kernel

RERUNS = 10
RESULT_MIB = 20

SETUP = f"""
import gc, tracemalloc, weakref
import ipywidgets
from IPython.display import display
from nbjobs._jupyter.kernel import running_handles
from nbjobs._widget.widget import DagWidget
%load_ext nbjobs

async def big():
    return bytearray({RESULT_MIB} * 2**20)

def open_dag_widgets():
    return sum(isinstance(w, DagWidget) for w in list(ipywidgets.Widget.widgets.values()))

def traced_mib():
    return tracemalloc.get_traced_memory()[0] / 2**20

refs = []
tracemalloc.start()
"""

#: mode -> (the re-run cell, whether it shows a widget)
MODES = {
    "await co_run": ("s = Scheduler(Job(big, label='big')); await s.co_run()", True),
    "run": ("s = Scheduler(Job(big, label='big')); s.run()", True),
    "start": ("s = Scheduler(Job(big, label='big')); h = start(s)", True),
    "display": ("s = Scheduler(Job(big, label='big')); s.run(view=False); display(s)", True),
    "magic": ("%%orchestrate --name s\nb = Job(big, label='big')", True),
    "magic --background": ("%%orchestrate --name s --background\nb = Job(big, label='big')", True),
    "text view": ("s = Scheduler(Job(big, label='big')); s.run(view='text')", False),
}


@pytest.fixture(scope="module")
def k() -> Iterator[Kernel]:
    kernel = start_kernel()
    try:
        kernel.ok(SETUP, timeout=60)
        yield kernel
    finally:
        kernel.close()


@pytest.mark.parametrize("mode", list(MODES))
def test_rerun_cells_free_their_runs_and_close_their_widgets(k: Kernel, mode: str) -> None:
    code, shows_widget = MODES[mode]
    k.ok("gc.collect(); refs.clear(); base = traced_mib(); widgets = open_dag_widgets()")
    cell_id = f"cell-{mode}"
    for _ in range(RERUNS):
        k.ok(code, cell_id=cell_id)
        # a background run: wait for it from another cell
        k.ok("for _h in running_handles(): await _h", cell_id="waiter")
        k.ok("refs.append(weakref.ref(s))", cell_id="bookkeeping")
    # the runs are over, and the last one is still shown
    out = k.ok("print(open_dag_widgets() - widgets)").stdout
    assert int(out) == (1 if shows_widget else 0), f"{mode}: DagWidgets left open: {out}"
    # the user's names go: nothing of nbjobs keeps any run
    cell = k.ok(
        "for _name in ('s', 'h', 'b', '_h'):\n"
        "    globals().pop(_name, None)\n"
        "gc.collect()\n"
        "print(sum(r() is not None for r in refs), round(traced_mib() - base, 1))"
    )
    alive, grown = cell.stdout.split()
    assert int(alive) == 0, f"{mode}: {alive} of {RERUNS} runs still alive"
    assert float(grown) < RESULT_MIB / 2, f"{mode}: {grown} MiB still traced"


def test_a_widget_shown_in_two_cells_closes_when_both_are_gone(k: Kernel) -> None:
    k.ok("gc.collect(); widgets = open_dag_widgets()")
    k.ok("s = Scheduler(Job(big, label='big')); h = start(s); await h", cell_id="runner")
    # the same widget shown by a second cell
    k.ok("w = h.view.widget; display(w); del w", cell_id="again")
    assert k.ok("print(open_dag_widgets() - widgets)").stdout == "1\n"
    k.ok("s = None; h = None", cell_id="runner")  # re-run of the first cell
    out = k.ok("print(open_dag_widgets() - widgets)").stdout
    assert out == "1\n", "a widget still shown by another cell was closed"
    # the second cell is deleted in the page: the front-end says so with its next request
    k.ok("pass", cell_id="elsewhere", deleted_cells=["again"])
    assert k.ok("print(open_dag_widgets() - widgets)").stdout == "0\n"


def test_widgets_of_other_cells_and_without_cell_ids_stay_open(k: Kernel) -> None:
    k.ok("gc.collect(); widgets = open_dag_widgets()")
    k.ok("s1 = Scheduler(Job(big, label='one')); s1.run()", cell_id="one")
    k.ok("s2 = Scheduler(Job(big, label='two')); s2.run()", cell_id="two")
    k.ok("s3 = Scheduler(Job(big, label='three')); s3.run()")  # a client sending no id
    k.ok("s1 = None", cell_id="one")
    assert k.ok("print(open_dag_widgets() - widgets)").stdout == "2\n"
    k.ok("del s1, s2, s3")
