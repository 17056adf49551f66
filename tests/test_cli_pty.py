"""The command in a real pseudo-terminal (pexpect): the live screen, Ctrl-C, and pipes.

What the screen shows once the live display's redraws are applied is read from a VT100
terminal emulator in pure Python (pyte), fed everything the command wrote."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pexpect
import pyte
import pytest

ROOT = Path(__file__).resolve().parent.parent
STAMP = r"\d\d:\d\d:\d\d\.\d{3}"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[=>]")
# rich's live display erases its previous frame line by line before drawing the next one
ERASE = "\x1b[2K"
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def environment() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TERM", "PYTHONPATH")
    }
    env["PYTHONPATH"] = str(ROOT)
    env["TERM"] = "xterm-256color"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def spawn(*args: str, rows: int = 30, cols: int = 100) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        list(args),
        cwd=str(ROOT),
        env=environment(),
        dimensions=(rows, cols),
        encoding="utf-8",
        codec_errors="replace",
        timeout=30,
    )


def finish(child: pexpect.spawn) -> tuple[str, int]:
    """Everything the child wrote, and its exit status."""
    child.expect(pexpect.EOF)
    raw = (child.before or "") if isinstance(child.before, str) else ""
    child.close()
    assert child.exitstatus is not None, f"killed by signal {child.signalstatus}"
    return raw, child.exitstatus


def plain(text: str) -> str:
    return ANSI.sub("", text).replace("\r\n", "\n")


def final_frame(raw: str) -> list[str]:
    """The lines of the last frame the live display drew, and what was printed after it."""
    assert ERASE in raw, "the live display never redrew"
    return [line.rstrip() for line in plain(raw.rsplit(ERASE, 1)[1]).split("\n")]


def write_script(path: Path, body: str) -> str:
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return str(path)


def test_demo_in_a_terminal_draws_the_live_view_and_leaves_the_final_listing() -> None:
    raw, status = finish(spawn("-m", "nbjobs", "demo", "--scale", "0.15"))
    assert status == 0, raw
    assert "\x1b[?25l" in raw  # the live display hid the cursor...
    assert raw.rstrip().count("\x1b[?25h") >= 1  # ...and showed it again
    seen = plain(raw)
    # while it ran: jobs drawn with the spinner, their elapsed time and last output line
    assert re.search(rf"[{SPINNER}] download alpha +\d\.\d\ds +alpha: \d+%", seen), seen
    lines = final_frame(raw)
    assert re.fullmatch(r"demo ━+ 11/11  \d\.\d\ds", lines[0]), lines[0]
    assert lines[1] == "✘ 1 failed  ⊘ 1 cancelled  ✔ 10 succeeded"
    rows = [" ".join(line.split()) for line in lines[2:15]]
    assert rows[0] == "✔ announce 0.00s nbjobs demo: starting"
    assert re.fullmatch(
        r"⊘ heartbeat ∞ \d\.\d\ds forever job stopped at the end of the run", rows[1]
    )
    assert re.fullmatch(r"✔ download alpha 0\.\d\ds alpha: 100%", rows[2])
    assert re.fullmatch(
        r"✘ upload to mirror 0\.\d\ds ConnectionError: mirror unreachable \(non-critical\)",
        rows[7],
    ), rows
    assert re.fullmatch(r"▼ build 0\.\d\ds 3/3", rows[8])
    # nested jobs indented under their scheduler
    assert [line[:12] for line in lines[11:14]] == ["  ✔ compile ", "  ✔ link    ", "  ✔ test    "]
    assert re.fullmatch(r"✔ report 0\.\d\ds reporting: done", rows[12])
    # then the summary
    after = "\n".join(lines[15:])
    assert "== demo: FINE" in after
    assert "x upload to mirror [non-critical] after" in after


def test_demo_in_a_short_terminal_keeps_failures_and_counts_the_rest() -> None:
    raw, status = finish(spawn("-m", "nbjobs", "demo", "--scale", "0.05", rows=10, cols=80))
    assert status == 0, raw
    lines = final_frame(raw)
    frame = lines[: lines.index("")]
    assert len(frame) <= 10
    text = "\n".join(" ".join(line.split()) for line in frame)
    assert "✘ upload to mirror" in text
    assert "⊘ heartbeat" in text
    assert re.search(r"… \d+ more: ✔ \d+", text)


LONG = """\
    import asyncio
    from nbjobs import Job, Scheduler

    async def slow(n):
        print(f"slow {n} started")
        await asyncio.sleep(30)

    async def quick():
        await asyncio.sleep(0)
        print("quick done")

    q = Job(quick, label="quick")
    a = Job(slow, 1, label="slow one")
    b = Job(slow, 2, label="slow two")
    after = Job(quick, label="after", required=a)
    scheduler = Scheduler(q, a, b, after, label="long")
    """


def test_ctrl_c_cancels_the_run_and_exits_130_without_a_traceback(tmp_path: Path) -> None:
    script = write_script(tmp_path / "long.py", LONG)
    child = spawn("-m", "nbjobs", "run", script)
    child.expect("slow 2 started")
    begin = time.monotonic()
    child.sendintr()
    raw, status = finish(child)
    assert status == 130, raw
    assert time.monotonic() - begin < 5  # no waiting for the 30-second jobs
    assert "Traceback" not in raw and "KeyboardInterrupt" not in raw
    lines = final_frame(raw)
    rows = [" ".join(line.split()) for line in lines]
    assert re.fullmatch(r"long ━+ 4/4 \d\.\d\ds", rows[0]), rows
    assert rows[1] == "⊘ 2 cancelled ↷ 1 skipped ✔ 1 succeeded"
    assert re.fullmatch(r"✔ quick 0\.\d\ds quick done", rows[2])
    assert re.fullmatch(r"⊘ slow one \d\.\d\ds interrupted \(Ctrl-C\)", rows[3])
    assert re.fullmatch(r"⊘ slow two \d\.\d\ds interrupted \(Ctrl-C\)", rows[4])
    assert rows[5] == "↷ after the run ended first (interrupted (Ctrl-C))"
    summary = "\n".join(lines[6:])
    assert "== long: CANCELLED (interrupted (Ctrl-C))" in summary
    assert "- slow one: interrupted (Ctrl-C)" in summary


def test_ctrl_c_without_a_terminal_prints_cancelled_lines(tmp_path: Path) -> None:
    script = write_script(tmp_path / "long.py", LONG)
    child = spawn("-m", "nbjobs", "run", "--no-live", script)
    child.expect("slow 2 started")
    child.sendintr()
    raw, status = finish(child)
    assert status == 130, raw
    text = plain(raw)
    assert "\x1b[?25l" not in raw  # no live display
    assert re.search(STAMP + r" cancelled  slow one  \d\.\d\ds  \(interrupted \(Ctrl-C\)\)", text)
    assert re.search(STAMP + r" skipped    after  \(the run ended first", text)
    assert re.search(STAMP + r" finish     \[long\]  \d\.\d\ds  CANCELLED", text)
    assert "Traceback" not in text


def test_output_to_a_pipe_is_timestamped_lines_on_stderr() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nbjobs", "demo", "--scale", "0.02"],
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert "\x1b" not in err
    stamped = [line for line in err.splitlines() if re.match(STAMP + " ", line)]
    assert stamped[0].endswith(" start      [demo]")
    statuses = {line[13:24].strip() for line in stamped}
    assert statuses == {"start", "running", "succeeded", "failed", "cancelled", "finish"}
    assert "\n== demo: FINE" in err
    # stdout holds the jobs' own lines only, as they were printed: a pipe reads them alone
    assert "nbjobs demo: starting\n" in done.stdout
    assert not re.search(STAMP, done.stdout)


RUN_ITSELF = """\
    import asyncio, sys, termios
    from nbjobs import Job, Scheduler

    async def work():
        print("hello from the job")
        await asyncio.sleep(0.3)

    job = Job(work, label="worker")
    ok = Scheduler(job, label="itself").run()
    print("stdout after:", type(sys.stdout).__name__)
    print("captured:", repr(job.output.text()))
    if sys.stdin.isatty():
        print("echo after:", bool(termios.tcgetattr(0)[3] & termios.ECHO))
    print("ok:", ok)
    """


def test_scheduler_run_in_a_terminal_draws_the_live_view_and_restores_everything(
    tmp_path: Path,
) -> None:
    script = write_script(tmp_path / "itself.py", RUN_ITSELF)
    raw, status = finish(spawn(script))
    assert status == 0, raw
    assert "\x1b[?25l" in raw
    lines = final_frame(raw)
    rows = [" ".join(line.split()) for line in lines]
    assert re.fullmatch(r"itself ━+ 1/1 0\.\d\ds", rows[0])
    assert re.fullmatch(r"✔ worker 0\.\d\ds hello from the job", rows[2])
    text = "\n".join(rows)
    # the capture and the display each put back what they replaced...
    assert "stdout after: TextIOWrapper" in text
    # ...the job's output is what it printed, not the display's escape codes...
    assert "captured: 'hello from the job\\n'" in text
    # ...and the terminal echoes keys again
    assert "echo after: True" in text
    assert "ok: True" in text


def test_scheduler_run_into_pipes_prints_nothing_but_the_programs_output(
    tmp_path: Path,
) -> None:
    # asynciojobs prints nothing: piping a script's output must give that output alone
    script = write_script(tmp_path / "itself.py", RUN_ITSELF)
    done = subprocess.run(
        [sys.executable, script],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "hello from the job",
        "stdout after: TextIOWrapper",
        "captured: 'hello from the job\\n'",
        "ok: True",
    ]
    assert done.stderr == ""


def test_scheduler_run_asked_for_its_view_prints_plain_lines_on_stderr(tmp_path: Path) -> None:
    script = write_script(tmp_path / "itself.py", RUN_ITSELF.replace(".run()", '.run(view="text")'))
    done = subprocess.run(
        [sys.executable, script],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert re.fullmatch(STAMP + r" start      \[itself\]", lines[0])
    assert re.fullmatch(STAMP + r" running    worker", lines[1])
    assert re.fullmatch(STAMP + r" succeeded  worker  0\.\d\ds", lines[2])
    assert done.stdout.splitlines()[0] == "hello from the job"


@pytest.mark.parametrize("flag", ["--no-live", None])
def test_run_exit_status_1_on_failure_in_a_terminal(tmp_path: Path, flag: str | None) -> None:
    script = write_script(
        tmp_path / "fails.py",
        """\
        from nbjobs import Job, Scheduler

        async def boom():
            raise OSError("disk full")

        scheduler = Scheduler(Job(boom, label="writer"), label="fails")
        """,
    )
    args = ["-m", "nbjobs", "run", *([flag] if flag else []), script]
    raw, status = finish(spawn(*args))
    assert status == 1, raw
    text = plain(raw)
    assert "== fails: a CRITICAL job has raised an exception" in text
    assert "OSError: disk full" in text


class Terminal:
    """The command in a pseudo-terminal, and the screen a VT100 terminal (pyte) shows of
    what it wrote: what a user would see, once the live display's redraws are applied."""

    def __init__(self, *args: str, rows: int, cols: int) -> None:
        self.child = spawn(*args, rows=rows, cols=cols)
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.Stream(self.screen)

    def lines(self) -> list[str]:
        lines = [line.rstrip() for line in self.screen.display]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    def _read(self) -> bool:
        """Apply the next output to the screen; False once the command has ended."""
        try:
            self.stream.feed(self.child.read_nonblocking(65536, timeout=self.child.timeout))
        except pexpect.EOF:
            return False
        except pexpect.TIMEOUT:
            pytest.fail("nothing written for 30 s:\n" + "\n".join(self.lines()))
        return True

    def wait_for(self, text: str) -> list[str]:
        while not any(text in line for line in self.lines()):
            assert self._read(), f"{text!r} never showed:\n" + "\n".join(self.lines())
        return self.lines()

    def finish(self) -> tuple[list[str], int]:
        """The screen once the command has ended, and its exit status."""
        while self._read():
            pass
        self.child.close()
        assert self.child.exitstatus is not None, f"killed by signal {self.child.signalstatus}"
        return self.lines(), self.child.exitstatus


def test_screen_after_ctrl_c_holds_one_clean_final_frame(tmp_path: Path) -> None:
    script = write_script(tmp_path / "long.py", LONG)
    term = Terminal("-m", "nbjobs", "run", script, rows=40, cols=100)
    term.wait_for("slow 2 started")
    term.wait_for("slow two")
    term.child.sendintr()
    screen, status = term.finish()
    assert status == 130, "\n".join(screen)
    # The terminal would echo ^C at the cursor and shift the display by a line, leaving a
    # stale copy of its first line behind: the view turns echo off while it draws.
    headers = [line for line in screen if line.startswith("long ━")]
    assert len(headers) == 1, "\n".join(screen)
    assert "^C" not in "\n".join(screen)
    first = screen.index(headers[0])
    rows = [" ".join(line.split()) for line in screen[first : first + 6]]
    assert rows[1] == "⊘ 2 cancelled ↷ 1 skipped ✔ 1 succeeded"
    assert rows[3].startswith("⊘ slow one")
    # what the jobs printed stays above the display
    assert screen.index("slow 1 started") < first
