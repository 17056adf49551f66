"""``nbjobs run`` and ``nbjobs demo`` in process: conventions, options, exit statuses.

stderr is not a terminal here, so the command prints timestamped lines there (stdout is
the script's own): the format checked below is the one logs and CI get.  The
pseudo-terminal side is in test_cli_pty.py.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from nbjobs._cli.main import main

STAMP = r"\d\d:\d\d:\d\d\.\d{3}"

HEADER = """\
import asyncio
import sys
from nbjobs import Job, Scheduler

async def ok(name, seconds=0.0):
    await asyncio.sleep(seconds)
    print(f"{name} done")
    return name

async def boom():
    await asyncio.sleep(0)
    raise RuntimeError("it broke")
"""


WriteScript = Callable[..., str]


@pytest.fixture
def script(tmp_path: Path) -> WriteScript:
    """Write a script made of HEADER and the given body; return its path as a string."""

    def write(body: str, name: str = "jobs.py") -> str:
        path = tmp_path / name
        path.write_text(HEADER + textwrap.dedent(body), encoding="utf-8")
        return str(path)

    return write


def lines_of(out: str) -> list[str]:
    """The timestamped lines, stamp removed."""
    return [line[13:] for line in out.splitlines() if re.match(STAMP + " ", line)]


def test_run_a_module_level_scheduler(
    script: WriteScript, capsys: pytest.CaptureFixture[str]
) -> None:
    path = script("""
        a = Job(ok, "a", label="a")
        b = Job(ok, "b", label="b", required=a)
        scheduler = Scheduler(a, b, label="main")
        """)
    assert main(["run", path]) == 0
    captured = capsys.readouterr()
    err = captured.err
    assert lines_of(err)[:3] == ["start      [main]", "running    a", "succeeded  a  0.00s"]
    # the jobs' own output is still printed, on stdout, and alone there
    assert captured.out == "a done\nb done\n"
    assert "== main: FINE" in err
    assert "2 jobs: 2 succeeded" in err


def test_run_exits_1_with_the_failure_in_the_summary(
    script: WriteScript, capsys: pytest.CaptureFixture[str]
) -> None:
    path = script("""
        scheduler = Scheduler(Job(boom, label="breaks"), label="main")
        """)
    assert main(["run", path]) == 1
    captured = capsys.readouterr()
    assert "failed     breaks  0.00s  RuntimeError: it broke" in lines_of(captured.err)
    assert "x breaks [critical] after" in captured.err
    assert re.search(r'File ".*jobs\.py", line \d+, in boom', captured.err)
    # the raised exception is not printed a second time
    assert captured.err.count("RuntimeError: it broke") == 2
    assert captured.out == ""


def test_run_uses_main_when_there_is_no_scheduler_variable(
    script: WriteScript, capsys: pytest.CaptureFixture[str]
) -> None:
    path = script("""
        def main():
            return [Scheduler(Job(ok, "x"), label="first"),
                    Scheduler(Job(ok, "y"), label="second")]
        """)
    assert main(["run", path]) == 0
    starts = [line for line in lines_of(capsys.readouterr().err) if line.startswith("start")]
    assert starts == ["start      [first]", "start      [second]"]


def test_run_finds_top_level_schedulers_and_skips_nested_ones(
    script: WriteScript, capsys: pytest.CaptureFixture[str]
) -> None:
    path = script("""
        inner = Scheduler(Job(ok, "i", label="i"), label="inner")
        outer = Scheduler(inner, label="outer")
        alias = outer
        other = Scheduler(Job(ok, "o", label="o"), label="other")
        """)
    assert main(["run", path]) == 0
    starts = [line for line in lines_of(capsys.readouterr().err) if line.startswith("start")]
    # inner runs once, inside outer; outer once despite its two names
    assert starts == ["start      [outer]", "start      [inner]", "start      [other]"]


def test_run_stops_at_the_first_scheduler_that_fails(
    script: WriteScript, capsys: pytest.CaptureFixture[str]
) -> None:
    path = script("""
        from nbjobs import PureScheduler
        first = PureScheduler(Job(boom, label="breaks"), label="first")
        second = PureScheduler(Job(ok, "never"), label="second")
        """)
    assert main(["run", path]) == 1
    assert "[second]" not in capsys.readouterr().err


def test_run_does_not_run_the_scripts_main_block_and_passes_its_arguments(script, capsys) -> None:
    path = script("""
        scheduler = Scheduler(Job(ok, " ".join(sys.argv[1:]), label="args"))
        if __name__ == "__main__":
            print("main block ran")
        """)
    assert main(["run", path, "--", "one", "--two"]) == 0
    out = capsys.readouterr().out
    assert "one --two done\n" in out
    assert "main block ran" not in out


def test_run_imports_modules_next_to_the_script(
    script: WriteScript, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "helper_for_nbjobs_test.py").write_text("WORD = 'from the helper'\n")
    path = script("""
        from helper_for_nbjobs_test import WORD
        scheduler = Scheduler(Job(ok, WORD))
        """)
    assert main(["run", path]) == 0
    assert "from the helper done" in capsys.readouterr().out


def test_run_timeout_option_overrides_the_schedulers_own(
    script: WriteScript, capsys: pytest.CaptureFixture[str]
) -> None:
    path = script("""
        scheduler = Scheduler(Job(ok, "slow", 30, label="slow"), label="main", timeout=60)
        """)
    assert main(["run", path, "--timeout", "0.05"]) == 1
    out = capsys.readouterr().err
    assert any(
        re.fullmatch(r"cancelled  slow  0\.0\ds  \(timeout after 0\.05s\)", line)
        for line in lines_of(out)
    ), out
    assert "== main: TIMED OUT after 0.05s" in out


def test_run_window_option_limits_jobs_running_at_once(
    script: WriteScript, capsys: pytest.CaptureFixture[str]
) -> None:
    path = script("""
        running = []
        peak = []
        async def tracked(i):
            running.append(i)
            peak.append(len(running))
            await asyncio.sleep(0.002)
            running.remove(i)
        async def report():
            print(f"peak={max(peak)}")
        jobs = [Job(tracked, i) for i in range(6)]
        scheduler = Scheduler(*jobs, Job(report, required=jobs))
        """)
    assert main(["run", path, "--window", "2"]) == 0
    assert "peak=2\n" in capsys.readouterr().out


def test_run_writes_dot_and_svg_with_statuses(
    script: WriteScript, tmp_path: Path, capsys: pytest.CaptureFixture[str], renderer: str
) -> None:
    path = script("""
        a = Scheduler(Job(ok, "a", label="fine"), label="first")
        b = Scheduler(Job(ok, "b", label="also fine"), label="second")
        """)
    dot, svg = tmp_path / "graph.dot", tmp_path / "graph.svg"
    assert main(["run", path, "--dot", str(dot), "--svg", str(svg)]) == 0
    # one file per scheduler when there are several
    first = (tmp_path / "graph-1.dot").read_text()
    assert first.startswith("digraph") and "fine" in first
    assert "also fine" in (tmp_path / "graph-2.dot").read_text()
    drawn = (tmp_path / "graph-2.svg").read_text()
    assert "<svg" in drawn and "also fine" in drawn and 'fill="#a5d6a7"' in drawn  # succeeded
    assert not dot.exists() and not svg.exists()
    assert "cannot export" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("x = 1\n", r"defines no Scheduler: assign one to a module-level variable"),
        ("scheduler = 42\n", r"defines `scheduler` = 42, which is not a Scheduler"),
        ("def main():\n    return 'nope'\n", r"main\(\) in .* returned 'nope'"),
    ],
)
def test_run_exits_2_when_the_script_gives_nothing_to_run(
    script, capsys, body: str, message: str
) -> None:
    path = script(body)
    with pytest.raises(SystemExit) as exited:
        main(["run", path])
    assert exited.value.code == 2
    assert re.search(r"^nbjobs run: error: .*" + message, capsys.readouterr().err, re.M)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "no/such/script.py"], "no such script: 'no/such/script.py'"),
        (["run", "x.py", "--window", "0"], "argument --window: must be at least 1, got '0'"),
        (["run", "x.py", "--timeout", "-1"], "must be a positive number of seconds, got '-1'"),
        (["run", "x.py", "--timeout", "soon"], "argument --timeout: not a number: 'soon'"),
        ([], "the following arguments are required: COMMAND"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_usage_exits_2_with_a_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_a_script_that_raises_exits_1_with_its_own_traceback(
    script: WriteScript, capsys: pytest.CaptureFixture[str]
) -> None:
    path = script("""
        def build():
            raise KeyError("missing setting")
        scheduler = build()
        """)
    assert main(["run", path]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):\n  File ")
    assert re.search(r'jobs\.py", line \d+, in build', err)
    assert err.rstrip().endswith("KeyError: 'missing setting'")
    # runpy's and nbjobs' frames are left out
    assert "runpy" not in err and "_cli/main.py" not in err


def test_a_graph_error_is_reported_without_traceback(
    script: WriteScript, capsys: pytest.CaptureFixture[str]
) -> None:
    path = script("""
        a = Job(ok, "a", label="a")
        b = Job(ok, "b", label="b", required=a)
        a.requires(b)
        scheduler = Scheduler(a, b, label="loop")
        """)
    assert main(["run", path]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("nbjobs: loop: CycleError: ")
    assert "Traceback" not in captured.err
    assert "==" not in captured.err.replace("CycleError", "")  # nothing ran: no summary


def test_demo_without_a_terminal_prints_lines_and_a_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--scale", "0.02"]) == 0
    out = capsys.readouterr().err
    lines = lines_of(out)
    assert lines[0] == "start      [demo]"
    assert re.fullmatch(r"finish     \[demo\]  \d+\.\d\ds  FINE", lines[-1])
    assert "start      [build]" in lines
    assert any(
        re.fullmatch(
            r"failed     upload to mirror  \d\.\d\ds  ConnectionError: mirror unreachable"
            r"  \(non-critical\)",
            line,
        )
        for line in lines
    ), lines
    assert any(line.startswith("succeeded  build/link  ") for line in lines)
    assert any(
        line.startswith("cancelled  heartbeat  ")
        and line.endswith("(forever job stopped at the end of the run)")
        for line in lines
    )
    # each job starts before the jobs that need it
    order = [line[11:] for line in lines if line.startswith("running")]
    assert order.index("download alpha") < order.index("parse") < order.index("build/compile")
    assert order.index("build/test") < order.index("report")
    assert "\x1b[" not in out
    assert "== demo: FINE" in out
    assert "12 jobs: 10 succeeded, 1 failed, 1 cancelled" in out


def test_run_prefers_schedulers_defined_at_top_level_over_calling_main(
    script: WriteScript, capsys: pytest.CaptureFixture[str]
) -> None:
    path = script("""
        top = Scheduler(Job(ok, "top"), label="top")
        def main():
            print("main was called")
            top.run()
        if __name__ == "__main__":
            main()
        """)
    assert main(["run", path]) == 0
    captured = capsys.readouterr()
    assert "main was called" not in captured.out
    assert "start      [top]" in lines_of(captured.err)


def test_run_accepts_a_scheduler_named_main(
    script: WriteScript, capsys: pytest.CaptureFixture[str]
) -> None:
    path = script("""
        other = Scheduler(Job(ok, "other"), label="other")
        main = Scheduler(Job(ok, "chosen"), label="chosen")
        """)
    assert main(["run", path]) == 0
    starts = [line for line in lines_of(capsys.readouterr().err) if line.startswith("start")]
    assert starts == ["start      [chosen]"]


def test_version_and_the_console_script_entry_point(capsys: pytest.CaptureFixture[str]) -> None:
    from nbjobs import __main__ as module
    from nbjobs._version import __version__

    # pyproject's `nbjobs = "nbjobs.__main__:main"`
    assert module.main is main
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"nbjobs {__version__}\n"
