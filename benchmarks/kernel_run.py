"""Issue 3, "Speed": a 10k-job nbjobs run inside a real ipykernel, blocking ``s.run()``
(nested on the kernel's running loop through nest-asyncio2) against ``await s.co_run()``.

nest-asyncio2 swaps asyncio's C Task and Future for the pure-Python ones for the rest of
the process, so the two modes run in different kernels: ``co_run`` in a kernel that never
called ``run()``, then ``run()`` in a fresh kernel, followed there by ``co_run`` again to
show what the patch leaves behind. Each mode runs without a live view (the engine alone),
with the default view, and with the text view, alternating; each kernel gets a warm-up
first. Messages the kernel sends during each timed cell (display updates, comm messages)
are counted, for the live view's budget: at most 20 % slower, about 20 updates a second.

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
{view_line}
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
# The updates among them, for the rate: opening a view costs a fixed few messages.
UPDATE_MESSAGES = ("update_display_data", "comm_msg")

STATEMENTS = {"co_run": "await _bench_s.co_run()", "run": "_bench_s.run()"}

# The live view a run shows in a cell, set through the scheduler's ``view`` attribute:
# "none" turns it off (the engine alone), "auto" leaves the default (the graph widget when
# it can be had), "text" asks for the status table.
VIEWS = {"none": "_bench_s.view = False", "auto": "", "text": '_bench_s.view = "text"'}
TARGET_VIEW = 1.2  # a live view adds at most 20 %
TARGET_RATE = 20.0  # view messages per second, about


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

    def timed(self, statement: str, n: int, timeout: float, view: str = "auto") -> Outcome:
        code = TIMED.format(n=n, statement=statement, view_line=VIEWS[view])
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


def series(
    kernel: Kernel, mode: str, views: Sequence[str], args: argparse.Namespace, log: Any
) -> dict[str, list[Outcome]]:
    """``args.reps`` timed runs of ``mode`` per view, views alternating so that drift of the
    machine hits them alike."""
    outcomes: dict[str, list[Outcome]] = {view: [] for view in views}
    for rep in range(args.reps):
        for view in views:
            if any(o.error for o in outcomes[view]):
                continue  # the same error every time: report it once
            outcome = kernel.timed(STATEMENTS[mode], args.jobs, args.timeout, view)
            outcomes[view].append(outcome)
            shown = f"{outcome.seconds:.3f} s" if outcome.seconds is not None else outcome.error
            print(f"{mode} view={view} #{rep + 1}: {shown} {dict(+outcome.messages)}", file=log)
    return outcomes


def start_kernel(setup: str, warmup: str, views: Sequence[str], log: Any) -> Kernel:
    kernel = Kernel()
    _, error, _, _ = kernel.execute(setup, 120)
    if error:
        kernel.close()
        raise RuntimeError(f"benchmark setup failed in the kernel: {error}")
    # Imports and first-call costs, on a small graph, in the mode about to be timed.
    for view in views:
        kernel.timed(warmup, 100, 120, view)
    return kernel


@dataclass(slots=True)
class Summary:
    row: str
    seconds: float | None = None
    rate: float | None = None
    error: str | None = None


def summarize(name: str, outcomes: list[Outcome], n: int) -> Summary:
    errors = [o.error for o in outcomes if o.error]
    if errors:
        return Summary(f"| {name} | {errors[0]} | – | – |", error=errors[0])
    seconds = statistics.median(o.seconds for o in outcomes if o.seconds is not None)
    cell = statistics.median(o.cell_seconds for o in outcomes)
    sent = statistics.median(sum(o.messages[k] for k in VIEW_MESSAGES) for o in outcomes)
    rate = statistics.median(
        sum(o.messages[k] for k in UPDATE_MESSAGES) / o.cell_seconds for o in outcomes
    )
    row = (
        f"| {name} | {seconds * 1e3:.0f} ms ({seconds / n * 1e6:.1f} µs/job) "
        f"| {cell * 1e3:.0f} ms | {sent:.0f} ({rate:.1f} updates/s) |"
    )
    return Summary(row, seconds, rate)


def _verdict(value: float, target: float) -> str:
    return f"{value:.2f} {'✓' if value <= target else '✗'} (target ≤ {target:g})"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.kernel_run", description=__doc__)
    p.add_argument("--jobs", type=int, default=10_000)
    p.add_argument("--shape", default="layered", choices=dags.SHAPES)
    p.add_argument("--window", type=int, default=None)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument(
        "--views",
        default="none,auto,text",
        help=f"comma-separated, among {', '.join(VIEWS)}: none = no live view",
    )
    # asynciojobs, for comparison: its run() cannot work in a kernel, which shows as such.
    p.add_argument("--library", default="nbjobs", choices=("nbjobs", "asynciojobs"))
    p.add_argument("--timeout", type=float, default=300.0, help="seconds allowed for one cell")
    p.add_argument("--output", type=Path, default=RESULTS / "kernel.md")
    args = p.parse_args(argv)
    views = [v for v in args.views.split(",") if v]
    if unknown := [v for v in views if v not in VIEWS]:
        p.error(f"unknown view(s) {unknown}; choose among {', '.join(VIEWS)}")
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

    kernel = start_kernel(setup, STATEMENTS["co_run"], views, log)
    try:
        native = series(kernel, "co_run", views, args, log)
    finally:
        kernel.close()
    kernel = start_kernel(setup, STATEMENTS["run"], views, log)
    try:
        blocking = series(kernel, "run", views, args, log)
        patched = series(kernel, "co_run", views, args, log)
    finally:
        kernel.close()

    info = machine()
    lines = [
        f"{args.library}: {args.jobs:,} {args.shape} jobs (window {args.window}), "
        f"body `await asyncio.sleep(0)`, in an ipykernel; "
        f"median of {args.reps} runs per mode after a warm-up; "
        f"{info['cores']} cores ({info['cpu']}), {info['python']}, {platform.system()}, "
        f"load average {info['load']}.",
        "",
        "| mode | run (timed in the kernel) | whole cell (client) | view messages |",
        "| --- | --- | --- | --- |",
    ]
    rows: dict[tuple[str, str], Summary] = {}
    for key, title, data in (
        ("co_run", "`await s.co_run()`, fresh kernel", native),
        ("run", "`s.run()` (nest-asyncio2)", blocking),
        ("patched", "`await s.co_run()`, kernel that ran `s.run()`", patched),
    ):
        for view in views:
            rows[key, view] = summarize(f"{title}, view {view}", data[view], args.jobs)
            lines.append(rows[key, view].row)
    lines.append("")
    for view in views:
        native_s, blocking_s = rows["co_run", view].seconds, rows["run", view].seconds
        if native_s and blocking_s:
            ratio = _verdict(blocking_s / native_s, TARGET_RATIO)
            lines.append(f"- view {view}: run() / co_run() = {ratio}")
        else:
            failed = rows["run", view].error or rows["co_run", view].error
            lines.append(f"- view {view}: run() / co_run() not measured: {failed}")
    baseline = rows["co_run", "none"].seconds if "none" in views else None
    for view in views:
        summary = rows["co_run", view]
        if view != "none" and baseline and summary.seconds:
            lines.append(
                f"- view {view}: co_run() with it / without = "
                f"{_verdict(summary.seconds / baseline, TARGET_VIEW)}"
            )
        if view != "none" and summary.rate is not None:
            ok = "✓" if summary.rate <= TARGET_RATE else "✗"
            lines.append(
                f"- view {view}: {summary.rate:.1f} updates a second during co_run() {ok} "
                f"(target about {TARGET_RATE:g})"
            )
    table = "\n".join(lines) + "\n"
    print(table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
