"""Issue 3, "Speed": a 10k-job nbjobs run inside a real ipykernel, blocking ``s.run()``
(nested on the kernel's running loop through nest-asyncio2) against ``await s.co_run()``.

nest-asyncio2 swaps asyncio's C Task and Future for the pure-Python ones for the rest of
the process, so the two modes run in different kernels: ``co_run`` in a kernel that never
called ``run()``, then ``run()`` in a fresh kernel, followed there by ``co_run`` again to
show what the patch leaves behind. Each kernel gets a warm-up run first. Messages the
kernel sends during each timed run (display updates, comm messages) are counted, for the
live view's "at most ~20 updates a second".

    python -m benchmarks.kernel_run                 # 10k layered jobs, 5 runs per mode
    python -m benchmarks.kernel_run --reps 3 --shape independent --window 100
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import statistics
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# `python benchmarks/kernel_run.py` puts benchmarks/ first on sys.path, not the root.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import dags
from benchmarks.run import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
TARGET_RATIO = 1.5  # run() / co_run()

# Executed once in each kernel. The timed statement is the only thing between the two
# perf_counter() calls; building the graph and collecting garbage happen before.
SETUP = """
import gc, json, time
from benchmarks import dags
from benchmarks.runners import build_scheduler, sleep_body

def _bench_build(n):
    return build_scheduler(
        {library!r}, dags.make({shape!r}, n), sleep_body, {window!r}, coroutine={coroutine!r}
    )
"""

TIMED = """
_bench_jobs, _bench_s = _bench_build({n})
gc.collect()
try:
    _bench_t0 = time.perf_counter()
    _bench_ok = {statement}
    _bench_dt = time.perf_counter() - _bench_t0
except BaseException as _bench_exc:
    print("BENCH " + json.dumps({{"error": f"{{type(_bench_exc).__name__}}: {{_bench_exc}}"}}))
else:
    print("BENCH " + json.dumps({{
        "ok": _bench_ok is True,
        "seconds": _bench_dt,
        "done": sum(1 for _j in _bench_jobs if _j.is_done()),
    }}))
del _bench_jobs, _bench_s
"""

# What a live view sends: a display and its updates, or widget comm traffic. Not counted:
# the cell's own echo (execute_input) and our report (stream).
VIEW_MESSAGES = ("display_data", "update_display_data", "clear_output", "comm_open", "comm_msg")

STATEMENTS = {"co_run": "await _bench_s.co_run()", "run": "_bench_s.run()"}


@dataclass(slots=True)
class Outcome:
    """One timed cell: the run's own seconds, the cell's wall time seen by the client,
    and the iopub messages the kernel sent meanwhile, by type."""

    seconds: float | None = None
    cell_seconds: float = 0.0
    error: str | None = None
    messages: Counter[str] = field(default_factory=Counter)


class Kernel:
    """A real ipykernel driven through jupyter_client, as a front-end does."""

    def __init__(self) -> None:
        from jupyter_client.manager import KernelManager

        env = dict(os.environ)
        # The kernel imports benchmarks (and nbjobs if not installed) from this checkout.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=env, cwd=str(ROOT))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def execute(self, code: str, timeout: float) -> tuple[str, str | None, Counter[str], float]:
        """Run a cell; return its stdout, its error (if any), the iopub message types seen
        between busy and idle, and the client-side wall time."""
        started = time.perf_counter()
        msg_id = self.client.execute(code, store_history=False)
        stdout: list[str] = []
        error: str | None = None
        seen: Counter[str] = Counter()
        deadline = started + timeout
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError(f"cell did not finish within {timeout:g} s")
            try:
                msg: dict[str, Any] = self.client.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            content = msg["content"]
            if kind == "status":
                if content["execution_state"] == "idle":
                    break
                continue
            seen[kind] += 1
            if kind == "stream" and content["name"] == "stdout":
                stdout.append(content["text"])
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
        return "".join(stdout), error, seen, time.perf_counter() - started

    def timed(self, statement: str, n: int, timeout: float) -> Outcome:
        code = TIMED.format(n=n, statement=statement)
        stdout, error, seen, wall = self.execute(code, timeout)
        outcome = Outcome(cell_seconds=wall, messages=seen)
        report = [line for line in stdout.splitlines() if line.startswith("BENCH ")]
        if error or not report:
            outcome.error = error or f"no report; stdout was {stdout[-500:]!r}"
            return outcome
        data = json.loads(report[-1][len("BENCH ") :])
        if "error" in data:
            outcome.error = data["error"]
        elif not data["ok"] or data["done"] != n:
            outcome.error = f"run returned ok={data['ok']}, {data['done']}/{n} jobs done"
        else:
            outcome.seconds = data["seconds"]
        return outcome

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def series(kernel: Kernel, mode: str, n: int, reps: int, timeout: float, log: Any) -> list[Outcome]:
    outcomes = []
    for rep in range(reps):
        outcome = kernel.timed(STATEMENTS[mode], n, timeout)
        outcomes.append(outcome)
        shown = f"{outcome.seconds:.3f} s" if outcome.seconds is not None else outcome.error
        print(f"{mode} #{rep + 1}: {shown} {dict(+outcome.messages)}", file=log)
        if outcome.error:
            break  # the same error every time: report it once
    return outcomes


def start_kernel(setup: str, warmup: str, log: Any) -> Kernel:
    kernel = Kernel()
    _, error, _, _ = kernel.execute(setup, 120)
    if error:
        kernel.close()
        raise RuntimeError(f"benchmark setup failed in the kernel: {error}")
    # Imports and first-call costs, on a small graph, in the mode about to be timed.
    kernel.timed(warmup, 100, 120)
    return kernel


def summarize(name: str, outcomes: list[Outcome], n: int) -> tuple[str, float | None]:
    errors = [o.error for o in outcomes if o.error]
    if errors:
        return f"| {name} | {errors[0]} | – | – |", None
    seconds = statistics.median(o.seconds for o in outcomes if o.seconds is not None)
    cell = statistics.median(o.cell_seconds for o in outcomes)
    views = [sum(o.messages[k] for k in VIEW_MESSAGES) for o in outcomes]
    rate = statistics.median(v / o.cell_seconds for v, o in zip(views, outcomes, strict=True))
    row = (
        f"| {name} | {seconds * 1e3:.0f} ms ({seconds / n * 1e6:.1f} µs/job) "
        f"| {cell * 1e3:.0f} ms | {statistics.median(views):.0f} ({rate:.0f}/s) |"
    )
    return row, seconds


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.kernel_run", description=__doc__)
    p.add_argument("--jobs", type=int, default=10_000)
    p.add_argument("--shape", default="layered", choices=dags.SHAPES)
    p.add_argument("--window", type=int, default=None)
    p.add_argument("--reps", type=int, default=5)
    # asynciojobs, for comparison: its run() cannot work in a kernel, which shows as such.
    p.add_argument("--library", default="nbjobs", choices=("nbjobs", "asynciojobs"))
    p.add_argument("--timeout", type=float, default=300.0, help="seconds allowed for one cell")
    p.add_argument("--output", type=Path, default=RESULTS / "kernel.md")
    args = p.parse_args(argv)
    log = sys.stderr
    setup = textwrap.dedent(
        SETUP.format(
            library=args.library,
            shape=args.shape,
            window=args.window,
            # asynciojobs only takes coroutine objects; nbjobs' re-runnable form otherwise.
            coroutine=args.library == "asynciojobs",
        )
    )

    kernel = start_kernel(setup, STATEMENTS["co_run"], log)
    try:
        native = series(kernel, "co_run", args.jobs, args.reps, args.timeout, log)
    finally:
        kernel.close()
    kernel = start_kernel(setup, STATEMENTS["run"], log)
    try:
        blocking = series(kernel, "run", args.jobs, args.reps, args.timeout, log)
        patched = series(kernel, "co_run", args.jobs, args.reps, args.timeout, log)
    finally:
        kernel.close()

    info = machine()
    lines = [
        f"{args.library}: {args.jobs:,} {args.shape} jobs (window {args.window}), "
        f"body `await asyncio.sleep(0)`, in an ipykernel; "
        f"median of {args.reps} runs per mode after a warm-up; "
        f"{info['cores']} cores ({info['cpu']}), {info['python']}, {platform.system()}.",
        "",
        "| mode | run (timed in the kernel) | whole cell (client) | view messages in the cell |",
        "| --- | --- | --- | --- |",
    ]
    row, t_native = summarize("`await s.co_run()`, fresh kernel", native, args.jobs)
    lines.append(row)
    row, t_blocking = summarize("`s.run()` (nest-asyncio2)", blocking, args.jobs)
    lines.append(row)
    row, _ = summarize("`await s.co_run()`, in the kernel that ran `s.run()`", patched, args.jobs)
    lines.append(row)
    lines.append("")
    if t_native and t_blocking:
        ratio = t_blocking / t_native
        verdict = "✓" if ratio <= TARGET_RATIO else "✗"
        lines.append(f"run() / co_run() = {ratio:.2f} {verdict} (target ≤ {TARGET_RATIO:g})")
    else:
        failed = next((o.error for o in blocking + native if o.error), "no measurement")
        lines.append(f"run() / co_run(): not measured — {failed}")
    table = "\n".join(lines) + "\n"
    print(table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
