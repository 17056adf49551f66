"""Job bodies on executors: GIL-bound jobs in threads, on a process pool and on Dask, and
nbjobs' overhead per job on Dask against bare ``client.submit`` of the same DAG.

    python -m benchmarks.executors            # the full comparison (a few minutes)
    python -m benchmarks.executors --quick    # a smoke run: tiny jobs, one rep

Needs the ``dask`` extra (``pip install -e '.[dask]'``). Not a test: nothing here asserts
a speed. Results go to stdout as Markdown; ``benchmarks/README.md`` keeps the last ones.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from benchmarks import dags

# ---- bodies ---------------------------------------------------------------------------------


def spin(loops: int, *inputs: int) -> int:
    """Pure Python: holds the GIL for its whole duration."""
    total = 0
    for i in range(loops):
        total += i % 7
    return total % 10 + sum(inputs) % 10


def noop(*inputs: int) -> int:
    return len(inputs)


def calibrate(seconds: float) -> int:
    """How many loops of ``spin`` take ``seconds`` here."""
    loops = 100_000
    while True:
        begin = time.perf_counter()
        spin(loops)
        took = time.perf_counter() - begin
        if took > 0.05:
            return max(1, int(loops * seconds / took))
        loops *= 4


# ---- the DAG as nbjobs jobs, and as bare Dask ------------------------------------------------


def nbjobs_run(
    dag: dags.Dag, body: Callable[..., int], first: tuple[Any, ...], executor: Any
) -> float:
    from nbjobs import Job, Scheduler

    jobs: list[Any] = []
    for required in dag.required:
        inputs = [jobs[r] for r in required]
        jobs.append(Job(body, *first, *inputs, executor=executor))
    s = Scheduler(*jobs)
    begin = time.perf_counter()
    ok = s.run(view=False)
    if not ok:
        raise RuntimeError(f"the run failed: {s.why()}")
    for i in leaves(dag):
        jobs[i].result()  # the results nothing consumed, fetched as the bare runs do
    return time.perf_counter() - begin


def leaves(dag: dags.Dag) -> list[int]:
    """The jobs no other job consumes (intermediate results stay on the workers)."""
    used = {r for required in dag.required for r in required}
    return [i for i in range(len(dag.required)) if i not in used]


def bare_upfront(
    client: Any, dag: dags.Dag, body: Callable[..., int], first: tuple[Any, ...]
) -> float:
    """Every task submitted at once, dependencies as futures: what Dask does best."""
    begin = time.perf_counter()
    futures: list[Any] = []
    for required in dag.required:
        futures.append(client.submit(body, *first, *[futures[r] for r in required], pure=False))
    # every job is a leaf or comes before one: gathering the leaves waits for all
    client.gather([futures[i] for i in leaves(dag)])
    took = time.perf_counter() - begin
    del futures
    return took


def bare_when_ready(
    client: Any, dag: dags.Dag, body: Callable[..., int], first: tuple[Any, ...]
) -> float:
    """Each task submitted when its requirements are done (what nbjobs does), by a loop
    over ``as_completed``."""
    from distributed import as_completed

    successors: list[list[int]] = [[] for _ in dag.required]
    pending = [len(r) for r in dag.required]
    for i, required in enumerate(dag.required):
        for r in required:
            successors[r].append(i)
    begin = time.perf_counter()
    futures: dict[int, Any] = {}
    index: dict[str, int] = {}

    def submit(i: int) -> Any:
        fut = client.submit(body, *first, *[futures[r] for r in dag.required[i]], pure=False)
        futures[i] = fut
        index[fut.key] = i
        return fut

    done = as_completed([submit(i) for i, n in enumerate(pending) if n == 0], loop=client.loop)
    for fut in done:
        for nxt in successors[index[fut.key]]:
            pending[nxt] -= 1
            if pending[nxt] == 0:
                done.add(submit(nxt))
    client.gather([futures[i] for i in leaves(dag)])
    took = time.perf_counter() - begin
    futures.clear()
    return took


# ---- the comparison ----------------------------------------------------------------------------


def paired(before: list[float], after: list[float]) -> float:
    """The median over reps of ``before / after`` within the same rep (the variants of a
    rep run one after the other, so a slow spell of the machine hits them alike)."""
    return statistics.median(b / a for b, a in zip(before, after, strict=True))


@dataclass
class Result:
    what: str
    times: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny jobs, one rep (a smoke run)")
    parser.add_argument("--reps", type=int, default=5, help="runs per cell (median reported)")
    parser.add_argument("--seconds", type=float, default=0.2, help="duration of a GIL-bound job")
    parser.add_argument("--gil-jobs", type=int, default=16, help="GIL-bound jobs (layers of 4)")
    parser.add_argument("--overhead-jobs", type=int, default=200, help="no-op jobs (layers of 20)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.quick:
        args.reps, args.seconds, args.gil_jobs, args.overhead_jobs = 1, 0.01, 8, 20

    from nbjobs.dask import DaskExecutor

    loops = calibrate(args.seconds)
    gil_dag = dags.layered(args.gil_jobs, layer_size=4, fanin=2)
    over_dag = dags.layered(args.overhead_jobs, layer_size=20, fanin=3)
    rows: list[Result] = []
    overhead: list[Result] = []
    with (
        ProcessPoolExecutor(args.workers) as pool,
        DaskExecutor(n_workers=args.workers, threads_per_worker=1) as ex,
    ):
        client = ex.client
        client.wait_for_workers(args.workers, timeout=120)
        # warm-up: processes started, functions shipped once
        nbjobs_run(dags.layered(4, layer_size=2, fanin=1), spin, (10,), pool)
        nbjobs_run(dags.layered(4, layer_size=2, fanin=1), spin, (10,), ex)
        bare_upfront(client, dags.layered(4, layer_size=2, fanin=1), noop, ())
        where: dict[str, Any] = {
            "threads (plain functions)": None,
            f"process pool ({args.workers} processes)": pool,
            f"Dask ({args.workers} worker processes)": ex,
        }
        # interleaved, so that a slow spell of the machine hits every variant alike
        times: dict[str, list[float]] = {what: [] for what in where}
        for _ in range(args.reps):
            for what, executor in where.items():
                times[what].append(nbjobs_run(gil_dag, spin, (loops,), executor))
        rows = [Result(what, t) for what, t in times.items()]
        # interleaved, so that a slow spell of the machine hits every variant alike
        quiet = DaskExecutor(client=client, show_workers=False)
        cells: dict[str, list[float]] = {
            "nbjobs on Dask": [],
            "nbjobs on Dask, show_workers=False": [],
            "bare submit, all at once": [],
            "bare submit, when ready": [],
        }
        for _ in range(args.reps):
            cells["nbjobs on Dask"].append(nbjobs_run(over_dag, noop, (), ex))
            cells["nbjobs on Dask, show_workers=False"].append(
                nbjobs_run(over_dag, noop, (), quiet)
            )
            cells["bare submit, all at once"].append(bare_upfront(client, over_dag, noop, ()))
            cells["bare submit, when ready"].append(bare_when_ready(client, over_dag, noop, ()))
        quiet.close()  # a client given to it stays open
        overhead = [Result(what, t) for what, t in cells.items()]

    threads = rows[0].median
    print(
        f"## GIL-bound jobs: {args.gil_jobs} jobs of ~{args.seconds:g}s (pure-Python loop), "
        f"layers of 4, 2 inputs each; median of {args.reps} run(s), {os.cpu_count()} cores\n"
    )
    print("| where the bodies run | run (s) | speed-up over threads | paired speed-up |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.what} | {r.median:.2f} | {threads / r.median:.2f}x "
            f"| {paired(rows[0].times, r.times):.2f}x |"
        )
    base = overhead[2].median
    when_ready = overhead[3].median
    n = args.overhead_jobs
    print(
        f"\n## Overhead on Dask: {n} no-op jobs, layers of 20, 3 inputs each (data edges); "
        f"median of {args.reps} run(s)\n"
    )
    print(
        "| runner | run (s) | ms per job | vs bare, all at once | vs bare, when ready "
        "| nbjobs / this, paired |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for r in overhead:
        print(
            f"| {r.what} | {r.median:.3f} | {1000 * r.median / n:.2f} | {r.median / base:.2f}x "
            f"| {r.median / when_ready:.2f}x | {paired(overhead[0].times, r.times):.2f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
