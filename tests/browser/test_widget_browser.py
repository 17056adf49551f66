"""The widget in a real JupyterLab and Chromium: drawing, live states, clicks, cancel.

Each test writes a notebook, opens it, runs all its cells from the Run menu and watches
the page. A second client of the notebook's kernel (``KernelSide``) lets a test act on the
run (open a gate, read timestamps) without typing into the page.
"""

from __future__ import annotations

import json
import re
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import ARTIFACTS, KernelSide, PageLog, kernel_ids, open_page
from .lab import Lab

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def expect(*args: Any, **kwargs: Any) -> Any:
    """Playwright's ``expect``, imported when a test uses it: without playwright
    (``pip install -e .[test]``) this module is still collected, and its tests skip
    through ``browser_ready`` saying why (or fail under CI)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


XSS = "<img src=x onerror=alert(1)>"

NODE = '.nbjobs-node[data-job-id="{}"]'

WAIT_STATES = """
([selector, expected]) => {
  const root = document.querySelectorAll('.nbjobs-dag')[selector];
  if (!root) return false;
  return Object.entries(expected).every(([id, st]) =>
    root.querySelector(`.nbjobs-node[data-job-id="${id}"]`)?.getAttribute('data-state') === st);
}
"""

ALL_PROMPTS_DONE = """
() => {
  const prompts = [...document.querySelectorAll('.jp-InputArea-prompt')];
  return prompts.length > 0 && prompts.every((p) => /\\[\\d+\\]/.test(p.textContent));
}
"""


def cell(code: str) -> str:
    return textwrap.dedent(code).strip()


def run_all(page: Any, lab: Lab, name: str, cells: list[str]) -> KernelSide:
    """Open the notebook, wait for its kernel, run all cells; return a client of its kernel."""
    lab.write_notebook(name, cells)
    before = set(kernel_ids(lab))
    page.goto(lab.notebook_url(name))
    page.locator("#jp-main-statusbar").get_by_text("Idle").first.wait_for(timeout=60_000)
    click_run_all(page)
    started = [k for k in kernel_ids(lab) if k not in before]
    assert len(started) == 1, f"expected one new kernel, got {started}"
    return KernelSide(lab.runtime / f"kernel-{started[0]}.json")


def click_run_all(page: Any) -> None:
    """Run > Run All Cells (JupyterLab and Notebook 7 share the command)."""
    prompt = page.locator(".jp-InputArea-prompt").first
    for _ in range(5):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
        # a run-all clicked while the page still connects its kernel may do nothing
        # (the first cell keeps its empty prompt): nothing ran, so click again
        try:
            expect(prompt).not_to_have_text("[ ]:", timeout=5_000)
            return
        except AssertionError:
            continue
    raise AssertionError("Run All did not start the notebook's cells")


def states(page: Any, index: int = 0) -> dict[str, str]:
    result: dict[str, str] = page.evaluate(
        """(i) => Object.fromEntries([...document.querySelectorAll('.nbjobs-dag')[i]
             .querySelectorAll('.nbjobs-node')].map((e) => [e.dataset.jobId, e.dataset.state]))""",
        index,
    )
    return result


def wait_states(page: Any, expected: dict[int, str], index: int = 0, timeout: float = 20) -> None:
    want = {str(k): v for k, v in expected.items()}
    try:
        page.wait_for_function(WAIT_STATES, arg=[index, want], timeout=timeout * 1000)
    except Exception:
        shown = states(page, index)
        assert {k: shown.get(k) for k in want} == want
        raise


@pytest.fixture
def kernels() -> Iterator[list[KernelSide]]:
    opened: list[KernelSide] = []
    yield opened
    for k in opened:
        k.close()


def record_metric(name: str, value: float) -> None:
    """Measured speeds go next to the screenshot, for the benchmarks to quote."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "widget-metrics.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = round(value, 1)
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"{name}: {value:.1f}")


LIVE_RUN = [
    cell(
        f"""
        import asyncio, json, time
        import nbjobs
        from nbjobs._widget.widget import DagWidget

        gate = asyncio.Event()
        stamps = {{}}

        async def first():
            print("first waits for the gate")
            await gate.wait()
            stamps["first_end"] = time.time()
            return {{"answer": 42}}

        async def explode():
            raise ValueError("boom <b>not bold</b>")

        async def chatty():
            for k in range(100_000):
                print(f"tick {{k}}")
                await asyncio.sleep(0.05)

        async def quick(i):
            await asyncio.sleep(0.01)
            return i

        s = nbjobs.Scheduler(label="browser demo", jobs_window=3, view=False)
        a = nbjobs.Job(first, label="first", scheduler=s)
        # with chatty and stuck holding two of the three slots, bad waits for inner
        inner = nbjobs.Scheduler(label="inner", scheduler=s, required=a, view=False)
        i1 = nbjobs.Job(quick, 1, label="inner 1", scheduler=inner)
        i2 = nbjobs.Job(quick, 2, label="inner 2", scheduler=inner, required=i1)
        bad = nbjobs.Job(explode, label={XSS!r}, critical=False, scheduler=s, required=a)
        talk = nbjobs.Job(chatty, label="chatty", critical=False, scheduler=s)
        stuck = nbjobs.Job(asyncio.sleep, 3600, label="stuck", critical=False, scheduler=s)
        last = nbjobs.Job(quick, 3, label="last", scheduler=s, required=inner)
        ids = dict(first=a.id, bad=bad.id, inner=inner.id, i1=i1.id, i2=i2.id,
                   chatty=talk.id, stuck=stuck.id, last=last.id)
        w = DagWidget(s)
        w
        """
    ),
    "task = asyncio.ensure_future(s.co_run())",
]


def test_live_run_clicks_output_and_cancel(
    page: Any, page_log: PageLog, lab: Lab, kernels: list[KernelSide]
) -> None:
    kernel = run_all(page, lab, "live.ipynb", LIVE_RUN)
    kernels.append(kernel)
    page.wait_for_function(ALL_PROMPTS_DONE, timeout=60_000)
    ids: dict[str, int] = kernel.value("json.dumps(ids)")
    root = page.locator(".nbjobs-dag")
    root.and_(page.locator('[data-ready="true"]')).wait_for(timeout=30_000)

    # the drawing: one node per leaf job, named by job id; the nested scheduler a cluster
    leaves = ["first", "bad", "i1", "i2", "chatty", "stuck", "last"]
    assert sorted(states(page)) == sorted(str(ids[k]) for k in leaves)
    assert page.locator(f'.nbjobs-cluster[data-cluster-id="{ids["inner"]}"]').count() == 1
    wait_states(
        page,
        {ids["first"]: "running", ids["chatty"]: "running", ids["stuck"]: "running"}
        | {ids[k]: "idle" for k in ("bad", "i1", "i2", "last")},
    )
    assert root.get_attribute("data-layout-where") == "worker"

    # the label is text: those characters, no element, no script
    label = page.locator(NODE.format(ids["bad"]) + " .nbjobs-node-label")
    assert label.text_content() == XSS
    assert page.locator(".nbjobs-dag img").count() == 0

    # open the gate in the kernel and time how soon the page shows the change
    page.evaluate(
        """(id) => {
          window.nbjobsSeen = {};
          const el = document.querySelector(`.nbjobs-node[data-job-id="${id}"]`);
          new MutationObserver(() => {
            window.nbjobsSeen[el.dataset.state] ??= Date.now();
          }).observe(el, { attributes: true, attributeFilter: ["data-state"] });
        }""",
        ids["first"],
    )
    kernel.run("gate.set()")
    wait_states(
        page,
        {
            ids["first"]: "succeeded",
            ids["bad"]: "failed",
            ids["i1"]: "succeeded",
            ids["i2"]: "succeeded",
            ids["last"]: "succeeded",
            ids["chatty"]: "running",
            ids["stuck"]: "running",
        },
    )
    seen_ms = page.evaluate("window.nbjobsSeen.succeeded")
    ended = kernel.value('json.dumps(stamps["first_end"])')
    latency = seen_ms - ended * 1000
    record_metric("state_change_latency_ms", latency)
    assert 0 <= latency < 1000

    # click the failed job: its exception, as text
    page.locator(NODE.format(ids["bad"])).click()
    panel = page.locator(f'.nbjobs-panel[data-job="{ids["bad"]}"]')
    exception = panel.locator(".nbjobs-exception")
    exception.wait_for(timeout=10_000)
    assert panel.locator(".nbjobs-panel-label").text_content() == XSS
    assert "ValueError: boom <b>not bold</b>" in (exception.text_content() or "")
    assert "Traceback (most recent call last)" in (exception.text_content() or "")
    assert panel.locator("b, img").count() == 0
    assert panel.locator(".nbjobs-panel-state").text_content() == "failed"

    # the first job's result, bounded repr
    page.locator(NODE.format(ids["first"])).click()
    result = page.locator(f'.nbjobs-panel[data-job="{ids["first"]}"] .nbjobs-result')
    result.wait_for(timeout=10_000)
    assert result.text_content() == "{'answer': 42}"

    # a running job's output streams into its panel
    page.locator(NODE.format(ids["chatty"])).click()
    output = page.locator(f'.nbjobs-panel[data-job="{ids["chatty"]}"] .nbjobs-output')
    output.get_by_text("tick").first.wait_for(timeout=10_000)
    lines_now = (output.text_content() or "").count("tick")
    page.wait_for_function(
        """([n]) => (document.querySelector('.nbjobs-output').textContent.match(/tick/g) || [])
             .length >= n""",
        arg=[lines_now + 3],
        timeout=10_000,
    )
    ticks = [int(line.split()[1]) for line in (output.text_content() or "").splitlines()]
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), "output lost or repeated"

    # the timeline: a bar per job that ran; one job waited for a window slot
    page.locator('.nbjobs-tabs [data-tab="timeline"]').click()
    rows = page.locator(".nbjobs-gantt-row")
    rows.first.wait_for(timeout=10_000)
    assert rows.count() >= 6
    ARTIFACTS.mkdir(exist_ok=True)
    root.screenshot(path=str(ARTIFACTS / "widget-timeline.png"))
    waited = page.locator(f'.nbjobs-gantt-row[data-gantt-job="{ids["bad"]}"] .nbjobs-gantt-wait')
    assert float(waited.get_attribute("width") or 0) >= 1
    assert page.locator(f'.nbjobs-gantt-row[data-gantt-job="{ids["first"]}"] .nbjobs-gantt-run')

    # the list: every job of the run, with its state
    page.locator('.nbjobs-tabs [data-tab="list"]').click()
    list_rows = page.locator(".nbjobs-row")
    list_rows.first.wait_for(timeout=10_000)
    root.screenshot(path=str(ARTIFACTS / "widget-list.png"))
    assert list_rows.count() == 8
    assert page.locator(f'.nbjobs-row[data-job-id="{ids["bad"]}"]').get_attribute("data-state") == (
        "failed"
    )

    # back to the graph, with a panel open: the picture CI keeps
    page.locator('.nbjobs-tabs [data-tab="graph"]').click()
    page.locator(NODE.format(ids["bad"])).click()
    panel.locator(".nbjobs-exception").wait_for(timeout=10_000)
    root.screenshot(path=str(ARTIFACTS / "widget.png"))
    assert (ARTIFACTS / "widget.png").stat().st_size > 10_000

    # cancel one job from its panel: the rest goes on
    page.locator(NODE.format(ids["stuck"])).click()
    page.locator(f'.nbjobs-panel[data-job="{ids["stuck"]}"] .nbjobs-cancel-job').click()
    wait_states(page, {ids["stuck"]: "cancelled", ids["chatty"]: "running"})
    assert kernel.value("json.dumps(stuck.cancel_reason)") == "cancelled from the widget"

    # cancel the whole run from the header
    cancel = page.locator(".nbjobs-header .nbjobs-cancel")
    assert cancel.is_enabled()
    cancel.click()
    wait_states(page, {ids["chatty"]: "cancelled"})
    page.locator(".nbjobs-outcome", has_text="cancelled").wait_for(timeout=10_000)
    deadline = time.monotonic() + 10
    while not kernel.value("json.dumps(task.done())"):
        assert time.monotonic() < deadline, "the run did not end after Cancel"
        time.sleep(0.1)
    assert kernel.value("json.dumps(task.result())") is False
    assert cancel.is_disabled()

    assert page_log.dialogs == []
    assert page_log.outside == []
    assert [e for e in page_log.errors if "nbjobs" in e or "pageerror" in e] == []


BIG = [
    cell(
        """
        import asyncio, random
        import nbjobs
        from nbjobs._widget.widget import DagWidget

        async def nap():
            await asyncio.sleep(0)

        def layered(layers, width, label):
            rng = random.Random(4)
            s = nbjobs.Scheduler(label=label, view=False)
            previous = []
            for layer in range(layers):
                previous = [
                    nbjobs.Job(nap, label=f"L{layer}-{k}", scheduler=s,
                               required=rng.sample(previous, min(2, len(previous))))
                    for k in range(width)
                ]
            return s

        big = layered(40, 25, "1000 jobs")
        DagWidget(big)
        """
    ),
    cell(
        """
        nested = nbjobs.Scheduler(label="3 x 400 jobs", view=False)
        parts = [nbjobs.Scheduler(label=f"part {p}", scheduler=nested, view=False)
                 for p in range(3)]
        for p, part in enumerate(parts):
            for k in range(400):
                nbjobs.Job(nap, label=f"p{p}-{k}", scheduler=part)
        parts[1].requires(parts[0])
        parts[2].requires(parts[0])
        DagWidget(nested)
        """
    ),
    cell(
        """
        flat = nbjobs.Scheduler(label="2000 flat", view=False)
        for k in range(2000):
            nbjobs.Job(nap, label=f"flat {k}", scheduler=flat)
        DagWidget(flat)
        """
    ),
]


def test_big_graphs_paint_fast_collapse_and_list(
    page: Any, page_log: PageLog, lab: Lab, kernels: list[KernelSide]
) -> None:
    kernel = run_all(page, lab, "big.ipynb", BIG)
    kernels.append(kernel)
    page.wait_for_function(ALL_PROMPTS_DONE, timeout=90_000)
    roots = page.locator(".nbjobs-dag")
    for i in range(3):
        roots.nth(i).and_(page.locator('[data-ready="true"]')).wait_for(timeout=60_000)

    # 1000 jobs: drawn in full
    full = roots.nth(0)
    assert full.get_attribute("data-mode") == "full"
    assert full.locator(".nbjobs-node").count() == 1000
    paint = float(full.get_attribute("data-paint-ms") or "nan")
    record_metric("paint_1000_jobs_ms", paint)
    record_metric("layout_1000_jobs_ms", float(full.get_attribute("data-layout-ms") or "nan"))
    record_metric("graphviz_1000_jobs_ms", float(full.get_attribute("data-engine-ms") or "nan"))
    record_metric("draw_1000_jobs_ms", float(full.get_attribute("data-draw-ms") or "nan"))
    assert paint < 5000

    # zoom and pan: buttons scale the drawing, a drag moves it and selects nothing
    viewport = full.locator(".nbjobs-viewport")

    def transform() -> tuple[float, float, float]:
        text = viewport.get_attribute("transform") or ""
        x, y, k = (float(v) for v in re.findall(r"-?[\d.]+(?:e-?\d+)?", text)[:3])
        return x, y, k

    _, _, k0 = transform()
    full.get_by_title("Zoom in").click()
    x1, y1, k1 = transform()
    assert k1 == pytest.approx(k0 * 1.25)
    box = full.locator(".nbjobs-svg").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 40, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 140, box["y"] + 90, steps=5)
    page.mouse.up()
    x2, y2, k2 = transform()
    assert (x2 - x1, y2 - y1, k2) == (pytest.approx(100), pytest.approx(50), k1)
    assert full.locator(".nbjobs-panel").is_hidden()
    full.get_by_title("Fit the graph").click()
    assert transform()[2] == pytest.approx(k0)

    # 1200 jobs in 3 nested schedulers: one node each, with its counts
    collapsed = roots.nth(1)
    assert collapsed.get_attribute("data-mode") == "collapsed"
    assert collapsed.locator(".nbjobs-node").count() == 3
    assert collapsed.locator(".nbjobs-node-counts").all_text_contents() == ["0/400 done"] * 3

    # 2000 top-level jobs: no drawing, a list that a filter narrows; the page asks the
    # kernel for the rows it shows
    listed = roots.nth(2)
    assert listed.get_attribute("data-mode") == "list"
    assert listed.locator(".nbjobs-node").count() == 0
    assert listed.get_attribute("data-tab") == "list"
    list_rows = listed.locator(".nbjobs-row")
    note = listed.locator(".nbjobs-listview .nbjobs-note")
    expect(note).to_have_text("No job matches.")  # nothing running or failed yet
    assert list_rows.count() == 0
    listed.locator(".nbjobs-filter").select_option("all")
    expect(note).to_contain_text("2000 jobs match; the first 500 are listed.")
    expect(list_rows).to_have_count(500)
    listed.locator(".nbjobs-search").fill("flat 1999")
    expect(list_rows).to_have_count(1)
    expect(list_rows.first).to_contain_text("flat 1999")

    # run the 1000 jobs: every node turns green, in place (no second layout)
    assert full.get_attribute("data-layouts") == "1"
    t0 = time.monotonic()
    kernel.run("await big.co_run()", timeout=60)
    page.wait_for_function(
        """() => document.querySelectorAll('.nbjobs-dag')[0]
             .querySelectorAll('.nbjobs-node[data-state="succeeded"]').length === 1000""",
        timeout=30_000,
    )
    record_metric("run_1000_jobs_until_all_green_ms", (time.monotonic() - t0) * 1000)
    assert full.get_attribute("data-layouts") == "1"
    assert full.locator(".nbjobs-progress-text").text_content() == "1000/1000"

    # the 1200 nested jobs: the kernel counts them for each collapsed node
    kernel.run("await nested.co_run()", timeout=60)
    counts = collapsed.locator(".nbjobs-node-counts")
    expect(counts).to_have_text(["400/400 done"] * 3)
    expect(collapsed.locator('.nbjobs-node[data-state="succeeded"]')).to_have_count(3)
    expect(collapsed.locator(".nbjobs-progress-text")).to_have_text("1200/1200")
    # its list asks the kernel too, nested jobs included
    collapsed.locator('.nbjobs-tabs [data-tab="list"]').click()
    collapsed.locator(".nbjobs-filter").select_option("all")
    expect(collapsed.locator(".nbjobs-listview .nbjobs-note")).to_contain_text(
        "1203 jobs match; the first 500 are listed."
    )

    # a run of the 2000 jobs with one held and one failing: the list shows them live
    listed.locator(".nbjobs-search").fill("")
    listed.locator(".nbjobs-filter").select_option("attention")
    kernel.run(
        cell(
            """
            gate = asyncio.Event()

            async def held():
                print("held and printing")
                await gate.wait()

            async def broken():
                raise ValueError("flat failure")

            nbjobs.Job(held, label="held job", scheduler=flat)
            nbjobs.Job(broken, label="broken job", critical=False, scheduler=flat)
            flat_task = asyncio.ensure_future(flat.co_run())
            """
        )
    )
    running = listed.locator('.nbjobs-row[data-state="running"]')
    expect(running).to_have_count(1, timeout=20_000)
    expect(running).to_contain_text("held job")
    expect(listed.locator('.nbjobs-row[data-state="failed"]')).to_contain_text("broken job")
    expect(listed.locator(".nbjobs-progress-text")).to_have_text("2001/2002")
    running.click()
    panel = listed.locator(".nbjobs-panel")
    expect(panel).to_contain_text("held job")
    expect(panel.locator(".nbjobs-output")).to_contain_text("held and printing")
    # the timeline: the earliest jobs drawn, the others counted
    listed.locator('.nbjobs-tabs [data-tab="timeline"]').click()
    expect(listed.locator(".nbjobs-gantt-row")).to_have_count(300)
    expect(listed.locator(".nbjobs-gantt .nbjobs-note")).to_contain_text("1702 more jobs")
    root_shot = ARTIFACTS / "widget-list-mode.png"
    listed.screenshot(path=str(root_shot))
    kernel.run("gate.set()")
    kernel.run("await flat_task", timeout=60)
    expect(listed.locator(".nbjobs-progress-text")).to_have_text("2002/2002")
    # the panel's job finished: its state follows
    expect(panel).to_contain_text("succeeded")
    listed.locator('.nbjobs-tabs [data-tab="list"]').click()
    expect(listed.locator(".nbjobs-row")).to_have_count(1)  # the failed job alone

    assert page_log.dialogs == []
    assert page_log.outside == []
    assert [e for e in page_log.errors if "nbjobs" in e or "pageerror" in e] == []


SMALL = [
    cell(
        """
        import nbjobs
        from nbjobs._widget.widget import DagWidget

        async def nap():
            return 1

        s = nbjobs.Scheduler(label="small", view=False)
        a = nbjobs.Job(nap, label="a", scheduler=s)
        b = nbjobs.Job(nap, label="b", scheduler=s, required=a)
        DagWidget(s)
        """
    ),
    "await s.co_run()",
]


def test_layout_falls_back_to_the_page_without_a_worker(
    browser: Any, page_log: PageLog, lab: Lab, kernels: list[KernelSide]
) -> None:
    page = open_page(browser, page_log, init_script="globalThis.NBJOBS_LAYOUT_IN_PAGE = true;")
    try:
        kernel = run_all(page, lab, "small.ipynb", SMALL)
        kernels.append(kernel)
        root = page.locator(".nbjobs-dag")
        root.and_(page.locator('[data-ready="true"]')).wait_for(timeout=60_000)
        assert root.get_attribute("data-layout-where") == "page"
        page.wait_for_function(
            """() => [...document.querySelectorAll('.nbjobs-node')]
                 .map((e) => e.dataset.state).join() === 'succeeded,succeeded'""",
            timeout=20_000,
        )
        assert root.get_attribute("data-layouts") == "1"
        # a new job changes the structure: laid out again, the others keep their state
        kernel.run("c = nbjobs.Job(nap, label='c', scheduler=s, required=b)")
        page.wait_for_function(
            """() => [...document.querySelectorAll('.nbjobs-node')]
                 .map((e) => e.dataset.state).join() === 'succeeded,succeeded,idle'""",
            timeout=20_000,
        )
        assert root.get_attribute("data-layouts") == "2"
        assert page.locator(".nbjobs-edge").count() == 2
        assert page_log.outside == []
    finally:
        page.context.close()


NATIVE = [
    cell(
        """
        import asyncio
        import nbjobs

        async def step(i):
            await asyncio.sleep(0.2)
            print(f"step {i} done")
            return i

        s = nbjobs.Scheduler(label="native run")
        a = nbjobs.Job(step, 1, label="one", scheduler=s)
        b = nbjobs.Job(step, 2, label="two", scheduler=s, required=a)
        """
    ),
    "await s.co_run()",
]


def test_a_run_awaited_in_a_cell_shows_the_widget(
    page: Any, page_log: PageLog, lab: Lab, kernels: list[KernelSide]
) -> None:
    """No DagWidget in the notebook: the run's live view brings it."""
    kernels.append(run_all(page, lab, "native.ipynb", NATIVE))
    root = page.locator(".nbjobs-dag")
    root.and_(page.locator('[data-ready="true"]')).wait_for(timeout=60_000)
    page.wait_for_function(ALL_PROMPTS_DONE, timeout=60_000)
    page.wait_for_function(
        """() => [...document.querySelectorAll('.nbjobs-node')]
             .map((e) => e.dataset.state).join() === 'succeeded,succeeded'""",
        timeout=20_000,
    )
    assert root.count() == 1
    assert page.locator(".nbjobs-node .nbjobs-node-label").all_text_contents() == ["one", "two"]
    page.locator(".nbjobs-outcome", has_text="success").wait_for(timeout=10_000)
    assert page_log.outside == []
    assert [e for e in page_log.errors if "nbjobs" in e or "pageerror" in e] == []


NOTEBOOK7 = [
    cell(
        f"""
        import asyncio, json
        import nbjobs

        gate = asyncio.Event()

        async def first():
            print("first prints")
            await gate.wait()
            return 1

        async def second():
            return 2

        s = nbjobs.Scheduler(label="in notebook 7")
        a = nbjobs.Job(first, label="first", scheduler=s)
        b = nbjobs.Job(second, label={XSS!r}, scheduler=s, required=a)
        ids = dict(a=a.id, b=b.id)
        task = asyncio.ensure_future(s.co_run())
        s
        """
    ),
]


def test_notebook7_shows_the_run_live(
    page: Any, page_log: PageLog, lab: Lab, kernels: list[KernelSide]
) -> None:
    """The widget in Notebook 7's interface (the `notebook` package, same server): drawn,
    recoloured live, a click shows a job's output; the label stays text."""
    lab.write_notebook("nb7.ipynb", NOTEBOOK7)
    before = set(kernel_ids(lab))
    page.goto(lab.notebook7_url("nb7.ipynb"))
    # Notebook 7 has no status bar: its kernel indicator says when the kernel is idle
    page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for(timeout=60_000)
    click_run_all(page)
    started = [k for k in kernel_ids(lab) if k not in before]
    assert len(started) == 1, f"expected one new kernel, got {started}"
    kernel = KernelSide(lab.runtime / f"kernel-{started[0]}.json")
    kernels.append(kernel)
    root = page.locator(".nbjobs-dag")
    try:
        root.and_(page.locator('[data-ready="true"]')).wait_for(timeout=60_000)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "notebook7-failure.png"))
        raise
    ids: dict[str, int] = kernel.value("json.dumps(ids)")
    wait_states(page, {ids["a"]: "running", ids["b"]: "idle"})
    node_b = root.locator(NODE.format(ids["b"]))
    expect(node_b).to_contain_text(XSS)  # the label shows as its characters
    root.locator(NODE.format(ids["a"])).click()
    expect(root.locator(".nbjobs-panel .nbjobs-output")).to_contain_text("first prints")
    kernel.run("gate.set()")
    wait_states(page, {ids["a"]: "succeeded", ids["b"]: "succeeded"})
    expect(root.locator(".nbjobs-progress-text")).to_have_text("2/2")
    root.screenshot(path=str(ARTIFACTS / "widget-notebook7.png"))
    assert page_log.dialogs == []
    assert page_log.outside == []
    # Notebook 7 served next to JupyterLab throws one error of its own (a settings schema
    # in notebook_core): only errors from the widget's code count here (its module is
    # loaded from a blob: URL)
    assert [e for e in page_log.errors if "nbjobs" in e or "blob:" in e] == []
