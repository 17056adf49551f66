"""The ``nbjobs`` command: ``nbjobs run SCRIPT.py`` and ``nbjobs demo``.

Which schedulers ``nbjobs run`` runs (the script is executed with ``__name__`` set to
``"__nbjobs__"``, so a ``if __name__ == "__main__":`` block does not run):

1. a module-level ``scheduler`` (or ``main``) that is a scheduler, if there is one; else
2. every module-level scheduler that is not nested in another one, in the order the
   script first assigned them; else
3. whatever a module-level function ``main()`` returns: a scheduler or a list of them
   (to build the graph from ``sys.argv``, say).  It must not run them itself.

Several schedulers run one after the other; the first one that fails stops the rest.
The script must not run them itself when imported (guard that with the ``__main__``
test, so that ``python SCRIPT.py`` still works).  ``--timeout`` and ``--window`` replace
each scheduler's own ``timeout`` and ``jobs_window``; ``--dot``/``--svg`` are written
after the run, whatever its outcome, with each job's status (``graph-1.svg``,
``graph-2.svg``, ... when there are several schedulers; SVG is drawn by Graphviz's ``dot``
when it is installed, else in process).  ``ARG``s after ``--`` are the
script's ``sys.argv[1:]``.

Exit status: 0 when every scheduler succeeded, 1 when one failed (or the script raised),
2 on bad usage (no such script, no scheduler, a bad option), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import runpy
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from nbjobs._core.errors import NbjobsError
from nbjobs._core.text import format_traceback
from nbjobs._views.summary import summary
from nbjobs._views.terminal import attach

if TYPE_CHECKING:
    from nbjobs._engine.scheduler import PureScheduler

__all__ = ("EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "main")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for a job stopped by Ctrl-C

SCRIPT_RUN_NAME = "__nbjobs__"
INTERRUPT_REASON = "interrupted (Ctrl-C)"


class UsageError(Exception):
    """Bad command line or a script that gives nothing to run: exit status 2."""


class ScriptError(Exception):
    """The script raised while it was loaded or in its ``main()``: exit status 1."""

    def __init__(self, script: Path, error: Exception) -> None:
        super().__init__(f"{script} raised {type(error).__name__}")
        self.script = script
        self.error = error

    def report(self) -> str:
        """The traceback from the script's first frame: runpy's and nbjobs' frames above
        it are noise to whoever wrote the script."""
        error = self.error
        tb = error.__traceback__
        target = str(self.script.resolve())
        here = tb
        while here is not None and os.path.abspath(here.tb_frame.f_code.co_filename) != target:
            here = here.tb_next
        return format_traceback(error, here or tb)


def _parser() -> argparse.ArgumentParser:
    from nbjobs._version import __version__

    parser = argparse.ArgumentParser(
        prog="nbjobs",
        description="Run asyncio jobs whose dependencies form a DAG, with a live view.",
    )
    parser.add_argument("--version", action="version", version=f"nbjobs {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def view_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--no-live",
            action="store_true",
            help="print timestamped lines instead of the live view, even on a terminal",
        )

    run = commands.add_parser(
        "run",
        help="run the scheduler(s) a script defines",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("script", metavar="SCRIPT.py", help="the Python script defining schedulers")
    run.add_argument("args", nargs="*", metavar="ARG", help="arguments for the script (after --)")
    run.add_argument("--timeout", type=_positive_float, metavar="T", help="seconds for each run")
    run.add_argument("--window", type=_positive_int, metavar="N", help="run at most N jobs at once")
    run.add_argument("--dot", metavar="FILE", help="write the graph with each job's status as DOT")
    run.add_argument("--svg", metavar="FILE", help="write it as SVG")
    view_options(run)

    demo = commands.add_parser("demo", help="run a small scenario that shows the live view")
    demo.add_argument(
        "--scale",
        type=_positive_float,
        default=1.0,
        metavar="F",
        help="multiply every duration by F (default 1: about 4 seconds)",
    )
    view_options(demo)
    return parser


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


# ---------------------------------------------------------------------------------------
# finding the schedulers of a script
# ---------------------------------------------------------------------------------------
def load_script(path: str, args: Sequence[str] = ()) -> dict[str, Any]:
    """Execute the script as ``__nbjobs__`` with its directory first on ``sys.path``."""
    script = Path(path)
    if not script.is_file():
        raise UsageError(f"no such script: {path!r}")
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    # As `python SCRIPT.py` would: the script sees its own arguments and can import the
    # modules next to it.
    sys.argv = [str(script), *args]
    sys.path.insert(0, str(script.resolve().parent))
    try:
        return runpy.run_path(str(script), run_name=SCRIPT_RUN_NAME)
    except Exception as exc:
        raise ScriptError(script, exc) from exc
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path


def find_schedulers(namespace: dict[str, Any], where: str = "the script") -> list[PureScheduler]:
    """The schedulers to run from a script's globals, by the convention in this module."""
    from nbjobs._engine.scheduler import PureScheduler

    script = Path(namespace.get("__file__") or where)

    for name in ("scheduler", "main"):
        found = namespace.get(name)
        if isinstance(found, PureScheduler):
            return [found]
    if "scheduler" in namespace:
        raise UsageError(
            f"{where} defines `scheduler` = {namespace['scheduler']!r}, which is not a "
            "Scheduler; assign it a Scheduler, or rename it"
        )
    top: list[PureScheduler] = []
    for value in namespace.values():
        if (
            isinstance(value, PureScheduler)
            and value.scheduler is None
            and all(value is not seen for seen in top)
        ):
            top.append(value)
    if top:
        return top
    factory = namespace.get("main")
    if not callable(factory):
        raise UsageError(
            f"{where} defines no Scheduler: assign one to a module-level variable "
            "(`scheduler = Scheduler(...)`), or define `main()` returning one"
        )
    try:
        made = factory()
    except Exception as exc:
        raise ScriptError(script, exc) from exc
    items = list(made) if isinstance(made, list | tuple) else [made]
    if not items or not all(isinstance(item, PureScheduler) for item in items):
        raise UsageError(
            f"main() in {where} returned {made!r}; it should return a Scheduler "
            "or a list of Schedulers (and not run them)"
        )
    return items


# ---------------------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------------------
class _Runner:
    """Runs schedulers one after the other on one event loop, with Ctrl-C as a cancel."""

    def __init__(self, *, live: bool, out: TextIO) -> None:
        self.live = live
        self.out = out
        self.interrupted = False
        self.current: PureScheduler | None = None

    def run(self, schedulers: Sequence[PureScheduler]) -> bool:
        return asyncio.run(self._run_all(schedulers))

    async def _run_all(self, schedulers: Sequence[PureScheduler]) -> bool:
        loop = asyncio.get_running_loop()
        main_task = asyncio.current_task()

        def on_sigint() -> None:
            if not self.interrupted and self.current is not None:
                # First Ctrl-C: cancel the run through the engine, so that every job ends
                # up cancelled with this reason and the run drains cleanly.
                self.interrupted = True
                self.current.cancel(reason=INTERRUPT_REASON)
                return
            # Second Ctrl-C: the user insists (a job that ignores its cancellation, a slow
            # shutdown hook).  Cancel from outside, and leave the next Ctrl-C to Python's
            # own handler: a KeyboardInterrupt that stops waiting altogether.
            self.interrupted = True
            loop.remove_signal_handler(signal.SIGINT)
            if main_task is not None:
                main_task.cancel(INTERRUPT_REASON)

        try:
            loop.add_signal_handler(signal.SIGINT, on_sigint)
            handled = True
        except (NotImplementedError, RuntimeError):
            # No signal handlers on this loop (Windows): Ctrl-C then arrives as a
            # cancellation of this task, which the engine also turns into a clean cancel.
            handled = False
        try:
            for scheduler in schedulers:
                self.current = scheduler
                ok = await self._run_one(scheduler)
                if not ok or self.interrupted:
                    return False
            return True
        finally:
            self.current = None
            if handled:
                loop.remove_signal_handler(signal.SIGINT)  # a no-op once removed

    async def _run_one(self, scheduler: PureScheduler) -> bool:
        detach = attach(scheduler, mode="plain" if not self.live else "auto", file=self.out)
        try:
            return bool(await scheduler.co_run())
        except asyncio.CancelledError:
            if not self.interrupted:
                raise
            return False
        except Exception as exc:
            if not (scheduler.failed_critical() or scheduler.failed_time_out()):
                self._report(scheduler, exc)
            # Otherwise a critical scheduler raised its failure: the summary below shows
            # every failed job's traceback, so it is not printed twice.
            return False
        finally:
            if detach is not None:
                detach()
            if scheduler.statistics(recursive=False).started:
                self.out.write("\n" + summary(scheduler))
                self.out.flush()

    @staticmethod
    def _report(scheduler: PureScheduler, exc: Exception) -> None:
        if isinstance(exc, NbjobsError):
            # Misuse that nbjobs found before running anything (a cycle, a requirement
            # outside the scheduler): its message says what to do, a traceback would not.
            sys.stderr.write(f"nbjobs: {scheduler.label_text()}: {type(exc).__name__}: {exc}\n")
        else:
            sys.stderr.write(format_traceback(exc))


def _export(schedulers: Sequence[PureScheduler], dot: str | None, svg: str | None) -> None:
    for option, target in (("dot", dot), ("svg", svg)):
        if target is None:
            continue
        for index, scheduler in enumerate(schedulers, start=1):
            path = Path(target)
            if len(schedulers) > 1:
                # One file per scheduler: graph.svg -> graph-1.svg, graph-2.svg.
                path = path.with_name(f"{path.stem}-{index}{path.suffix}")
            if option == "dot":
                path.write_text(scheduler.dot_format(statuses=True), encoding="utf-8")
            else:
                scheduler.export_as_svgfile(str(path))


def _command_run(options: argparse.Namespace) -> int:
    namespace = load_script(options.script, options.args)
    schedulers = find_schedulers(namespace, where=options.script)
    for scheduler in schedulers:
        if options.timeout is not None:
            scheduler.timeout = options.timeout
        if options.window is not None:
            scheduler.jobs_window = options.window
    runner = _Runner(live=not options.no_live, out=sys.stderr)
    try:
        ok = runner.run(schedulers)
    finally:
        # Written whatever happened: a failed or interrupted run is when a graph with
        # each job's status helps most.
        try:
            _export(schedulers, options.dot, options.svg)
        except (OSError, NbjobsError) as exc:
            sys.stderr.write(f"nbjobs run: cannot export the graph: {exc}\n")
            ok = False
    if runner.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if ok else EXIT_FAILURE


def _command_demo(options: argparse.Namespace) -> int:
    from nbjobs._cli.demo import demo_scheduler

    scheduler = demo_scheduler(scale=options.scale)
    runner = _Runner(live=not options.no_live, out=sys.stderr)
    ok = runner.run([scheduler])
    if runner.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if ok else EXIT_FAILURE


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": _command_run,
    "demo": _command_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``nbjobs`` and ``python -m nbjobs``; returns the exit status."""
    parser = _parser()
    options = parser.parse_args(argv)
    try:
        return COMMANDS[options.command](options)
    except UsageError as exc:
        parser.exit(EXIT_USAGE, f"nbjobs {options.command}: error: {exc}\n")
    except KeyboardInterrupt:
        # Ctrl-C outside a run (while the script loads, while printing): nothing is
        # running that needs cancelling, and a traceback would only hide the prompt.
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write("interrupted\n")
        return EXIT_INTERRUPTED
    except ScriptError as exc:
        sys.stderr.write(exc.report())
        return EXIT_FAILURE
    except BrokenPipeError:
        # `nbjobs ... | head`: the reader left.  Point stdout at devnull so that the
        # interpreter's final flush does not raise again (the recipe in Python's docs).
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE
