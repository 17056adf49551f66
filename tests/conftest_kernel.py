"""Fixtures for the tests that drive real Jupyter kernels (imported by conftest.py).

One kernel per test module (starting one takes about a second); tests that need a pristine
process (nest-asyncio2 patches asyncio for the rest of a process) start their own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kernel_utils import Kernel

__all__ = ("KERNEL_SETUP", "clean_kernel", "kernel", "start_kernel")

#: the first cell of every kernel: nbjobs, a few jobs to run, and a leak detector
KERNEL_SETUP = '''
import asyncio, signal, time
from nbjobs import Job, Scheduler, Status
from nbjobs._jupyter.kernel import start

async def work(name, delay=0.05, result=None):
    print(f"start {name}", flush=True)
    await asyncio.sleep(delay)
    print(f"end {name}", flush=True)
    return result if result is not None else name

async def fail(name, delay=0.05):
    print(f"start {name}", flush=True)
    await asyncio.sleep(delay)
    raise ValueError(f"{name} failed")

def leftovers():
    """Pending tasks that are not the kernel's own machinery."""
    me = asyncio.current_task()
    out = []
    for task in asyncio.all_tasks():
        if task is me or task.done():
            continue
        code = getattr(task.get_coro(), "cr_code", None)
        where = code.co_filename if code is not None else ""
        if any(part in where for part in ("ipykernel", "IPython", "tornado", "zmq", "jupyter")):
            continue
        out.append(task)
    return out
'''


def start_kernel(setup: str = KERNEL_SETUP) -> Kernel:
    kernel = Kernel()
    try:
        kernel.ok(setup, timeout=60)
    except BaseException:
        kernel.close()
        raise
    return kernel


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    """A kernel shared by the tests of one module, with KERNEL_SETUP run."""
    kernel = start_kernel()
    try:
        yield kernel
    finally:
        kernel.close()


@pytest.fixture
def clean_kernel(kernel: Kernel) -> Iterator[Kernel]:
    """The module's kernel, checked after the test: no task left, Interrupt-ready."""
    yield kernel
    cell = kernel.execute("print(len(leftovers()), leftovers())")
    assert cell.ok, cell.describe()
    assert cell.stdout.startswith("0 "), f"tasks left behind: {cell.stdout}"
