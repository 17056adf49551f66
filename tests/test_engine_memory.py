"""What a graph and a run leave for the garbage collector.

Every container object that lives as long as the graph (or the run) is one more for each
full pass of the garbage collector; with 100k jobs those passes dominate a run. These
tests pin the number of such objects per job.
"""

from __future__ import annotations

import gc
import platform
import sys

import pytest

from nbjobs import Job, Scheduler

# CPython keeps an instance's attributes in a compact values array, without a dict
# object, until something asks for its __dict__ (3.11 and later)
compact_attributes = pytest.mark.skipif(
    platform.python_implementation() != "CPython" or sys.version_info < (3, 11),
    reason="CPython's compact instance attributes",
)


async def body(i: int) -> int:
    return i


@compact_attributes
def test_a_job_has_no_dict_object() -> None:
    first = Job(body, 0)
    second = Job(body, 1, required=first, label="second")
    assert not any(type(o) is dict for o in gc.get_referents(second))
    assert Scheduler(first, second, view=False).run() is True
    assert not any(type(o) is dict for o in gc.get_referents(second))
    assert second.result() == 1
