"""The graph's SVG picture in the static fallbacks (where the widget cannot run)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from nbjobs import GraphvizError, Job, Scheduler, Status
from nbjobs._jupyter.display import LiveView, table_bundle
from nbjobs._views import dot as dot_module
from nbjobs._views.format import PALETTE
from nbjobs._views.picture import PICTURE_MAX_JOBS, picture_html, safe_svg

XSS = "<img src=x onerror=alert(1)>"


async def noop() -> None:
    await asyncio.sleep(0)


def small() -> Scheduler:
    s = Scheduler(label="pictured", view=False)
    a = Job(noop, label=XSS, scheduler=s)
    Job(noop, label="after", scheduler=s, required=a)
    return s


def test_a_finished_run_is_pictured_with_its_states_and_labels_as_text(
    arun: Callable[..., Any], renderer: str
) -> None:
    s = small()
    assert "<svg" not in table_bundle(s, full=None)["text/html"]  # not asked for
    arun(s.co_run)
    html = table_bundle(s, full=True)["text/html"]
    picture = html[html.index('<div class="nbjobs-picture"') :]
    assert "<svg" in picture
    # the label is text inside the picture, never markup
    assert "&lt;img src=x onerror=alert(1)&gt;" in picture
    assert "<img" not in picture
    # each job's state shows as its node's fill colour
    assert picture.count(f'fill="{PALETTE[Status.SUCCEEDED].fill}"') == 2


def test_no_picture_while_running_or_for_a_big_graph(
    arun: Callable[..., Any], renderer: str
) -> None:
    async def main() -> None:
        s = small()
        gate = asyncio.Event()
        Job(gate.wait, label="held", scheduler=s)
        run = asyncio.create_task(s.co_run())
        await asyncio.sleep(0.01)
        assert s.is_running_now
        assert "<svg" not in table_bundle(s, full=True)["text/html"]
        gate.set()
        await run
        assert "<svg" in table_bundle(s, full=True)["text/html"]

    arun(main)
    big = Scheduler(view=False)
    for i in range(PICTURE_MAX_JOBS + 1):
        Job(noop, label=f"j{i}", scheduler=big)
    assert picture_html(big) == ""
    assert picture_html(Scheduler(view=False)) == ""


def test_no_picture_when_graphviz_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(source: str, timeout: float | None = None) -> str:
        raise GraphvizError("Graphviz's dot took longer than 10 s to draw the graph")

    monkeypatch.setattr(dot_module, "render_svg", failing)
    assert picture_html(small()) == ""


def test_an_svg_refused_as_unsafe_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    def hostile(source: str, timeout: float | None = None) -> str:
        return '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'

    monkeypatch.setattr(dot_module, "render_svg", hostile)
    assert picture_html(small()) == ""


def test_a_scheduler_at_rest_is_displayed_with_its_picture(
    monkeypatch: pytest.MonkeyPatch, renderer: str
) -> None:
    shown: list[dict[str, Any]] = []

    class Display:
        def display(self, bundle: dict[str, Any], **_: Any) -> None:
            shown.append(bundle)

    monkeypatch.setattr("nbjobs._jupyter.display._ipython_display_module", Display)
    from nbjobs._jupyter.display import ipython_display

    s = small()
    s.view = "text"
    ipython_display(s)
    assert "<svg" in shown[-1]["text/html"]
    # and a live view's bundles while it follows a run carry no picture
    assert "<svg" not in LiveView(s).bundle()["text/html"]


@pytest.mark.parametrize(
    "svg",
    [
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><g ONCLICK="x()"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><div/></foreignObject></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        '<a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><image href="http://x/y.png"/></svg>',
        "<svg><unclosed></svg>",
        "no svg at all",
    ],
)
def test_an_svg_that_could_run_or_load_anything_is_refused(svg: str) -> None:
    assert safe_svg(svg) is None


def test_a_plain_svg_is_kept_without_its_prologue() -> None:
    text = (
        '<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x.dtd">\n'
        '<svg xmlns="http://www.w3.org/2000/svg"><!-- c --><g><text>a &lt; b</text></g></svg>'
    )
    assert safe_svg(text) == text[text.index("<svg") :]
