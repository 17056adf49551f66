"""The public namespace: ``__all__`` and the module's public names agree."""

from __future__ import annotations

import types

import nbjobs


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(nbjobs).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(nbjobs.__all__) - {"__version__"} == public
    assert len(nbjobs.__all__) == len(set(nbjobs.__all__))
    assert isinstance(nbjobs.__all__, tuple)


def test_every_name_in_all_exists() -> None:
    for name in nbjobs.__all__:
        assert hasattr(nbjobs, name), name


def test_asynciojobs_and_seed_names_are_there() -> None:
    for name in (
        "AbstractJob",
        "Job",
        "Scheduler",
        "PureScheduler",
        "Sequence",
        "Watch",
        "PrintJob",
        "set_debug",
        "Engine",
    ):
        assert name in nbjobs.__all__
    assert nbjobs.Engine is nbjobs.Scheduler
    assert nbjobs.Scheduler.orchestrate is nbjobs.Scheduler.run
