"""DOT output: structure, styles, statuses, escaping; SVG/PNG export needs `dot`."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from nbjobs import DotNotFoundError, Job, Scheduler, Sequence
from tests.conftest import run_checked


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
    assert 'fillcolor="#eeeeee"' in s.dot_format()
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


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_export_svg_and_png(tmp_path: Path) -> None:
    s, *_ = make()
    svg = s.export_as_svgfile(str(tmp_path / "g"))
    assert svg.endswith("g.svg") and Path(svg).read_text().lstrip().startswith("<?xml")
    png = s.export_as_pngfile(str(tmp_path / "g.png"))
    assert Path(png).read_bytes()[:4] == b"\x89PNG"


def test_export_without_dot_names_the_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    s, *_ = make()
    with pytest.raises(DotNotFoundError, match="'dot' program of Graphviz"):
        s.export_as_svgfile(str(tmp_path / "g"))


def test_graph_is_a_graphviz_digraph() -> None:
    import graphviz

    s, *_ = make()
    graph = s.graph()
    assert isinstance(graph, graphviz.Digraph)
    assert graph.source == s.dot_format()
