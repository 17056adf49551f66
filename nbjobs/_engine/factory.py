"""``@scheduler.job``: a function becomes a factory of jobs in that scheduler."""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

from .._core.job import Job

if TYPE_CHECKING:
    from .scheduler import PureScheduler

_JOB_OPTIONS = frozenset(inspect.signature(Job.__init__).parameters) - {
    "self",
    "corun",
    "args",
    "kwargs",
}


class JobFactory:
    """Calling it creates a ``Job`` running the function with the given arguments.

    Jobs among the arguments (directly, or one level deep in a list, tuple or dict) are
    requirements, replaced by their results when the new job starts.
    """

    def __init__(self, fn: Any, scheduler: PureScheduler, options: dict[str, Any]) -> None:
        if not callable(fn):
            raise TypeError(f"@scheduler.job decorates a function, got {fn!r}")
        unknown = set(options) - _JOB_OPTIONS
        if unknown:
            raise TypeError(
                f"@scheduler.job() got unknown option(s) {sorted(unknown)}; "
                f"known: {sorted(_JOB_OPTIONS - {'scheduler'})}"
            )
        if "scheduler" in options:
            raise TypeError("@scheduler.job() adds jobs to that scheduler: drop 'scheduler='")
        self.fn = fn
        self.scheduler = scheduler
        self.options = dict(options)
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Job:
        clash = set(kwargs) & _JOB_OPTIONS
        if clash:
            raise TypeError(
                f"{self.fn.__name__}() got keyword(s) {sorted(clash)} that Job() takes as its "
                "own options; set those in @scheduler.job(...) or with .options_(...), and "
                "rename the function's parameters if they really are its own"
            )
        return Job(self.fn, *args, scheduler=self.scheduler, **self.options, **kwargs)

    def options_(self, **options: Any) -> JobFactory:
        """A copy with other Job options, e.g. ``fetch.options_(label="a")(url)``."""
        return JobFactory(self.fn, self.scheduler, {**self.options, **options})

    def __repr__(self) -> str:
        return f"<job factory {getattr(self.fn, '__qualname__', self.fn)!r} in {self.scheduler!r}>"
