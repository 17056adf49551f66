"""Compare nbjobs with asyncio.gather, a minimal in-degree-counting runner and asynciojobs.

Every measurement runs in a fresh process (this module with ``--worker``), so that no run
inherits another's heap, caches or garbage. The parent interleaves runners within each
cell so that nbjobs' process runs right next to each runner it is compared with
(:func:`rep_order`), takes each runner's median and the median ratio of the pairs
(:func:`paired_ratio`), and prints Markdown tables (also written to results/latest.md,
with the raw numbers in results/latest.json).

    python -m benchmarks.run            # the full comparison (about 20-25 minutes on 2 cores)
    python -m benchmarks.run --quick    # smoke run: 1k jobs, one process per cell
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import gc
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any

# `python benchmarks/run.py` puts benchmarks/ first on sys.path, not the repository root.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import dags
from benchmarks.runners import DEFAULT_RUNNERS, RUNNERS, sleep_body

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"

SIZES = (1_000, 10_000, 100_000)
WINDOWS: tuple[int | None, ...] = (None, 100)
TIMEOUT_EXIT = 3  # a worker's exit status when its run hit the timeout

# Targets of the issue, checked in the table.
TARGET_VS_MINIMAL = 1.3  # nbjobs / minimal, every cell
TARGET_VS_ASYNCIOJOBS = 3.0  # asynciojobs / nbjobs, at 10k jobs
TARGET_MEMORY = 0.5  # nbjobs / asynciojobs peak memory, at 100k jobs


# ---------------------------------------------------------------------------- worker


@dataclass(frozen=True, slots=True)
class Cell:
    shape: str
    n: int
    window: int | None

    def label(self) -> str:
        return f"{self.shape} {self.n} window={self.window}"


@dataclass(slots=True)
class Sample:
    """What one worker process measured."""

    status: str  # "ok", "timeout", "error"
    build_s: float | None = None
    run_s: float | None = None
    peak_bytes: int | None = None  # tracemalloc peak over build + run (memory workers only)
    maxrss_delta_kib: int | None = None  # ru_maxrss growth over build + run
    completed: int | None = None
    error: str | None = None
    rep: int | None = None  # which rep of its cell (set by the parent): pairs runners' samples


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    # A quadratic run cannot be cancelled cheaply (cancelling 100k tasks is itself slow):
    # report and leave at once.
    print(json.dumps(asdict(Sample("timeout"))), flush=True)
    os._exit(TIMEOUT_EXIT)


def measure(runner_name: str, cell: Cell, *, memory: bool, timeout: float | None = None) -> Sample:
    """Build and run one cell in this process. ``memory`` turns tracemalloc on (which slows
    everything down, so timing workers never use it)."""
    runner = RUNNERS[runner_name]
    with asyncio.Runner() as aio:
        # Warm-up on a tiny graph of the same shape: imports the library and takes
        # first-call costs out of the measurement, on the loop that is measured.
        warm = runner.prepare(dags.make(cell.shape, 10), sleep_body, cell.window)
        aio.run(_await(warm.run()))

        dag = dags.make(cell.shape, cell.n)
        gc.collect()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if memory:
            tracemalloc.start()
            baseline = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        prepared = runner.prepare(dag, sleep_body, cell.window)
        build_s = time.perf_counter() - started
        if timeout is not None:
            signal.signal(signal.SIGALRM, _on_alarm)
            signal.setitimer(signal.ITIMER_REAL, timeout)

        async def timed() -> float:
            # Timed inside the loop: loop start and teardown are nobody's run time.
            t0 = time.perf_counter()
            await prepared.run()
            return time.perf_counter() - t0

        run_s = aio.run(timed())
        signal.setitimer(signal.ITIMER_REAL, 0)
        peak = tracemalloc.get_traced_memory()[1] - baseline if memory else None
        tracemalloc.stop()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        completed = prepared.completed()
    if completed != cell.n:
        return Sample("error", error=f"{completed} of {cell.n} jobs completed")
    return Sample("ok", build_s, run_s, peak, rss_after - rss_before, completed)


async def _await(awaitable: Any) -> None:
    await awaitable


def worker_main(spec: str) -> int:
    args = json.loads(spec)
    cell = Cell(args["shape"], args["n"], args["window"])
    sample = measure(args["runner"], cell, memory=args["memory"], timeout=args["timeout"])
    print(json.dumps(asdict(sample)), flush=True)
    return 0


# ---------------------------------------------------------------------------- parent


def spawn(
    runner_name: str, cell: Cell, *, memory: bool, timeout: float, python: str = sys.executable
) -> Sample:
    """Measure one cell in a fresh process; never raise, never hang."""
    spec = json.dumps(
        {
            "runner": runner_name,
            "shape": cell.shape,
            "n": cell.n,
            "window": cell.window,
            "memory": memory,
            "timeout": timeout,
        }
    )
    env = dict(os.environ)
    # The checkout's nbjobs and benchmarks, whether or not nbjobs is installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    try:
        # The worker stops its own run at `timeout`; this outer limit only covers a worker
        # that hangs elsewhere (building, or exiting).
        proc = subprocess.run(
            [python, "-m", "benchmarks.run", "--worker", spec],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout * 3 + 120,
        )
    except subprocess.TimeoutExpired:
        return Sample("timeout", error="worker killed by the parent")
    lines = proc.stdout.strip().splitlines()
    if lines:
        with contextlib.suppress(json.JSONDecodeError, TypeError):
            return Sample(**json.loads(lines[-1]))
    tail = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
    return Sample("error", error=tail[0])


@dataclass(slots=True)
class Result:
    runner: str
    cell: Cell
    samples: list[Sample] = field(default_factory=list)
    memory: Sample | None = None

    @property
    def timed_out(self) -> bool:
        return any(s.status == "timeout" for s in self.samples)

    @property
    def failed(self) -> str | None:
        return next((s.error for s in self.samples if s.status == "error"), None)

    def median_us(self, attr: str) -> float | None:
        return self._per_job_us(attr, statistics.median)

    def fastest_us(self, attr: str) -> float | None:
        """The fastest process: what the code costs when nothing else slows it down."""
        return self._per_job_us(attr, min)

    def _per_job_us(self, attr: str, statistic: Callable[[list[float]], float]) -> float | None:
        values = [getattr(s, attr) for s in self.samples if s.status == "ok"]
        if not values or self.timed_out or self.failed:
            return None
        return float(statistic(values)) / self.cell.n * 1e6

    @property
    def peak_mib(self) -> float | None:
        if self.memory is None or self.memory.peak_bytes is None:
            return None
        return self.memory.peak_bytes / 2**20

    def run_times_by_rep(self) -> dict[int, float]:
        """Run time of each rep whose process measured one (none after a timeout or error)."""
        if self.timed_out or self.failed:
            return {}
        return {
            s.rep: s.run_s
            for s in self.samples
            if s.status == "ok" and s.rep is not None and s.run_s is not None
        }


def paired_ratio(a: Result | None, b: Result | None) -> float | None:
    """Median over the reps of a cell of ``a``'s run time / ``b``'s in the same rep.

    The two processes of a rep ran one right after the other (see :func:`rep_order`), so
    a slow spell of the machine, which lasts seconds, mostly hits both of them: their
    ratio keeps what the code costs where each runner's median of times keeps how many
    of its processes the slow spells hit.
    """
    if a is None or b is None:
        return None
    b_times = b.run_times_by_rep()
    ratios = [t / b_times[k] for k, t in a.run_times_by_rep().items() if b_times.get(k)]
    return statistics.median(ratios) if ratios else None


# nbjobs runs next to each runner it is compared with, and the order reverses from one
# rep to the next: minimal, nbjobs, asynciojobs; then asynciojobs, nbjobs, minimal.
_ORDER = {"gather": 0, "minimal": 1, "nbjobs": 2, "nbjobs-coro": 3, "asynciojobs": 4}


def rep_order(results: Sequence[Result], rep: int) -> list[Result]:
    """The order in which the runners of a cell run in rep number ``rep`` (from 0).

    Within a rep, nbjobs' process comes right before or after the process of each runner
    it is compared with, so each ratio compares two processes measured seconds apart;
    every other rep runs in the reverse order, so that a drift of the machine's speed
    along a rep favours neither side, and no runner is always first.
    """
    ordered = sorted(results, key=lambda r: _ORDER.get(r.runner, len(_ORDER)))
    return ordered if rep % 2 == 0 else ordered[::-1]


def measure_all(
    runners: Sequence[str],
    cells: Iterable[Cell],
    *,
    reps: int,
    reps_large: int,
    mem_reps: int,
    timeout: float,
    log: Any = sys.stderr,
) -> list[Result]:
    results: list[Result] = []
    for cell in cells:
        todo = [Result(r, cell) for r in runners if RUNNERS[r].supports(cell.shape, cell.window)]
        results.extend(todo)
        count = reps_large if cell.n >= 100_000 else reps
        # Runners alternate within a cell so that drift of the machine hits them all alike
        for rep in range(count):
            for result in rep_order(todo, rep):
                if result.timed_out or result.failed:
                    continue  # one timeout is the answer; do not spend 60 s on it again
                sample = spawn(result.runner, cell, memory=False, timeout=timeout)
                sample.rep = rep
                result.samples.append(sample)
                print(f"{cell.label()} {result.runner} #{rep + 1}: {_show(sample, cell)}", file=log)
        for result in todo:
            if result.timed_out or result.failed or mem_reps < 1:
                continue
            # tracemalloc slows a run down 2-3x: give it room, it is not what is timed.
            memories = [
                spawn(result.runner, cell, memory=True, timeout=timeout * 3)
                for _ in range(mem_reps)
            ]
            ok = [m for m in memories if m.status == "ok" and m.peak_bytes is not None]
            result.memory = (
                sorted(ok, key=lambda m: m.peak_bytes or 0)[len(ok) // 2] if ok else memories[0]
            )
            print(f"{cell.label()} {result.runner} memory: {_show(result.memory, cell)}", file=log)
    return results


def _show(sample: Sample, cell: Cell) -> str:
    if sample.status != "ok":
        return f"{sample.status} {sample.error or ''}".strip()
    parts = []
    if sample.run_s is not None:
        parts.append(f"run {sample.run_s / cell.n * 1e6:.1f} us/job")
    if sample.build_s is not None:
        parts.append(f"build {sample.build_s / cell.n * 1e6:.1f} us/job")
    if sample.peak_bytes is not None:
        parts.append(f"peak {sample.peak_bytes / 2**20:.1f} MiB")
    return ", ".join(parts)


# ---------------------------------------------------------------------------- table


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = {}
    for dist in ("nbjobs", "asynciojobs"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "source tree" if dist == "nbjobs" else "not installed"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return {
        "cpu": cpu,
        "cores": str(usable),
        # Another busy process skews every number: the load average shows whether one ran.
        "load": load,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": platform.system(),
        **versions,
    }


def _fmt(value: float | None, result: Result | None, digits: int = 1) -> str:
    if result is None:
        return "–"
    if result.failed:
        return "error"
    if result.timed_out:
        return f"timeout >{_timeout_s:g}s"
    return "–" if value is None else f"{value:.{digits}f}"


def _ratio(r: float | None, target: float | None, at_most: bool) -> str:
    if r is None:
        return "–"
    if target is None:
        return f"{r:.2f}"
    ok = r <= target if at_most else r >= target
    return f"{r:.2f} {'✓' if ok else '✗'}"


_timeout_s = 60.0  # for the "timeout >Ns" cells; set by main()


def render(results: list[Result], runners: Sequence[str], header: dict[str, Any]) -> str:
    by_key = {(r.runner, r.cell): r for r in results}
    cells = list(dict.fromkeys(r.cell for r in results))

    def get(runner: str, cell: Cell) -> Result | None:
        return by_key.get((runner, cell))

    def us(runner: str, cell: Cell, attr: str = "run_s") -> float | None:
        result = get(runner, cell)
        return result.median_us(attr) if result else None

    def mem(runner: str, cell: Cell) -> float | None:
        result = get(runner, cell)
        return result.peak_mib if result else None

    info = header["machine"]
    lines = [
        f"Measured {header['date']} on {info['cores']} cores ({info['cpu']}), "
        f"{info['python']}, {info['os']}; nbjobs {info['nbjobs']}, "
        f"asynciojobs {info['asynciojobs']}; load average (1, 5, 15 min) "
        f"{header.get('load_start', '?')} at the start, {info['load']} at the end; "
        f"{header.get('elapsed_s', '?')} s in all.",
        "",
        f"Job body: `await asyncio.sleep(0)`. Run time: wall time of the run alone, median of "
        f"{header['reps']} fresh processes ({header['reps_large']} at 100k jobs), in "
        f"microseconds per job. Ratios (first table): the median over those reps of the "
        f"ratio of the two runners' processes in the same rep, which ran one right after "
        f"the other. Graph construction (Job and Scheduler objects) is timed "
        f"separately. Peak memory: tracemalloc peak over construction + run, in MiB, from "
        f"{header['mem_reps']} more process(es) per cell (tracemalloc is off while timing). "
        f"A run is stopped after {header['timeout']:g} s. "
        f"nbjobs uses `Job(async_fn, i)`, asynciojobs `Job(coroutine)`; `minimal` is the "
        f"in-degree-counting reference in `benchmarks/runners.py`.",
        "",
    ]
    timed = [r for r in runners if r in RUNNERS]
    both = "nbjobs" in timed
    vs_minimal = both and "minimal" in timed
    vs_asynciojobs = both and "asynciojobs" in timed

    def ratio_columns(suffix: str) -> list[str]:
        columns = []
        if vs_minimal:
            columns.append(f"nbjobs / minimal{suffix} (≤ {TARGET_VS_MINIMAL:g})")
        if vs_asynciojobs:
            columns.append(f"asynciojobs / nbjobs{suffix} (≥ {TARGET_VS_ASYNCIOJOBS:g} at 10k)")
        return columns

    def ratio_cells(cell: Cell, ratio_of: Callable[[str, str, Cell], float | None]) -> list[str]:
        """The ratio columns of ``cell``, each from ``ratio_of(runner, other, cell)``."""
        row = []
        if vs_minimal:
            row.append(_ratio(ratio_of("nbjobs", "minimal", cell), TARGET_VS_MINIMAL, True))
        if vs_asynciojobs:
            aj = get("asynciojobs", cell)
            nb = us("nbjobs", cell)
            target = TARGET_VS_ASYNCIOJOBS if cell.n == 10_000 else None
            if aj is not None and aj.timed_out and nb is not None:
                row.append(f"> {_timeout_s / cell.n * 1e6 / (nb or 1):.0f}")
            else:
                row.append(_ratio(ratio_of("asynciojobs", "nbjobs", cell), target, False))
        return row

    def paired(a: str, b: str, cell: Cell) -> float | None:
        return paired_ratio(get(a, cell), get(b, cell))

    def of_statistic(
        time_of: Callable[[str, Cell], float | None],
    ) -> Callable[[str, str, Cell], float | None]:
        """The ratio of one statistic of each runner's times (median, fastest)."""

        def ratio_of(a: str, b: str, cell: Cell) -> float | None:
            ta, tb = time_of(a, cell), time_of(b, cell)
            return None if ta is None or not tb else ta / tb

        return ratio_of

    def fastest(runner: str, cell: Cell) -> float | None:
        result = get(runner, cell)
        return result.fastest_us("run_s") if result else None

    columns = ["shape", "jobs", "window", *timed, *ratio_columns("")]
    lines += ["### Run time, µs per job", "", _row(columns), _row(["---"] * len(columns))]
    for cell in cells:
        row = [cell.shape, f"{cell.n:,}", str(cell.window or "–")]
        row += [_fmt(us(r, cell), get(r, cell)) for r in timed]
        lines.append(_row(row + ratio_cells(cell, paired)))

    if vs_minimal or vs_asynciojobs:
        # Two other estimates of the same ratios, for the reader to weigh the first: the
        # ratio of the runners' medians (which depends on how many of each runner's
        # processes a slow spell hit) and of their fastest processes (the machine only
        # ever slows a run down: the advice of timeit for its repeats).
        columns = [
            "shape",
            "jobs",
            "window",
            *ratio_columns(", medians"),
            *ratio_columns(", fastest"),
        ]
        lines += [
            "",
            "### The same ratios from the medians, and from the fastest process, of each runner",
            "",
            _row(columns),
            _row(["---"] * len(columns)),
        ]
        for cell in cells:
            row = [cell.shape, f"{cell.n:,}", str(cell.window or "–")]
            row += ratio_cells(cell, of_statistic(us))
            lines.append(_row(row + ratio_cells(cell, of_statistic(fastest))))

    libs = [r for r in timed if r not in ("gather", "minimal")]
    columns = ["shape", "jobs", "window"]
    columns += [f"build {r}" for r in libs] + [f"MiB {r}" for r in timed]
    if both and "asynciojobs" in timed:
        columns.append(f"MiB nbjobs / asynciojobs (≤ {TARGET_MEMORY:g} at 100k)")
    lines += [
        "",
        "### Graph construction (µs per job) and peak memory (MiB)",
        "",
        _row(columns),
        _row(["---"] * len(columns)),
    ]
    for cell in cells:
        row = [cell.shape, f"{cell.n:,}", str(cell.window or "–")]
        row += [_fmt(us(r, cell, "build_s"), get(r, cell)) for r in libs]
        row += [_fmt(mem(r, cell), get(r, cell)) for r in timed]
        if both and "asynciojobs" in timed:
            target = TARGET_MEMORY if cell.n == 100_000 else None
            nb, aj = mem("nbjobs", cell), mem("asynciojobs", cell)
            row.append(_ratio(None if nb is None or not aj else nb / aj, target, True))
        lines.append(_row(row))
    return "\n".join(lines) + "\n"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


# ---------------------------------------------------------------------------- main


def _windows(text: str) -> tuple[int | None, ...]:
    return tuple(None if w.lower() in ("none", "0", "") else int(w) for w in text.split(","))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 1k jobs, 1 process per cell")
    p.add_argument("--runners", default=",".join(DEFAULT_RUNNERS), help="comma-separated")
    p.add_argument("--shapes", default=",".join(dags.SHAPES), help="comma-separated")
    p.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated")
    p.add_argument("--windows", default="none,100", help="comma-separated; 'none' = no window")
    p.add_argument("--reps", type=int, default=9, help="timing processes per cell")
    p.add_argument("--reps-large", type=int, default=5, help="timing processes at >= 100k jobs")
    p.add_argument("--mem-reps", type=int, default=1, help="tracemalloc processes per cell")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds allowed for one run")
    p.add_argument("--output", type=Path, default=RESULTS / "latest.md")
    p.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.reps, args.reps_large, args.mem_reps = "1000", 1, 1, 1
        args.timeout = min(args.timeout, 20.0)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    global _timeout_s
    args = parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    runners = [r for r in args.runners.split(",") if r]
    unknown = [r for r in runners if r not in RUNNERS]
    if unknown:
        sys.exit(f"unknown runner(s) {unknown}; choose among {', '.join(RUNNERS)}")
    _timeout_s = args.timeout
    cells = [
        Cell(shape, int(n), window)
        for n in args.sizes.split(",")
        for shape in args.shapes.split(",")
        for window in _windows(args.windows)
    ]
    started = time.monotonic()
    load_start = machine()["load"]
    results = measure_all(
        runners,
        cells,
        reps=args.reps,
        reps_large=args.reps_large,
        mem_reps=args.mem_reps,
        timeout=args.timeout,
    )
    header = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "reps": args.reps,
        "reps_large": args.reps_large,
        "mem_reps": args.mem_reps,
        "timeout": args.timeout,
        "elapsed_s": round(time.monotonic() - started, 1),
        "load_start": load_start,
    }
    table = render(results, runners, header)
    print(table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table)
    raw = {
        **header,
        "results": [
            {
                "runner": r.runner,
                **asdict(r.cell),
                "samples": [asdict(s) for s in r.samples],
                "memory": asdict(r.memory) if r.memory else None,
            }
            for r in results
        ],
    }
    args.output.with_suffix(".json").write_text(json.dumps(raw, indent=1))
    print(f"written to {args.output} in {header['elapsed_s']} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
