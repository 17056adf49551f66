"""Shared fixtures: every async test runs in a fresh loop that must end with no task left."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

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
