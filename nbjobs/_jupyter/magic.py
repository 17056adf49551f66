"""``%load_ext nbjobs`` and the ``%%orchestrate`` cell magic.

IPython never awaits what a cell magic returns, so a magic cannot run a scheduler on the
kernel's loop natively.  Instead an input transformer (in ``input_transformers_cleanup``,
which runs before IPython turns ``%%name`` into a magic call) rewrites the cell::

    %%orchestrate --window 2          __nbjobs_orchestrate__ = <begin>("--window 2")
    a = fetch(1)               ->     a = fetch(1)
    b = Job(fetch, 2, label="b")      b = Job(fetch, 2, label="b")
                                      await __nbjobs_orchestrate__.finish()

The body stays ordinary cell code (same line numbers, magics and top-level ``await``
allowed, errors are plain cell errors); :func:`begin` notes the user namespace first, and
``finish()`` collects the jobs the body assigned to names and runs them.  If the body
raises, ``finish()`` never runs: a ``post_run_cell`` callback then closes the coroutines
the body created, so nothing runs and nothing warns.

Calling the magic itself (``get_ipython().run_cell_magic("orchestrate", ...)``, where no
transformer applies) executes the body and runs the scheduler blocking.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
from collections.abc import Iterable
from typing import Any

from IPython.core.error import UsageError

from .._core.job import AbstractJob, Job
from .._core.sequence import Sequence
from .._engine.nested import get_shell

logger = logging.getLogger("nbjobs")

# IPython's decorators are untyped: reached through Any so that mypy --strict accepts them
_args: Any = importlib.import_module("IPython.core.magic_arguments")
_ipy_display: Any = importlib.import_module("IPython.display")

MAGIC = "orchestrate"
#: the name bound to the scheduler when ``--name`` is not given
DEFAULT_NAME = "orchestration"
_VAR = "__nbjobs_orchestrate__"


#: the options, in the order ``%%orchestrate?`` lists them
_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("--timeout",), {"type": float, "metavar": "T", "help": "seconds for the whole run"}),
    (("--window",), {"type": int, "metavar": "N", "help": "at most N jobs running at once"}),
    (
        ("--background",),
        {
            "action": "store_true",
            "help": "return at once with a handle (the cell's value) while the run goes on "
            "and other cells run; 'await' the handle for the result, .cancel() it to stop",
        },
    ),
    (
        ("--name",),
        {
            "default": DEFAULT_NAME,
            "metavar": "VAR",
            "help": f"bind the scheduler to VAR in the notebook (default: {DEFAULT_NAME})",
        },
    ),
    (("--no-widget", "--text"), {"dest": "text", "action": "store_true", "help": "text view"}),
    (
        ("--critical",),
        {
            "dest": "critical",
            "action": "store_true",
            "default": True,
            "help": "(default) a failing job stops the run and the cell raises its exception",
        },
    ),
    (
        ("--non-critical",),
        {
            "dest": "critical",
            "action": "store_false",
            "help": "jobs made from bare coroutines do not stop the run when they fail, and "
            "the cell's value is False instead of an exception",
        },
    ),
    (("--verbose",), {"action": "store_true", "help": "print the plan first; log each step"}),
    (
        ("--dry-run",),
        {
            "action": "store_true",
            "help": "show the plan and the graph; run nothing (the coroutines are closed)",
        },
    ),
]


def orchestrate(line: str, cell: str | None = None) -> Any:
    """Run the jobs that the cell creates, as one scheduler, with a live view.

    The cell body is ordinary Python.  Every name it assigns to a job becomes part of the
    run: ``Job`` objects (requirements as usual, with ``requires()`` or ``required=``),
    and bare coroutine objects, which become jobs labelled by their names; lists, tuples
    and dicts of them count too.  Jobs they require are added as well.  Bare coroutines
    assigned to names are replaced in the notebook by their jobs, so ``a.result()`` works
    afterwards.

    The run happens on the kernel's event loop (the cell is rewritten into an ``await``),
    so the live view updates and the kernel's Interrupt cancels the run cleanly.  An error
    in the body is an ordinary cell error, and then nothing runs.

    Example::

        %%orchestrate --window 2 --name pipeline
        a = Job(fetch, "a", label="a")
        b = Job(fetch, "b", label="b")
        c = Job(combine, a, b, label="combine")  # runs combine(a's result, b's result)
        d = notify("starting")                    # a bare coroutine: a job labelled d
    """
    shell = get_shell()
    if cell is None or shell is None:
        raise UsageError("%%orchestrate is a cell magic: put it on the first line of a cell")
    # reached only where the transformer did not rewrite the cell: run it blocking
    orch = begin(line)
    code = shell.transform_cell(cell)
    try:
        exec(compile(code, "<%%orchestrate>", "exec"), shell.user_ns)
    except BaseException:
        orch.abort()
        raise
    return orch.finish_blocking()


def _with_options(fn: Any) -> Any:
    # what stacked @argument decorators do, bottom first, then @magic_arguments on top
    for names, options in reversed(_OPTIONS):
        fn = _args.argument(*names, **options)(fn)
    # the name shown in the usage line: a cell magic, so two percent signs
    return _args.magic_arguments(name="%" + MAGIC)(fn)


orchestrate = _with_options(orchestrate)


def begin(line: str) -> Orchestration:
    """First statement of a rewritten cell: parse the options, note the namespace."""
    shell = get_shell()
    if shell is None:
        raise UsageError("%%orchestrate needs IPython")
    args = _args.parse_argstring(orchestrate, line)
    if not str(args.name).isidentifier():
        raise UsageError(f"--name takes a Python identifier, got {args.name!r}")
    if args.window is not None and args.window < 1:
        raise UsageError(f"--window takes a number >= 1, got {args.window!r}")
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError(f"--timeout takes a number of seconds > 0, got {args.timeout!r}")
    orch = Orchestration(shell, args)
    shell.events.register("post_run_cell", orch._after_cell)
    return orch


class Orchestration:
    """One ``%%orchestrate`` cell between :func:`begin` and ``finish()``."""

    def __init__(self, shell: Any, args: Any) -> None:
        self.shell = shell
        self.args = args
        self.ns: dict[str, Any] = shell.user_ns
        # strong references, compared by identity: new and re-bound names are the body's
        self.before: dict[str, Any] = dict(self.ns)
        self.done = False

    # ---- what the body made -------------------------------------------------------------
    def _assigned(self) -> Iterable[tuple[str, Any]]:
        missing = object()
        for name, value in list(self.ns.items()):
            if name == _VAR or self.before.get(name, missing) is value:
                continue
            yield name, value

    def collect(self) -> list[Any]:
        """The jobs (and sequences) to run, in the order the names were bound."""
        critical = bool(self.args.critical)
        found: list[Any] = []
        seen: set[int] = set()

        def add(item: Any) -> None:
            if id(item) not in seen:
                seen.add(id(item))
                found.append(item)

        def wrap(label: str, value: Any) -> Any:
            """A job for ``value``, or None when it is not one."""
            if isinstance(value, AbstractJob | Sequence):
                return value
            if inspect.iscoroutine(value) and inspect.getcoroutinestate(value) == (
                inspect.CORO_CREATED
            ):
                return Job(value, label=label, critical=critical)
            return None

        for name, value in self._assigned():
            job = wrap(name, value)
            if job is not None:
                add(job)
                if job is not value:
                    self.ns[name] = job
                continue
            if isinstance(value, list | tuple):
                jobs = [wrap(f"{name}[{i}]", item) for i, item in enumerate(value)]
                if jobs and all(j is not None for j in jobs):
                    for j in jobs:
                        add(j)
                    self.ns[name] = type(value)(jobs) if isinstance(value, list) else tuple(jobs)
            elif isinstance(value, dict) and value:
                wrapped = {k: wrap(f"{name}[{k!r}]", v) for k, v in value.items()}
                if all(j is not None for j in wrapped.values()):
                    for j in wrapped.values():
                        add(j)
                    self.ns[name] = wrapped
        return _with_requirements(found)

    def abort(self) -> None:
        """The body failed: close what it created, so that nothing warns "never awaited"."""
        self.done = True
        self.ns.pop(_VAR, None)
        for _, value in self._assigned():
            items = (
                value.values()
                if isinstance(value, dict)
                else (value if isinstance(value, list | tuple) else (value,))
            )
            for item in items:
                if inspect.iscoroutine(item) or (
                    isinstance(item, AbstractJob) and item.scheduler is None
                ):
                    item.close()

    def _after_cell(self, result: Any) -> None:
        with contextlib.suppress(ValueError):
            self.shell.events.unregister("post_run_cell", self._after_cell)
        if not self.done:
            self.abort()

    # ---- running ------------------------------------------------------------------------
    def _build(self) -> Any:
        from .._engine.scheduler import Scheduler

        self.done = True
        self.ns.pop(_VAR, None)
        try:
            jobs = self.collect()
        except BaseException:
            self.abort()
            raise
        if not jobs:
            raise UsageError(
                "%%orchestrate found no jobs in the cell: assign coroutine objects "
                "(a = fetch(1)) or Job(...) objects to names"
            )
        name = self.args.name
        previous = self.before.get(name)
        self._supersede(previous)
        try:
            scheduler = Scheduler(
                *jobs,
                jobs_window=self.args.window,
                timeout=self.args.timeout,
                verbose=self.args.verbose,
                view="text" if self.args.text else None,
                critical=self.args.critical,
                label=name,
            )
        except BaseException:
            for job in jobs:
                if isinstance(job, AbstractJob) and job.scheduler is None:
                    job.close()
            raise
        self.ns[name] = scheduler
        if self.args.verbose or self.args.dry_run:
            scheduler.list()
        return scheduler

    def _supersede(self, previous: Any) -> None:
        """Re-running a cell whose earlier run still goes on in the background stops it."""
        if previous is None:
            return
        from .kernel import running_handles

        for handle in running_handles():
            if handle.scheduler is previous:
                handle.cancel("replaced by a new run of its %%orchestrate cell")

    def _dry_run(self, scheduler: Any) -> None:
        from .display import make_widget

        display = _ipy_display.display

        widget = None if self.args.text else make_widget(scheduler)
        if widget is not None:
            display(widget)
        else:
            # an SVG picture, drawn by dot or in process (no system program needed)
            display(scheduler.graph(statuses=False))
        scheduler.close_all_jobs()

    async def finish(self) -> Any:
        """Last statement of a rewritten cell: run the collected jobs on the kernel's loop."""
        scheduler = self._build()
        if self.args.dry_run:
            self._dry_run(scheduler)
            return None
        if self.args.background:
            from .kernel import start

            return start(scheduler)
        return await scheduler.co_run()

    def finish_blocking(self) -> Any:
        scheduler = self._build()
        if self.args.dry_run:
            self._dry_run(scheduler)
            return None
        if self.args.background:
            from .kernel import start

            return start(scheduler)
        return scheduler.run()


def _with_requirements(jobs: list[Any]) -> list[Any]:
    """``jobs`` plus every job they require, transitively, that has no scheduler yet.

    Jobs that already belong to a scheduler are left to it (adding them elsewhere is an
    error), unless that scheduler is one of the collected jobs.
    """
    out: list[Any] = []
    seen: set[int] = set()
    stack = list(reversed(jobs))
    while stack:
        job = stack.pop()
        if id(job) in seen:
            continue
        seen.add(id(job))
        if isinstance(job, AbstractJob) and job.scheduler is not None:
            continue
        out.append(job)
        if isinstance(job, AbstractJob):
            stack.extend(reversed(list(job.required)))
    return out


# --------------------------------------------------------------------------- transformer


def transform_cell(lines: list[str]) -> list[str]:
    """The input transformer: rewrite an ``%%orchestrate`` cell into an ``await``."""
    if not lines:
        return lines
    first = lines[0].strip()
    head = "%%" + MAGIC
    if first != head and not first.startswith((head + " ", head + "\t")):
        return lines
    if first.endswith("?"):
        return lines  # %%orchestrate? is help, which IPython handles
    options = first[len(head) :].strip()
    body = list(lines[1:])
    if body and not body[-1].endswith("\n"):
        body[-1] += "\n"
    return [
        f"{_VAR} = __import__('nbjobs._jupyter.magic', fromlist=['begin']).begin({options!r})\n",
        *body,
        f"await {_VAR}.finish()\n",
    ]


def load_ipython_extension(shell: Any) -> None:
    shell.register_magic_function(orchestrate, magic_kind="cell", magic_name=MAGIC)
    cleanup = shell.input_transformers_cleanup
    if transform_cell not in cleanup:
        cleanup.append(transform_cell)
    from .kernel import install

    install()


def unload_ipython_extension(shell: Any) -> None:
    cleanup = shell.input_transformers_cleanup
    while transform_cell in cleanup:
        cleanup.remove(transform_cell)
    shell.magics_manager.magics["cell"].pop(MAGIC, None)
