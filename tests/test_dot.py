"""DOT output: structure, styles, statuses, escaping; SVG drawn with or without Graphviz's
`dot` (PNG needs it)."""

from __future__ import annotations

import asyncio
import gc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from nbjobs import DotNotFoundError, GraphvizError, Job, Scheduler, Sequence, Status
from nbjobs._views import dot as dot_module
from nbjobs._views.dot import render_svg
from nbjobs._views.format import PALETTE
from tests.conftest import hide_dot, run_checked


def make() -> tuple[Scheduler, Job, Job, Scheduler]:
    crit = Job(asyncio.sleep, 0, label="crit")
    loose = Job(asyncio.sleep, 0, label='say "hi" \\ <b>', critical=False, forever=True)
    inner = Scheduler(
        Sequence(Job(asyncio.sleep, 0, label="i1"), Job(asyncio.sleep, 0, label="i2")),
        label="inner",
        required=crit,
    )
    return Scheduler(crit, loose, inner), crit, loose, inner


def test_dot_shows_clusters_styles_and_escapes_labels() -> None:
    s, crit, loose, inner = make()
    dot = s.dot_format()
    assert f"subgraph cluster_j{inner.id}" in dot
    assert f"j{crit.id} [label=crit" in dot
    line = next(line for line in dot.splitlines() if line.strip().startswith(f"j{crit.id} "))
    assert "color=red" in line and "penwidth=2" in line
    line = next(line for line in dot.splitlines() if line.strip().startswith(f"j{loose.id} "))
    assert "dashed" in line and "penwidth=0.5" in line
    assert r"say \"hi\" \\ <b>" in line
    # an edge into a cluster points at its entry job, with lhead
    assert f"lhead=cluster_j{inner.id}" in dot


def test_dot_fill_follows_status() -> None:
    s, crit, *_ = make()
    assert f'fillcolor="{PALETTE[Status.IDLE].fill}"' in s.dot_format()
    run_checked(s.co_run)
    line = next(
        line for line in s.dot_format().splitlines() if line.strip().startswith(f"j{crit.id} ")
    )
    assert "nbjobs-succeeded" in line
    assert "fillcolor" not in s.dot_format(statuses=False)


def test_export_dotfile(tmp_path: Path) -> None:
    s, *_ = make()
    target = tmp_path / "g.dot"
    assert s.export_as_dotfile(str(target)) == f"(Over)wrote {target}"
    assert target.read_text().startswith("digraph")


def test_export_svg_draws_every_job_with_or_without_dot(tmp_path: Path, renderer: str) -> None:
    s, crit, loose, inner = make()
    svg = s.export_as_svgfile(str(tmp_path / "g"))
    assert svg == str(tmp_path / "g.svg")
    text = Path(svg).read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml") and text.rstrip().endswith("</svg>")
    # every job is its node, found by id; the cluster too; labels are text
    for job in (crit, loose, *inner.jobs):
        assert f'id="j{job.id}"' in text
    assert f'id="cluster_j{inner.id}"' in text
    assert "say &quot;hi&quot; \\ &lt;b&gt;" in text
    # the DOT is written beside it, as asynciojobs does
    assert (tmp_path / "g.dot").read_text().startswith("digraph")


def test_png_needs_dot(tmp_path: Path, renderer: str) -> None:
    s, *_ = make()
    if renderer == "dot":
        png = s.export_as_pngfile(str(tmp_path / "g.png"))
        assert Path(png).read_bytes()[:4] == b"\x89PNG"
        return
    # Graphviz in process only writes SVG: the error says how to get PNG, and that SVG works
    with pytest.raises(DotNotFoundError, match="'dot' program of Graphviz") as raised:
        s.export_as_pngfile(str(tmp_path / "g.png"))
    assert "install Graphviz" in str(raised.value)
    assert "export_as_svgfile() works without it" in str(raised.value)
    assert not (tmp_path / "g.png").exists()


def test_labels_in_any_script_reach_the_svg(renderer: str) -> None:
    s = Scheduler(Job(asyncio.sleep, 0, label="é ü 漢字 🙂"), Job(asyncio.sleep, 0, label="a & b"))
    svg = render_svg(s.dot_format())
    assert "é ü 漢字 🙂" in svg and "a &amp; b" in svg


def test_a_graph_graphviz_refuses_is_a_graphviz_error(renderer: str) -> None:
    with pytest.raises(GraphvizError, match="Graphviz"):
        render_svg("digraph { a -> ")


def test_a_drawing_past_its_timeout_is_given_up(renderer: str) -> None:
    jobs: list[Job] = []
    for i in range(3000):
        jobs.append(Job(asyncio.sleep, 0, label=f"job {i}", required=jobs[i // 2] if i else None))
    s = Scheduler(*jobs)
    with pytest.raises(GraphvizError, match=r"took longer than 0\.001 s"):
        render_svg(s.dot_format(), timeout=0.001)
    # and the next drawing is not hurt
    assert "</svg>" in render_svg("digraph { a -> b }")


def test_nbjobs_graphviz_wasm_draws_in_process_even_with_dot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_subprocess(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"ran a program: {args}")

    monkeypatch.setattr(dot_module.subprocess, "run", no_subprocess)
    monkeypatch.setenv("NBJOBS_GRAPHVIZ", "wasm")
    assert dot_module.renderer() == "wasm"
    assert "</svg>" in render_svg("digraph { a -> b }")
    # PNG still needs dot, which the variable sets aside
    s, *_ = make()
    with pytest.raises(DotNotFoundError, match="set aside by NBJOBS_GRAPHVIZ=wasm"):
        s.export_as_pngfile("never.png")


def test_nbjobs_graphviz_dot_insists_on_dot(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_dot(monkeypatch)
    monkeypatch.setenv("NBJOBS_GRAPHVIZ", "dot")
    with pytest.raises(DotNotFoundError, match="NBJOBS_GRAPHVIZ=dot"):
        render_svg("digraph { a -> b }")
    monkeypatch.setenv("NBJOBS_GRAPHVIZ", "svg")
    with pytest.raises(ValueError, match="NBJOBS_GRAPHVIZ='svg' is not a renderer"):
        render_svg("digraph { a -> b }")


def test_in_process_graphviz_compiles_once_and_keeps_no_instance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Threads that draw at the same time share one compiled module; each drawing's
    instance (its store and memory) is gone when it returns."""
    import wasmtime

    monkeypatch.setenv("NBJOBS_GRAPHVIZ", "wasm")
    compiled: list[object] = []
    original = dot_module._Compiled.__init__

    def counting(self: Any) -> None:
        compiled.append(self)
        original(self)

    monkeypatch.setattr(dot_module, "_compiled", None)
    monkeypatch.setattr(dot_module._Compiled, "__init__", counting)
    sources = [f'digraph {{ "a{i}" -> "b{i}" }}' for i in range(8)]
    with ThreadPoolExecutor(4) as pool:
        svgs = list(pool.map(render_svg, sources))
    for i, svg in enumerate(svgs):
        assert f"<title>a{i}</title>" in svg and f"<title>b{i}</title>" in svg
    assert len(compiled) == 1 and dot_module._compiled is compiled[0]
    gc.collect()
    assert not [o for o in gc.get_objects() if isinstance(o, wasmtime.Store)]


def test_graph_is_a_graphviz_digraph() -> None:
    import graphviz

    s, *_ = make()
    graph = s.graph()
    assert isinstance(graph, graphviz.Digraph)
    assert graph.source == s.dot_format()
    assert isinstance(graph.copy(), type(graph))


def test_graph_shows_as_svg_in_a_notebook_with_or_without_dot(renderer: str) -> None:
    s, crit, *_ = make()
    bundle = s.graph()._repr_mimebundle_()
    assert list(bundle) == ["image/svg+xml"]
    assert f'id="j{crit.id}"' in bundle["image/svg+xml"]
    # graphviz.set_jupyter_format("png"): only dot draws PNG; without it, SVG is shown
    bundle = s.graph()._repr_mimebundle_(include=["image/png"])
    if renderer == "dot":
        assert list(bundle) == ["image/png"] and bundle["image/png"][:4] == b"\x89PNG"
    else:
        assert list(bundle) == ["image/svg+xml"]
        with pytest.raises(DotNotFoundError, match="install Graphviz"):
            s.graph()._repr_image_png()
