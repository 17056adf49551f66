"""Smoke test of ``python -m benchmarks.render`` (tiny graph, one drawing each), so that a
broken harness fails CI. Nothing here is timed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# benchmarks/ is not part of the installed package: import it from the checkout.
if str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import render


def test_render_benchmark_prints_a_row_per_renderer(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBJOBS_GRAPHVIZ", "auto")  # restored after: it sets it per renderer
    assert render.main(["--sizes", "5", "--reps", "1", "--fresh", "1"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 5 |")]
    renderers = [row.split("|")[2].strip() for row in rows]
    assert renderers[-1] == "wasm" and set(renderers) <= {"dot", "wasm"}
    assert all(row.count(" ms |") == 2 for row in rows)
