"""Blocking runs in one thread share one event loop: what a run opened still works in the
next run of the script (a connection, a client, a task), and the loop closes at exit."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from typing import Any

from nbjobs import Job, Scheduler
from nbjobs._engine.blocking import at_loop_close


class Node:
    """Stands for a connection: an object made on the loop of the run that first used it."""

    def __init__(self) -> None:
        self.reader: asyncio.StreamReader | None = None
        self.loops: list[asyncio.AbstractEventLoop] = []

    async def use(self, line: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        self.loops.append(loop)
        if self.reader is None:
            # a stream made by the first run, fed and read again by the next ones: on
            # another loop than its own, waiting on it fails ("attached to a different loop")
            self.reader = asyncio.StreamReader()
        self.reader.feed_data(line)
        return await self.reader.readline()


def test_a_node_reused_by_two_blocking_runs_works() -> None:
    node = Node()
    first = Scheduler(Job(node.use, b"one\n"))
    assert first.run() is True
    second = Scheduler(Job(node.use, b"two\n"))
    assert second.run() is True
    assert [job.result() for job in (*first.jobs, *second.jobs)] == [b"one\n", b"two\n"]
    assert node.loops[0] is node.loops[1]
    assert not node.loops[0].is_closed()


def test_a_task_left_by_a_run_goes_on_in_the_next_one() -> None:
    ticks: list[int] = []
    holder: dict[str, asyncio.Task[None]] = {}

    async def ticker() -> None:
        for i in range(1000):
            ticks.append(i)
            await asyncio.sleep(0)

    async def start() -> None:
        holder["task"] = asyncio.get_running_loop().create_task(ticker())

    async def finish() -> int:
        await holder["task"]
        return len(ticks)

    assert Scheduler(Job(start)).run() is True
    paused = len(ticks)
    assert paused < 1000
    second = Scheduler(Job(finish))
    assert second.run() is True
    (finisher,) = second.jobs
    assert finisher.result() == 1000


def test_no_event_loop_is_left_set_between_runs() -> None:
    assert Scheduler(Job(asyncio.sleep, 0)).run() is True
    # asyncio.run() in the same thread still works, on its own loop
    assert asyncio.run(asyncio.sleep(0, "ok")) == "ok"


def test_a_threads_loop_closes_when_the_thread_ends() -> None:
    seen: list[asyncio.AbstractEventLoop] = []
    closed: list[str] = []

    async def body() -> None:
        loop = asyncio.get_running_loop()
        seen.append(loop)

        async def closer() -> None:
            closed.append("closer awaited on its loop")

        assert at_loop_close(loop, closer)

    def in_thread() -> None:
        assert Scheduler(Job(body)).run() is True
        assert Scheduler(Job(body)).run() is True

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(60)
    assert seen[0] is seen[1]
    assert seen[0].is_closed()
    assert closed == ["closer awaited on its loop"] * 2


def test_at_loop_close_refuses_loops_it_does_not_own() -> None:
    async def closer() -> None:
        pass

    async def main() -> bool:
        return at_loop_close(asyncio.get_running_loop(), closer)

    assert asyncio.run(main()) is False


def test_the_shared_loop_closes_at_exit_after_its_closers(tmp_path: Any) -> None:
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio
            from nbjobs import Job, Scheduler
            from nbjobs._engine.blocking import at_loop_close

            async def forever():
                try:
                    await asyncio.sleep(3600)
                finally:
                    print("leftover task cancelled at exit")

            async def body():
                loop = asyncio.get_running_loop()
                loop.create_task(forever())

                async def closer():
                    print("closer awaited at exit")

                at_loop_close(loop, closer)

            Scheduler(Job(body)).run()
            print("script ends")
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "script ends",
        "closer awaited at exit",
        "leftover task cancelled at exit",
    ]
    assert done.stderr == ""
