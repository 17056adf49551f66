"""Instructions per job of a run, counted by valgrind's callgrind: nbjobs next to the
minimal in-degree-counting runner, on the shapes and sizes of ``benchmarks.run``.

Wall time on a shared or virtual machine swings by 10-30 % from one process to the next
(other tenants, CPU steal), more than the differences worth measuring between two runners.
An instruction count does not: the same program on the same input counts the same
instructions whatever else the machine does, so a ratio of counts is repeatable to the
last digit. It does not see cache misses or system calls, so it complements the timed
table of ``benchmarks.run`` rather than replacing it.

Each cell runs two processes per runner under callgrind, with the same fixed hash seed: one
builds the graph and runs it, the other only builds it (after the same warm-up); the
difference, divided by the number of jobs, is what the run cost.

    python -m benchmarks.instructions                       # 10k jobs, every shape, ~5 min
    python -m benchmarks.instructions --sizes 1000 --jobs 2 # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import datetime
import gc
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import dags
from benchmarks.run import TARGET_VS_MINIMAL, Cell, _row, _windows, machine
from benchmarks.runners import RUNNERS, sleep_body

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")
#: fewer instructions per job than this is no run: an asyncio task alone (create_task, two
#: steps) costs tens of thousands; a count of the build alone, or of nothing, would be here
TOO_FEW = 1_000


def worker(runner_name: str, cell: Cell, run: bool) -> int:
    """Build ``cell`` for ``runner_name`` after a warm-up, and run it when ``run``."""
    runner = RUNNERS[runner_name]
    with asyncio.Runner() as aio:
        warm = runner.prepare(dags.make(cell.shape, 10), sleep_body, cell.window)
        aio.run(_await(warm.run()))
        dag = dags.make(cell.shape, cell.n)
        gc.collect()  # as benchmarks.run does before it builds: the same heap to start from
        prepared = runner.prepare(dag, sleep_body, cell.window)
        if run:
            aio.run(_await(prepared.run()))
            if prepared.completed() != cell.n:
                print(f"{prepared.completed()} of {cell.n} jobs completed", file=sys.stderr)
                return 1
    return 0


async def _await(awaitable: object) -> None:
    await awaitable  # type: ignore[misc]


def count(runner_name: str, cell: Cell, run: bool, valgrind: str) -> int:
    """Instructions callgrind counted in a worker process (the whole process)."""
    spec = json.dumps([runner_name, cell.shape, cell.n, cell.window, run])
    env = dict(os.environ, PYTHONHASHSEED="0")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [
            valgrind,
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-m",
            "benchmarks.instructions",
            "--worker",
            spec,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    found = _COLLECTED.findall(proc.stderr)
    if proc.returncode != 0 or not found:
        tail = proc.stderr.strip().splitlines()[-3:]
        raise RuntimeError(f"{runner_name} {cell.label()}: callgrind failed: {tail}")
    return int(found[-1])


def per_job(runner_name: str, cell: Cell, valgrind: str) -> float:
    """Instructions per job of the run alone: (build + run) - build, over the jobs."""
    whole = count(runner_name, cell, True, valgrind)
    return (whole - count(runner_name, cell, False, valgrind)) / cell.n


def render(results: dict[tuple[str, Cell], float], runners: Sequence[str]) -> str:
    info = machine()
    lines = [
        f"Counted {datetime.date.today().isoformat()} by callgrind on {info['cpu']}, "
        f"{info['python']}; thousands of instructions per job of the run (build excluded), "
        "job body `await asyncio.sleep(0)`.",
        "",
    ]
    columns = ["shape", "jobs", "window", *runners]
    ratio = "minimal" in runners and "nbjobs" in runners
    if ratio:
        columns.append(f"nbjobs / minimal (≤ {TARGET_VS_MINIMAL:g})")
    lines += [_row(columns), _row(["---"] * len(columns))]
    for cell in dict.fromkeys(c for _, c in results):
        row = [cell.shape, f"{cell.n:,}", str(cell.window or "–")]
        row += [f"{results[(r, cell)] / 1000:.1f}" for r in runners]
        if ratio:
            r = results[("nbjobs", cell)] / results[("minimal", cell)]
            row.append(f"{r:.2f} {'✓' if r <= TARGET_VS_MINIMAL else '✗'}")
        lines.append(_row(row))
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__)
    p.add_argument("--runners", default="minimal,nbjobs", help="comma-separated")
    p.add_argument("--shapes", default=",".join(dags.SHAPES), help="comma-separated")
    p.add_argument("--sizes", default="10000", help="comma-separated")
    p.add_argument("--windows", default="none,100", help="comma-separated; 'none' = no window")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes at once")
    p.add_argument("--output", type=Path, default=RESULTS / "instructions.md")
    p.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        name, shape, n, window, run = json.loads(args.worker)
        return worker(name, Cell(shape, n, window), run)
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        sys.exit("valgrind is needed to count instructions (Debian: apt-get install valgrind)")
    runners = [r for r in args.runners.split(",") if r]
    unknown = [r for r in runners if r not in RUNNERS]
    if unknown:
        sys.exit(f"unknown runner(s) {unknown}; choose among {', '.join(RUNNERS)}")
    cells = [
        Cell(shape, int(n), window)
        for n in args.sizes.split(",")
        for shape in args.shapes.split(",")
        for window in _windows(args.windows)
    ]
    todo = [(r, c) for c in cells for r in runners if RUNNERS[r].supports(c.shape, c.window)]
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures = {key: pool.submit(per_job, *key, valgrind) for key in todo}
        results = {}
        for key, future in futures.items():
            results[key] = future.result()
            print(f"{key[1].label()} {key[0]}: {results[key]:.0f} per job", file=sys.stderr)
    too_few = [f"{c.label()} {r}" for (r, c), value in results.items() if value < TOO_FEW]
    if too_few:
        print(f"fewer than {TOO_FEW} instructions per job, not a run:", *too_few, file=sys.stderr)
        return 1
    table = render(results, [r for r in runners if any(k[0] == r for k in results)])
    print(table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
