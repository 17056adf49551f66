"""What a graph costs to build and to hold, next to what its run costs.

``benchmarks.run`` times the run alone. A user also pays for making the jobs and the
scheduler, and for the memory they hold. Here each measurement is a fresh process that
builds the graph description, then the runner's objects (construction), then runs it;
it reports both times and the peak resident memory above the process's base (after
imports and a 10-job warm-up of the same shape).

Two ways of giving the bodies, each against the minimal in-degree runner given the same:

- ``fn``: ``Job(async_fn, i)``; the minimal runner calls ``body(i)`` when a job is ready.
  Every coroutine is made inside the run, on both sides.
- ``coro``: ``Job(coroutine)``, asynciojobs' way; the minimal runner is handed the same
  coroutine objects, made before its run. The run then holds scheduling only.

Ratios are paired: each rep runs the two processes of a pair one after the other (in
alternating order), and a ratio is the median over reps of the ratio within a rep.

    python -m benchmarks.cost                         # 100k jobs, every shape, 3 reps
    python -m benchmarks.cost --sizes 1000000 --shapes layered --reps 1
    python -m benchmarks.cost --quick                 # 2k jobs, one rep: a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import dags
from benchmarks.runners import build_scheduler, run_minimal, sleep_body

ROOT = Path(__file__).resolve().parent.parent
#: (nbjobs' form, the minimal runner given the same bodies)
PAIRS = {"fn": ("nbjobs", "minimal"), "coro": ("nbjobs-coro", "minimal-coro")}
TARGET_MEMORY = 1.5
TARGET_TIME = 1.3


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _build(runner: str, dag: dags.Dag) -> tuple[Any, Any]:
    """What the runner makes before its run, and the coroutine function that runs it."""
    if runner == "minimal":
        return None, lambda: run_minimal(dag, sleep_body, None)
    if runner == "minimal-coro":
        coros = [sleep_body(i) for i in range(dag.n)]
        return coros, lambda: run_minimal(dag, coros.__getitem__, None)  # type: ignore[arg-type]
    jobs, scheduler = build_scheduler(
        "nbjobs", dag, sleep_body, None, coroutine=runner == "nbjobs-coro"
    )

    async def run() -> None:
        if await scheduler.co_run() is not True:
            raise RuntimeError(f"the run failed: {scheduler.why()}")

    return (jobs, scheduler), run


def worker(runner: str, shape: str, n: int) -> dict[str, float]:
    warm_made, warm_run = _build(runner, dags.make(shape, 10))
    asyncio.run(warm_run())
    del warm_made, warm_run
    gc.collect()
    base = max(_rss(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    start = time.perf_counter()
    dag = dags.make(shape, n)
    made_at = time.perf_counter()
    _made, run = _build(runner, dag)
    built_at = time.perf_counter()
    asyncio.run(run())
    ran_at = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "dag_s": made_at - start,
        "construction_s": built_at - made_at,
        "run_s": ran_at - built_at,
        "peak_mib": (peak - base) / 2**20,
    }


def spawn(runner: str, shape: str, n: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.cost", "--worker", f"{runner}:{shape}:{n}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _total(sample: dict[str, float]) -> float:
    return sample["construction_s"] + sample["run_s"]


def measure(shapes: Sequence[str], sizes: Sequence[int], forms: Sequence[str], reps: int) -> str:
    rows = [
        "| shape | jobs | form | construction, µs/job | run, µs/job | peak MiB | "
        f"construction + run ratio (≤ {TARGET_TIME}) | run ratio (≤ {TARGET_TIME}) | "
        f"memory ratio (≤ {TARGET_MEMORY}) |",
        "|---|---:|---|---|---|---|---:|---:|---:|",
    ]
    for n in sizes:
        for shape in shapes:
            for form in forms:
                ours, ref = PAIRS[form]
                pairs: Pairs = []
                for rep in range(reps):
                    order = (ours, ref) if rep % 2 == 0 else (ref, ours)
                    got = {name: spawn(name, shape, n) for name in order}
                    pairs.append((got[ours], got[ref]))
                    print(f"  {shape} {n} {form} rep {rep}: {got}", file=sys.stderr)

                rows.append(_row(shape, n, form, pairs))
    return "\n".join(rows)


Pairs = list[tuple[dict[str, float], dict[str, float]]]


def _median(pairs: Pairs, side: int, key: str, scale: float = 1.0) -> float:
    return statistics.median(pair[side][key] for pair in pairs) * scale


def _ratio(pairs: Pairs, of: Any) -> float:
    return statistics.median(of(ours) / of(ref) for ours, ref in pairs)


def _mark(value: float, target: float) -> str:
    return f"{value:.2f}" + ("" if value <= target else " ✗")


def _row(shape: str, n: int, form: str, pairs: Pairs) -> str:
    per_job = 1e6 / n
    columns = [shape, f"{n:,}", form]
    for key, scale, digits in (
        ("construction_s", per_job, 2),
        ("run_s", per_job, 2),
        ("peak_mib", 1.0, 0),
    ):
        ours, ref = (_median(pairs, side, key, scale) for side in (0, 1))
        columns.append(f"{ours:.{digits}f} / {ref:.{digits}f}")
    columns += [
        _mark(_ratio(pairs, _total), TARGET_TIME),
        _mark(_ratio(pairs, lambda s: s["run_s"]), TARGET_TIME),
        _mark(_ratio(pairs, lambda s: s["peak_mib"]), TARGET_MEMORY),
    ]
    return "| " + " | ".join(columns) + " |"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cost", description=__doc__)
    parser.add_argument("--shapes", default=",".join(dags.SHAPES))
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--forms", default="fn,coro", help="fn, coro or both")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2k jobs, one rep")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        runner, shape, n = args.worker.split(":")
        print(json.dumps(worker(runner, shape, int(n))))
        return 0
    sizes = [2000] if args.quick else [int(s) for s in args.sizes.split(",")]
    reps = 1 if args.quick else args.reps
    table = measure(args.shapes.split(","), sizes, args.forms.split(","), reps)
    legend = (
        "\nEach pair of numbers is nbjobs / the minimal runner (medians); ratios are "
        "medians of the ratios within a rep; ✗ marks a ratio above its target."
    )
    print(table + legend)
    if args.output:
        args.output.write_text(table + legend + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
