"""Shared fixtures: every async test runs in a fresh loop that must end with no task left."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import shutil
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests import system_tools
from tests.sshd import servers  # noqa: F401  (real sshd's, for the SSH tests)

with contextlib.suppress(ImportError):  # real-kernel fixtures (need the Jupyter extras)
    from tests.conftest_kernel import *  # noqa: F403


def run_checked(main: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``main()`` in a fresh loop; fail if it leaves any task behind."""

    async def wrapper() -> Any:
        result = await main()
        me = asyncio.current_task()
        leftover = [t for t in asyncio.all_tasks() if t is not me]
        assert not leftover, f"tasks left behind: {leftover}"
        return result

    try:
        return asyncio.run(wrapper())
    finally:
        # surface "never awaited" / "never retrieved" warnings in this test, not a later one
        gc.collect(1)


@pytest.fixture
def arun() -> Callable[[Callable[[], Awaitable[Any]]], Any]:
    return run_checked


def timed_run(scheduler: Any) -> tuple[Any, float]:
    """What ``scheduler.co_run()`` returned and how long it took on the loop's clock, in a
    fresh loop that must end with no task left."""

    async def main() -> tuple[Any, float]:
        loop = asyncio.get_running_loop()
        begin = loop.time()
        outcome = await scheduler.co_run()
        return outcome, loop.time() - begin

    result: tuple[Any, float] = run_checked(main)
    return result


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [system_tools.report()]


@pytest.fixture(params=["dot", "wasm"] if system_tools.COLLECT_DOT else ["wasm"])
def renderer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A test that draws SVG runs twice: with Graphviz's ``dot`` (not collected where it is
    not installed, unless under CI, where it must be), and with ``dot`` out of sight, where
    nbjobs must fall back on Graphviz in process by itself (always: that is what pip alone
    gives)."""
    monkeypatch.delenv("NBJOBS_GRAPHVIZ", raising=False)
    if request.param == "dot":
        if shutil.which("dot") is None:
            pytest.fail("CI is set and Graphviz's dot is not installed", pytrace=False)
        monkeypatch.setenv("NBJOBS_GRAPHVIZ", "dot")
    else:
        hide_dot(monkeypatch)
    return str(request.param)


def hide_dot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``dot`` look uninstalled (shutil.which is how nbjobs looks for it)."""
    which = shutil.which

    def without_dot(cmd: str, *args: Any, **kwargs: Any) -> str | None:
        return None if cmd == "dot" else which(cmd, *args, **kwargs)

    monkeypatch.setattr(shutil, "which", without_dot)
