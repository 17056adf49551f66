"""Results flow between jobs: jobs as arguments, the decorator, skips that propagate."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from nbjobs import Job, RequirementError, Scheduler, Status
from tests.conftest import run_checked


async def fetch(x: int, delay: float = 0.0) -> int:
    await asyncio.sleep(delay)
    return x


async def add(*values: int) -> int:
    return sum(values)


async def boom(*_: Any) -> None:
    raise RuntimeError("boom")


def test_job_arguments_become_requirements_and_results() -> None:
    a = Job(fetch, 1, 0.01)
    b = Job(fetch, 2)
    total = Job(add, a, b)
    assert total.data_required == (a, b)
    assert set(total.required) == {a, b}
    s = Scheduler(total, a, b)
    assert run_checked(s.co_run)
    assert total.result() == 3


def test_keyword_and_nested_arguments_are_replaced() -> None:
    a, b, c = Job(fetch, 1), Job(fetch, 2), Job(fetch, 3)

    def combine(items: list[int], pair: tuple[int, str], mapping: dict[str, int], k: int) -> Any:
        return items, pair, mapping, k

    out = Job(combine, [a, b], (c, "x"), {"a": a}, k=b)
    s = Scheduler(a, b, c, out)
    assert run_checked(s.co_run)
    assert out.result() == ([1, 2], (3, "x"), {"a": 1}, 2)


def test_large_results_are_passed_not_copied() -> None:
    big = list(range(100_000))

    async def make() -> list[int]:
        return big

    async def same(value: list[int]) -> bool:
        return value is big

    producer = Job(make)
    consumer = Job(same, producer)
    assert run_checked(Scheduler(producer, consumer).co_run)
    assert consumer.result() is True


def test_decorator_makes_job_factories() -> None:
    s = Scheduler()

    @s.job
    async def double(x: int) -> int:
        return 2 * x

    @s.job(label="sum", critical=False)
    def plain_sum(*xs: int) -> int:
        return sum(xs)

    a = double(3)
    b = double(a)
    c = plain_sum(a, b)
    assert c.label == "sum" and not c.critical
    assert list(s.jobs) == [a, b, c]
    assert run_checked(s.co_run)
    assert (a.result(), b.result(), c.result()) == (6, 12, 18)


def test_decorator_rejects_clashing_keywords_and_unknown_options() -> None:
    s = Scheduler()
    with pytest.raises(TypeError, match="unknown option"):
        s.job(colour="red")(fetch)
    factory = s.job(fetch)
    with pytest.raises(TypeError, match=r"Job\(\) takes as its own options"):
        factory(1, label="x")
    assert factory.options_(label="x")(1).label == "x"


def test_consumer_of_failed_job_is_skipped_and_so_are_its_consumers() -> None:
    bad = Job(boom, critical=False, label="bad")
    consumer = Job(add, bad, label="consumer")
    second = Job(add, consumer, label="second")
    requirer = Job(fetch, 5, required=bad, label="requirer")
    s = Scheduler(bad, consumer, second, requirer)
    assert run_checked(s.co_run) is True
    assert consumer.status is Status.SKIPPED
    assert consumer.skip_reason == "needs the result of 'bad', which failed (RuntimeError: boom)"
    assert second.status is Status.SKIPPED
    assert second.skip_reason is not None and "'consumer', which was skipped" in second.skip_reason
    assert requirer.status is Status.SUCCEEDED  # a plain requirement keeps asynciojobs' rule
    assert not consumer.is_done() and consumer.is_idle()


def test_consumer_of_cancelled_job_is_skipped() -> None:
    slow = Job(fetch, 1, 5, label="slow")
    consumer = Job(add, slow)

    async def canceller() -> None:
        await asyncio.sleep(0.005)
        slow.cancel("changed my mind")

    s = Scheduler(slow, consumer, Job(canceller))
    assert run_checked(s.co_run)
    assert consumer.status is Status.SKIPPED
    assert "was cancelled (changed my mind)" in (consumer.skip_reason or "")


def test_producer_in_another_scheduler_is_an_error_before_running() -> None:
    other = Scheduler()
    producer = Job(fetch, 1, scheduler=other, label="elsewhere")
    consumer = Job(add, producer)
    s = Scheduler(consumer)
    with pytest.raises(RequirementError, match=r"takes the result of .*elsewhere"):
        run_checked(s.co_run)
    # sanitize cannot drop a data edge: still an error
    s.sanitize()
    with pytest.raises(RequirementError):
        run_checked(s.co_run)


def test_data_requirement_cannot_be_removed() -> None:
    a = Job(fetch, 1)
    b = Job(add, a)
    with pytest.raises(RequirementError, match="cannot be removed"):
        b.requires(a, remove=True)


def test_dot_marks_data_edges() -> None:
    a = Job(fetch, 1)
    b = Job(fetch, 2)
    c = Job(add, a, required=b)
    dot = Scheduler(a, b, c).dot_format()
    assert f'j{a.id} -> j{c.id} [class="nbjobs-data"' in dot
    assert f"j{b.id} -> j{c.id}\n" in dot


def test_rerun_passes_stored_results_to_consumers() -> None:
    calls = {"n": 0}

    async def once() -> int:
        calls["n"] += 1
        return 10

    async def picky(x: int) -> int:
        if calls["n"] == 1 and not hasattr(picky, "seen"):
            picky.seen = True  # type: ignore[attr-defined]
            raise RuntimeError("first time")
        return x + 1

    producer = Job(once)
    consumer = Job(picky, producer, critical=False)
    s = Scheduler(producer, consumer)
    run_checked(s.co_run)
    assert consumer.status is Status.FAILED
    run_checked(s.co_run)
    assert consumer.result() == 11 and calls["n"] == 1


def test_widget_graph_marks_data_edges() -> None:
    from nbjobs._widget import widget as widget

    a = Job(fetch, 1)
    b = Job(fetch, 2)
    c = Job(add, a, required=b)
    cols = widget.graph_columns(Scheduler(a, b, c))["jobs"]
    at = cols["id"].index(c.id)
    assert set(cols["requires"][at]) == {a.id, b.id}
    assert cols["data"][at] == [a.id]
