"""The widget's code reaches a page once: a second widget costs the page a few kilobytes,
a page reloaded during a run shows it again and keeps following, and a notebook saved
with its widget state shows its widgets again from that state (which holds the code once).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from .conftest import KernelSide, PageLog, open_page
from .lab import ROOT, Lab
from .support import RUNTIME
from .test_widget_browser import (
    ALL_PROMPTS_DONE,
    cell,
    kernels,
    record_metric,
    run_all,
    states,
    wait_states,
)

__all__ = ("kernels",)  # the fixture, used by name

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

KIB = 1024
#: the view's bundle (widget code, layout worker, Graphviz's WebAssembly) is bigger
BIG_FRAME = 500_000

# When each cell's first output and first graph node appeared (page clock, ms): the
# time from a widget's output to its drawing.
PAINT_TIMES = """
window.nbjobsTimes = { output: {}, nodes: {} };
new MutationObserver(() => {
  const now = performance.now();
  document.querySelectorAll('.jp-CodeCell').forEach((cell, i) => {
    const t = window.nbjobsTimes;
    if (t.output[i] === undefined && cell.querySelector('.jp-OutputArea-output')) {
      t.output[i] = now;
    }
    if (t.nodes[i] === undefined && cell.querySelector('.nbjobs-node')) t.nodes[i] = now;
  });
}).observe(document, { childList: true, subtree: true });
"""


class Frames:
    """Every websocket frame the page received from its kernels."""

    def __init__(self, page: Any) -> None:
        self.frames: list[bytes] = []
        page.on("websocket", self._socket)

    def _socket(self, ws: Any) -> None:
        if "/api/kernels/" in ws.url:
            ws.on("framereceived", self._frame)

    def _frame(self, payload: str | bytes) -> None:
        self.frames.append(payload.encode() if isinstance(payload, str) else payload)

    def naming(self, model_id: str) -> list[bytes]:
        """The frames about one widget: its comm's messages and the output showing it."""
        key = model_id.encode()
        return [f for f in self.frames if key in f]

    def big(self) -> list[bytes]:
        return [f for f in self.frames if len(f) > BIG_FRAME]


TWO_WIDGETS = [
    cell(
        """
        import asyncio, json
        import nbjobs
        from nbjobs._widget.widget import DagWidget

        async def nap():
            await asyncio.sleep(0.001)

        def chain_of_layers(label):
            s = nbjobs.Scheduler(label=label, view=False)
            previous = []
            for layer in range(6):
                previous = [
                    nbjobs.Job(nap, label=f"{label} {layer}-{k}", scheduler=s,
                               required=previous[k % len(previous)] if previous else ())
                    for k in range(5)
                ]
            return s

        first = chain_of_layers("first")
        w1 = DagWidget(first)
        w1
        """
    ),
    cell(
        """
        second = chain_of_layers("second")
        w2 = DagWidget(second)
        w2
        """
    ),
]


def test_a_second_widget_costs_the_page_a_few_kilobytes(
    browser: Any, page_log: PageLog, lab: Lab, kernels: list[KernelSide]
) -> None:
    page = open_page(browser, page_log, init_script=PAINT_TIMES)
    try:
        frames = Frames(page)
        kernel = run_all(page, lab, "two.ipynb", TWO_WIDGETS)
        kernels.append(kernel)
        page.wait_for_function(ALL_PROMPTS_DONE, timeout=60_000)
        roots = page.locator(".nbjobs-dag")
        for i in range(2):
            roots.nth(i).and_(page.locator('[data-ready="true"]')).wait_for(timeout=60_000)
            assert roots.nth(i).locator(".nbjobs-node").count() == 30
        first, second, runtime = kernel.value(
            "json.dumps([w1.model_id, w2.model_id, w1._runtime.model_id])"
        )
        assert kernel.value("json.dumps(w2._runtime is w1._runtime)") is True
        # what showing the second widget cost, before its run's updates
        shown_bytes = sum(len(f) for f in frames.naming(second))

        # both follow their runs, each with the view the page imported once
        kernel.run("await first.co_run(); await second.co_run()", timeout=60)
        for i in range(2):
            page.wait_for_function(
                """(i) => document.querySelectorAll('.nbjobs-dag')[i]
                     .querySelectorAll('.nbjobs-node[data-state="succeeded"]').length === 30""",
                arg=i,
                timeout=30_000,
            )

        # a later widget, in a cell run once the page is idle (above, Run All shows the
        # first two together: they wait for the same import)
        page.locator(".jp-CodeCell").nth(1).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Escape")
        page.keyboard.press("b")
        page.locator(".jp-CodeCell").nth(2).locator(".jp-InputArea-editor").click()
        page.keyboard.insert_text('third = chain_of_layers("third")\nw3 = DagWidget(third)\nw3')
        page.keyboard.press("Shift+Enter")
        roots.nth(2).and_(page.locator('[data-ready="true"]')).wait_for(timeout=60_000)
        assert roots.nth(2).locator(".nbjobs-node").count() == 30
        later = kernel.value("json.dumps(w3.model_id)")

        times = page.evaluate("window.nbjobsTimes")
        paint = [times["nodes"][str(i)] - times["output"][str(i)] for i in range(3)]
        first_bytes = sum(len(f) for f in frames.naming(first))
        second_bytes = sum(len(f) for f in frames.naming(second))
        record_metric("first_widget_bytes", first_bytes)
        record_metric("second_widget_bytes", second_bytes)
        record_metric("second_widget_shown_bytes", shown_bytes)
        record_metric("runtime_bundle_bytes", sum(len(f) for f in frames.big()))
        record_metric("first_widget_output_to_nodes_ms", paint[0])
        record_metric("second_widget_output_to_nodes_ms", paint[1])
        later_bytes = sum(len(f) for f in frames.naming(later))
        record_metric("later_widget_bytes", later_bytes)
        record_metric("later_widget_output_to_nodes_ms", paint[2])

        assert second_bytes <= 64 * KIB
        assert later_bytes <= 64 * KIB
        assert first_bytes <= 64 * KIB
        # the bundle crossed the websocket once, for the runtime model both widgets name
        [bundle_frame] = frames.big()
        assert runtime.encode() in bundle_frame
        assert page_log.outside == []
        assert [e for e in page_log.errors if "nbjobs" in e or "pageerror" in e] == []
    finally:
        page.context.close()


RELOADED = [
    cell(
        """
        import asyncio, json
        import nbjobs
        from nbjobs._widget.widget import DagWidget

        gate = asyncio.Event()

        async def held():
            await gate.wait()

        async def quick():
            await asyncio.sleep(0.01)

        s = nbjobs.Scheduler(label="reloaded", view=False)
        a = nbjobs.Job(held, label="held", scheduler=s)
        b = nbjobs.Job(quick, label="after", scheduler=s, required=a)
        c = nbjobs.Job(quick, label="free", scheduler=s)
        ids = dict(a=a.id, b=b.id, c=c.id)
        w = DagWidget(s)
        w
        """
    ),
    "task = asyncio.ensure_future(s.co_run())",
]


def test_a_page_reloaded_during_a_run_shows_it_again_and_follows_it(
    page: Any, page_log: PageLog, lab: Lab, kernels: list[KernelSide]
) -> None:
    kernel = run_all(page, lab, "reloaded.ipynb", RELOADED)
    kernels.append(kernel)
    page.wait_for_function(ALL_PROMPTS_DONE, timeout=60_000)
    ids: dict[str, int] = kernel.value("json.dumps(ids)")
    wait_states(page, {ids["a"]: "running", ids["b"]: "idle", ids["c"]: "succeeded"})

    # save (the outputs that show the widget), then reload: the page gets the widget's
    # models from the kernel, the runtime's among them
    page.locator(".jp-Notebook").first.click()
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=30_000)
    frames = Frames(page)
    page.reload()
    page.locator("#jp-main-statusbar").get_by_text("Idle").first.wait_for(timeout=60_000)
    root = page.locator(".nbjobs-dag")
    root.and_(page.locator('[data-ready="true"]')).wait_for(timeout=60_000)
    wait_states(page, {ids["a"]: "running", ids["b"]: "idle", ids["c"]: "succeeded"})
    assert root.count() == 1
    # the new page got the view once
    assert len(frames.big()) == 1

    kernel.run("gate.set()")
    wait_states(page, {ids["a"]: "succeeded", ids["b"]: "succeeded", ids["c"]: "succeeded"})
    page.locator(".nbjobs-outcome", has_text="success").wait_for(timeout=10_000)
    assert kernel.value("json.dumps(task.done())") is True
    assert page_log.outside == []
    assert [e for e in page_log.errors if "nbjobs" in e or "pageerror" in e] == []


def test_a_runtime_closed_in_the_kernel_is_made_again_for_a_reloaded_page(
    page: Any, page_log: PageLog, lab: Lab, kernels: list[KernelSide]
) -> None:
    """Whatever closed the runtime model (``Widget.close_all()``, say), a page opened
    afterwards finds the view: the loader asks the widget's kernel, which makes a new one."""
    kernel = run_all(page, lab, "closed.ipynb", RELOADED)
    kernels.append(kernel)
    page.wait_for_function(ALL_PROMPTS_DONE, timeout=60_000)
    ids: dict[str, int] = kernel.value("json.dumps(ids)")
    wait_states(page, {ids["a"]: "running", ids["c"]: "succeeded"})
    closed = kernel.value("json.dumps(w._runtime.model_id)")
    kernel.run("w._runtime.close()")
    page.locator(".jp-Notebook").first.click()
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=30_000)
    page.reload()
    page.locator("#jp-main-statusbar").get_by_text("Idle").first.wait_for(timeout=60_000)
    page.locator(".nbjobs-dag").and_(page.locator('[data-ready="true"]')).wait_for(timeout=60_000)
    wait_states(page, {ids["a"]: "running", ids["b"]: "idle", ids["c"]: "succeeded"})
    live = kernel.value("json.dumps(w._runtime.model_id)")
    assert live != closed
    assert kernel.value("json.dumps(w._runtime.comm is not None)") is True
    kernel.run("gate.set()")
    wait_states(page, {ids["a"]: "succeeded", ids["b"]: "succeeded"})
    assert page_log.outside == []
    assert [e for e in page_log.errors if "pageerror" in e] == []


SAVED = [
    cell(
        """
        import asyncio
        import nbjobs
        from nbjobs._widget.widget import DagWidget

        async def ok():
            await asyncio.sleep(0.01)

        async def broken():
            raise ValueError("saved failure")

        def run_of(label):
            s = nbjobs.Scheduler(label=label, view=False)
            a = nbjobs.Job(ok, label=f"{label} a", scheduler=s)
            nbjobs.Job(ok, label=f"{label} b", scheduler=s, required=a)
            nbjobs.Job(broken, label=f"{label} bad", critical=False, scheduler=s, required=a)
            return s

        one, two = run_of("one"), run_of("two")
        DagWidget(one)
        """
    ),
    "DagWidget(two)",
    "await one.co_run()\nawait two.co_run()",
]


def execute_and_save(lab: Lab, name: str, cells: list[str]) -> dict[str, Any]:
    """Run the notebook with nbclient (as ``jupyter nbconvert --execute`` does), keeping the
    widgets' state in its metadata, and save it, trusted by the server's notary; return
    that state."""
    import nbformat
    from nbclient import NotebookClient
    from nbformat.sign import NotebookNotary

    path = lab.root / name

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute(
        # the kernel imports this checkout's nbjobs, as the server's kernels do
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
    )
    # JupyterLab renders a widget's view only in trusted output (else its text/html
    # fallback): as the user's own `jupyter trust` would, with the server's data folder
    NotebookNotary(data_dir=str(lab.root.parent / "jupyter-data")).sign(nb)
    nbformat.write(nb, path)
    state: dict[str, Any] = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]
    return state


def test_a_notebook_saved_with_its_widget_state_shows_the_widgets_again(
    page: Any, page_log: PageLog, lab: Lab, kernels: list[KernelSide]
) -> None:
    saved = execute_and_save(lab, "saved.ipynb", SAVED)
    path = lab.root / "saved.ipynb"
    models = saved["state"]
    dags = {k: m["state"] for k, m in models.items() if m["state"].get("graph_json")}
    holders = {k: m for k, m in models.items() if m["state"].get("bundle")}
    assert len(dags) == 2
    # the view's code is in the notebook once, as the runtime model both widgets name
    [(runtime_id, runtime)] = holders.items()
    assert runtime["state"]["bundle"] == RUNTIME.read_text(encoding="utf-8")
    assert not any(m.get("buffers") for m in models.values())
    for dag in dags.values():
        assert dag["_runtime"] == f"IPY_MODEL_{runtime_id}"
        assert len(dag["_esm"].encode()) < 16 * KIB
    record_metric("saved_notebook_bytes", path.stat().st_size)
    final = {
        str(row[0]): row[1]
        for dag in dags.values()
        for row in json.loads(dag["snapshot_json"])["jobs"]
    }
    assert sorted(final.values()) == sorted(["succeeded", "succeeded", "failed"] * 2)

    # a fresh page and a new kernel that never ran the cells: the widgets come from the
    # saved state alone
    page.goto(lab.notebook_url("saved.ipynb"))
    page.locator("#jp-main-statusbar").get_by_text("Idle").first.wait_for(timeout=60_000)
    roots = page.locator(".nbjobs-dag")
    for i in range(2):
        roots.nth(i).and_(page.locator('[data-ready="true"]')).wait_for(timeout=60_000)
    shown = states(page, 0) | states(page, 1)
    assert shown == final
    for i in range(2):
        assert roots.nth(i).locator(".nbjobs-progress-text").text_content() == "3/3"
    assert page.locator(".jp-InputArea-prompt").first.text_content() == "[1]:"
    assert page_log.outside == []
    assert [e for e in page_log.errors if "nbjobs" in e or "pageerror" in e] == []
