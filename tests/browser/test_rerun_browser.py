"""Re-running a cell in JupyterLab closes the widgets its earlier runs showed.

JupyterLab sends the cell's id with each execute request; the kernel closes the widgets
only that cell showed. Counted in the kernel (a second client reads the open widgets),
and in the page (one graph in the cell's output).
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import KernelSide, PageLog
from .lab import Lab
from .test_widget_browser import ALL_PROMPTS_DONE, cell, kernels, run_all

__all__ = ("kernels",)  # the fixture, used by name

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

RERUN = [
    cell(
        """
        import asyncio
        import json
        import ipywidgets
        import nbjobs
        from nbjobs._widget.widget import DagWidget

        def open_dag_widgets():
            return sum(isinstance(w, DagWidget) for w in list(ipywidgets.Widget.widgets.values()))
        """
    ),
    cell(
        """
        s = nbjobs.Scheduler(label="re-run me")
        nbjobs.Job(asyncio.sleep, 0, label="only", scheduler=s)
        await s.co_run()
        """
    ),
]

SUCCEEDED = """() => {
  const nodes = [...document.querySelectorAll('.nbjobs-node')];
  return nodes.length === 1 && nodes[0].dataset.state === 'succeeded';
}"""


def test_a_rerun_cell_closes_the_widgets_of_its_earlier_runs(
    page: Any, page_log: PageLog, lab: Lab, kernels: list[KernelSide]
) -> None:
    kernel = run_all(page, lab, "rerun.ipynb", RERUN)
    kernels.append(kernel)
    page.wait_for_function(ALL_PROMPTS_DONE, timeout=60_000)
    page.wait_for_function(SUCCEEDED, timeout=30_000)
    assert kernel.value("json.dumps(open_dag_widgets())") == 1
    run_cell = page.locator(".jp-CodeCell").nth(1)
    for n in range(2, 5):
        run_cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Control+Enter")
        # the cell's prompt moves on when this run ended
        page.wait_for_function(
            """(n) => {
              const p = document.querySelectorAll('.jp-CodeCell')[1]
                .querySelector('.jp-InputArea-prompt');
              return p && /\\[(\\d+)\\]/.test(p.textContent)
                && Number(p.textContent.match(/\\[(\\d+)\\]/)[1]) >= n + 1;
            }""",
            arg=n,
            timeout=30_000,
        )
        page.wait_for_function(SUCCEEDED, timeout=30_000)
        # each re-run replaced the widget: the kernel keeps the one shown, not all of them
        assert kernel.value("json.dumps(open_dag_widgets())") == 1
    assert page.locator(".nbjobs-dag").count() == 1
    assert page_log.outside == []
    assert [e for e in page_log.errors if "nbjobs" in e or "pageerror" in e] == []
