"""The scenario of ``nbjobs demo``: a little of everything a run can show.

Three downloads run in parallel (a window of 4, one slot held by the heartbeat, keeps a
fourth job waiting for a slot), a
parse step needs two of them, a nested scheduler builds in sequence, a non-critical upload
fails without stopping anything, and a forever heartbeat is cancelled when the rest is
done.  ``scale`` multiplies every duration: 1 takes about four seconds.
"""

from __future__ import annotations

import asyncio

from nbjobs._core.job import Job
from nbjobs._core.printjob import PrintJob
from nbjobs._core.sequence import Sequence
from nbjobs._engine.scheduler import Scheduler

__all__ = ("demo_scheduler",)


async def _download(name: str, seconds: float) -> int:
    steps = 4
    for step in range(1, steps + 1):
        await asyncio.sleep(seconds / steps)
        print(f"{name}: {100 * step // steps}%")
    return len(name)


async def _work(what: str, seconds: float) -> str:
    print(f"{what}...")
    await asyncio.sleep(seconds)
    print(f"{what}: done")
    return what


async def _upload(seconds: float) -> None:
    print("connecting to the mirror...")
    await asyncio.sleep(seconds)
    raise ConnectionError("mirror unreachable")


async def _heartbeat(period: float) -> None:
    beats = 0
    while True:
        await asyncio.sleep(period)
        beats += 1
        print(f"beat {beats}")


def demo_scheduler(scale: float = 1.0) -> Scheduler:
    """A fresh demo graph; durations multiplied by ``scale``."""

    def t(seconds: float) -> float:
        return seconds * scale

    hello = PrintJob("nbjobs demo: starting", label="announce")
    alpha = Job(_download, "alpha", t(1.2), label="download alpha")
    beta = Job(_download, "beta", t(0.8), label="download beta")
    gamma = Job(_download, "gamma", t(1.0), label="download gamma")
    # Ready as soon as `announce` is done, but the window is full: it waits for a slot.
    index = Job(_work, "indexing", t(0.5), label="index")
    for job in (alpha, beta, gamma, index):
        job.requires(hello)
    parse = Job(_work, "parsing", t(0.6), label="parse")
    parse.requires(alpha, beta)
    upload = Job(_upload, t(0.9), label="upload to mirror", critical=False)
    upload.requires(gamma)
    heartbeat = Job(_heartbeat, t(0.3), label="heartbeat", forever=True)
    build = Scheduler(
        Sequence(
            Job(_work, "compiling", t(0.7), label="compile"),
            Job(_work, "linking", t(0.3), label="link"),
            Job(_work, "testing", t(0.5), label="test"),
        ),
        label="build",
    )
    build.requires(parse)
    report = Job(_work, "reporting", t(0.3), label="report")
    report.requires(build, index)
    return Scheduler(
        hello,
        alpha,
        beta,
        gamma,
        index,
        parse,
        upload,
        heartbeat,
        build,
        report,
        jobs_window=4,
        label="demo",
    )
