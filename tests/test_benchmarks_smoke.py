"""Smoke test of the benchmark harness: tiny graphs, one repetition, so that a broken
harness fails CI. Benchmarks themselves are never tests: nothing here is timed."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

# benchmarks/ is not part of the installed package: import it from the checkout.
if str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import dags, run
from benchmarks.runners import RUNNERS, Trace, check_trace

N = 60


def small_dag(shape: str) -> dags.Dag:
    # Layers of 10 so that 60 jobs still have edges between layers.
    return dags.layered(N, layer_size=10) if shape == "layered" else dags.make(shape, N)


@pytest.mark.parametrize("window", [None, 4])
@pytest.mark.parametrize("shape", dags.SHAPES)
@pytest.mark.parametrize("runner", ["minimal", "nbjobs", "nbjobs-coro"])
def test_runner_runs_every_job_once_after_its_requirements(
    runner: str, shape: str, window: int | None
) -> None:
    dag = small_dag(shape)
    trace = Trace([])
    prepared = RUNNERS[runner].prepare(dag, trace.body(), window)
    asyncio.run(_await(prepared.run()))
    check_trace(dag, trace, window)
    assert prepared.completed() == N


def test_gather_runs_every_independent_job() -> None:
    dag = dags.independent(N)
    trace = Trace([])
    prepared = RUNNERS["gather"].prepare(dag, trace.body(), None)
    asyncio.run(_await(prepared.run()))
    check_trace(dag, trace, None)
    assert prepared.completed() == N


def test_shapes_have_the_edges_of_the_issue() -> None:
    assert dags.chain(5).required == [(), (0,), (1,), (2,), (3,)]
    assert dags.fan_out(4).required == [(), (0,), (0,), (0,)]
    layered = dags.layered(300)
    assert all(not r for r in layered.required[:100])
    for i, required in enumerate(layered.required[100:], start=100):
        layer = i // 100
        assert len(required) == 3
        assert all((layer - 1) * 100 <= r < layer * 100 for r in required)
    assert dags.layered(300).required == layered.required  # fixed seed


@pytest.mark.parametrize(
    ("events", "window", "message"),
    [
        ([(False, 1), (True, 1), (False, 0), (True, 0)], None, "started before its requirement"),
        ([(False, 0), (True, 0)], None, "never completed"),
        ([(False, 0), (False, 0), (True, 0), (True, 1)], None, "started twice"),
    ],
)
def test_check_trace_rejects_a_wrong_run(
    events: list[tuple[bool, int]], window: int | None, message: str
) -> None:
    with pytest.raises(AssertionError, match=message):
        check_trace(dags.chain(2), Trace(events), window)


def test_check_trace_rejects_an_exceeded_window() -> None:
    events = [(False, 0), (False, 1), (True, 0), (True, 1)]
    with pytest.raises(AssertionError, match="2 jobs ran at once with a window of 1"):
        check_trace(dags.independent(2), Trace(events), 1)


@pytest.mark.parametrize("runner", ["minimal", "nbjobs"])
def test_measure_in_process_reports_a_complete_run(runner: str) -> None:
    sample = run.measure(runner, run.Cell("chain", 50, None), memory=True)
    assert sample.status == "ok", sample.error
    assert sample.completed == 50
    assert sample.run_s is not None
    assert sample.run_s > 0
    assert sample.build_s is not None
    assert sample.peak_bytes is not None
    assert sample.peak_bytes > 0


def test_harness_end_to_end_in_fresh_processes(tmp_path: Path) -> None:
    cell = run.Cell("fan-out", 50, 4)
    log = io.StringIO()
    results = run.measure_all(
        ["minimal", "nbjobs"], [cell], reps=1, reps_large=1, mem_reps=1, timeout=30, log=log
    )
    assert [(r.runner, r.cell) for r in results] == [("minimal", cell), ("nbjobs", cell)]
    for result in results:
        assert [s.status for s in result.samples] == ["ok"], log.getvalue()
        assert result.samples[0].completed == 50
        assert result.memory is not None
        assert result.memory.status == "ok", log.getvalue()
    table = run.render(results, ["minimal", "nbjobs"], _header())
    row = next(line for line in table.splitlines() if line.startswith("| fan-out | 50 | 4 |"))
    assert "error" not in row
    assert "timeout" not in row
    assert "nbjobs / minimal" in table
    assert "### The same ratios from the medians, and from the fastest process" in table


def test_nbjobs_runs_next_to_each_runner_it_is_compared_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cell = run.Cell("chain", 20, None)
    spawned: list[str] = []

    def spawn(runner: str, cell: run.Cell, **kwargs: object) -> run.Sample:
        spawned.append(runner)
        return run.Sample("ok", 0.001, 0.002, completed=cell.n)

    monkeypatch.setattr(run, "spawn", spawn)
    results = run.measure_all(
        ["asynciojobs", "nbjobs", "gather", "minimal"],
        [run.Cell("independent", 20, None)],
        reps=3,
        reps_large=1,
        mem_reps=0,
        timeout=30,
        log=io.StringIO(),
    )
    # the order reverses from one rep to the next; nbjobs is always between the two
    # runners it is compared with
    first = ["gather", "minimal", "nbjobs", "asynciojobs"]
    assert spawned == first + first[::-1] + first
    assert all([s.rep for s in r.samples] == [0, 1, 2] for r in results)
    spawned.clear()
    run.measure_all(["minimal", "nbjobs"], [cell], reps=2, reps_large=1, mem_reps=0, timeout=30)
    assert spawned == ["minimal", "nbjobs", "nbjobs", "minimal"]


def _result(runner: str, cell: run.Cell, times: tuple[float, ...]) -> run.Result:
    samples = [run.Sample("ok", 0, t, rep=k) for k, t in enumerate(times)]
    return run.Result(runner, cell, samples)


def test_the_ratios_come_from_pairs_of_processes_of_the_same_rep() -> None:
    cell = run.Cell("chain", 1000, None)
    # the machine was slow for minimal in rep 0 and for nbjobs in rep 2: by the runners'
    # medians nbjobs takes 1.40x minimal; rep by rep, 1.10x, 1.10x and 1.60x
    minimal = _result("minimal", cell, (0.030, 0.020, 0.010))
    nbjobs = _result("nbjobs", cell, (0.033, 0.022, 0.016))
    assert run.paired_ratio(nbjobs, minimal) == pytest.approx(1.10)
    assert minimal.fastest_us("run_s") == pytest.approx(10.0)
    assert nbjobs.median_us("run_s") == pytest.approx(22.0)
    table = run.render([minimal, nbjobs], ["minimal", "nbjobs"], _header())
    first, others = table.split("### The same ratios from the medians")
    assert "| chain | 1,000 | – | 20.0 | 22.0 | 1.10 ✓ |" in first
    # from the medians, 22 / 20; from the fastest processes, 16 / 10
    assert "| chain | 1,000 | – | 1.10 ✓ | 1.60 ✗ |" in others


def test_a_rep_missing_on_one_side_is_left_out_of_the_pairs() -> None:
    cell = run.Cell("chain", 1000, None)
    minimal = _result("minimal", cell, (0.010, 0.010, 0.010))
    nbjobs = _result("nbjobs", cell, (0.012, 0.050, 0.013))
    nbjobs.samples[1] = run.Sample("ok", 0, None, rep=1)  # a process that measured no run
    assert run.paired_ratio(nbjobs, minimal) == pytest.approx(1.25)
    assert run.paired_ratio(nbjobs, None) is None
    minimal.samples.append(run.Sample("timeout", rep=3))
    assert run.paired_ratio(nbjobs, minimal) is None  # a timeout is the answer


def _header() -> dict[str, object]:
    return {
        "date": "today",
        "machine": run.machine(),
        "reps": 1,
        "reps_large": 1,
        "mem_reps": 1,
        "timeout": 30.0,
    }


async def _await(awaitable: object) -> None:
    await awaitable  # type: ignore[misc]


def test_instruction_worker_builds_and_runs_a_cell(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import instructions

    cell = run.Cell("layered", 300, 10)
    assert instructions.worker("nbjobs", cell, run=True) == 0
    assert instructions.worker("minimal", cell, run=False) == 0


# valgrind, as far as benchmarks.instructions sees it: the options it is given, the command
# run (the worker, for real), its exit status, and callgrind's count on stderr: a million
# instructions for the process, plus 50,000 a job when the worker runs the graph. (The
# real valgrind is a system program: CI runs the benchmark under it, after the tests.)
FAKE_VALGRIND = """\
#!{python}
import json, subprocess, sys
tool, out, *command = sys.argv[1:]
assert tool == "--tool=callgrind" and out.startswith("--callgrind-out-file="), sys.argv
_, _, n, _, run = json.loads(command[command.index("--worker") + 1])
status = subprocess.run(command, check=False).returncode
per_job = {per_job}
print(f"==1== Collected : {{1_000_000 + (n * per_job if run else 0)}}", file=sys.stderr)
sys.exit(status)
"""


def fake_valgrind(folder: Path, per_job: int = 50_000) -> str:
    path = folder / "valgrind"
    path.write_text(FAKE_VALGRIND.format(python=sys.executable, per_job=per_job))
    path.chmod(0o755)
    return str(path)


def test_instruction_counts_are_the_run_less_the_build_over_the_jobs(tmp_path: Path) -> None:
    from benchmarks import instructions

    valgrind = fake_valgrind(tmp_path)
    cell = run.Cell("chain", 200, None)
    per_job = instructions.per_job("minimal", cell, valgrind)
    assert per_job == 50_000
    table = instructions.render({("minimal", cell): per_job}, ["minimal"])
    assert "| chain | 200 | – | 50.0 |" in table


def test_instruction_count_of_a_failed_worker_is_an_error(tmp_path: Path) -> None:
    from benchmarks import instructions

    valgrind = fake_valgrind(tmp_path)
    failed = r"minimal no-such-shape 10 .*: callgrind failed: .*unknown shape 'no-such-shape'"
    with pytest.raises(RuntimeError, match=failed):
        # a shape the worker does not know: it fails, and so does the count
        instructions.count("minimal", run.Cell("no-such-shape", 10, None), True, valgrind)


def test_instruction_benchmark_command_prints_the_table_and_checks_the_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks import instructions

    fake_valgrind(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    output = tmp_path / "out" / "instructions.md"
    args = ["--shapes", "chain", "--sizes", "20", "--windows", "none", "--jobs", "2"]
    assert instructions.main([*args, "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "| chain | 20 | – | 50.0 | 50.0 | 1.00 ✓ |" in out
    assert output.read_text() == out.removesuffix("\n")
    # a count that says the worker ran nothing is no measure: the command fails
    fake_valgrind(tmp_path, per_job=0)
    output.unlink()
    assert instructions.main([*args, "--output", str(output)]) == 1
    assert "fewer than 1000 instructions per job, not a run" in capsys.readouterr().err
    assert not output.exists()


def test_cost_benchmark_reports_construction_run_and_memory_side_by_side(
    tmp_path: Path,
) -> None:
    # the harness only (tiny graphs in fresh processes): no number is judged here
    out = tmp_path / "cost.md"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.cost",
            "--quick",
            "--shapes",
            "chain,layered",
            "--output",
            str(out),
        ],
        cwd=Path(__file__).resolve().parent.parent,
        check=True,
        capture_output=True,
    )
    rows = [
        line
        for line in out.read_text().splitlines()
        if line.startswith("| chain") or line.startswith("| layered")
    ]
    assert [row.split(" | ")[2] for row in rows] == ["fn", "coro", "fn", "coro"]
    for row in rows:
        building, running = row.split(" | ")[3:5]
        assert all(float(side) >= 0 for side in building.split(" / "))
        assert all(float(side) > 0 for side in running.split(" / "))


def test_executors_benchmark_runs_tiny() -> None:
    """``python -m benchmarks.executors --quick``: the harness runs end to end (threads, a
    process pool, Dask, bare Dask); nothing is timed here."""
    import subprocess

    from tests.browser.support import need

    try:
        import distributed  # noqa: F401
    except ImportError:
        need(False, "Dask distributed is not installed (pip install 'nbjobs[dask]')")
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.executors", "--quick"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| Dask (2 worker processes) |" in done.stdout
    assert "| bare submit, all at once |" in done.stdout
