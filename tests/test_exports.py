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
