"""The public face: ``nbjobs`` re-exports its API and says so in ``__module__``."""

from __future__ import annotations

import inspect
import pickle

import nbjobs


async def _work() -> int:
    return 1


def _plain(x: int) -> int:
    return x


def test_every_export_says_nbjobs() -> None:
    for name in nbjobs.__all__:
        obj = getattr(nbjobs, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__module__ == "nbjobs", name


def test_reprs_and_tracebacks_say_nbjobs() -> None:
    assert repr(nbjobs.CycleError) == "<class 'nbjobs.CycleError'>"
    assert repr(nbjobs.Job) == "<class 'nbjobs.Job'>"


def test_pickle_finds_exported_classes() -> None:
    for job in (nbjobs.Job(_work), nbjobs.Job(_plain, 3, label="plain")):
        copy = pickle.loads(pickle.dumps(job))
        assert type(copy) is nbjobs.Job
        assert copy.label_text() == job.label_text()
    error = pickle.loads(pickle.dumps(nbjobs.RequirementError("no such job")))
    assert type(error) is nbjobs.RequirementError
    assert str(error) == "no such job"


def test_every_exported_error_pickles_with_its_fields() -> None:
    # errors cross processes (a body on a process pool or a Dask worker raises them, and a
    # failed job's exception is pickled back): each must come back whole
    made = {
        nbjobs.CycleError: nbjobs.CycleError("a cycle: x -> y -> x", ["x", "y", "x"]),
        nbjobs.NotRerunnableError: nbjobs.NotRerunnableError("spent coroutines", ["job"]),
    }
    errors = [
        getattr(nbjobs, name)
        for name in nbjobs.__all__
        if inspect.isclass(getattr(nbjobs, name))
        and issubclass(getattr(nbjobs, name), BaseException)
    ]
    assert nbjobs.CycleError in errors and len(errors) >= 8
    for cls in errors:
        error = made.get(cls) or cls(f"what went wrong with {cls.__name__}")
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is cls
        assert str(copy) == str(error)
        assert copy.__dict__ == error.__dict__, cls
    assert pickle.loads(pickle.dumps(made[nbjobs.CycleError])).cycle == ["x", "y", "x"]
    assert pickle.loads(pickle.dumps(made[nbjobs.NotRerunnableError])).jobs == ["job"]
