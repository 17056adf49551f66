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


def test_required_is_a_live_ordered_set_view() -> None:
    async def nothing() -> None:
        pass

    Job = nbjobs.Job
    a, b, c = Job(nothing), Job(nothing), Job(nothing)
    job = Job(nothing, required=[b, a, b])
    assert list(job.required) == [b, a] and len(job.required) == 2
    job.required.add(c)
    job.required.update([a, c])
    assert list(job.required) == [b, a, c] and c in job.required
    job.required.discard(b)
    assert list(job.required) == [a, c]
    assert job.required.copy() == {a, c} and job.required == {c, a}
    many = [Job(nothing) for _ in range(20)]
    job.requires(many)  # past a few, kept in a dict: order and membership the same
    assert list(job.required) == [a, c, *many] and many[-1] in job.required
    job.requires(many[3], remove=True)
    assert many[3] not in job.required and len(job.required) == 21
    job.required = [b]
    assert list(job.required) == [b]
