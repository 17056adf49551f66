"""Profile one benchmark cell's run (not its construction) with cProfile.

    python -m benchmarks.profile_run nbjobs layered 10000 [--window 100] [--top 30]

cProfile's overhead is per Python call, so it exaggerates call-heavy code; compare
``tottime`` between runners profiled the same way (e.g. ``minimal`` against ``nbjobs``)
rather than reading absolute numbers. For a sampling view without that bias, run
``py-spy record -o out.svg -- python -m benchmarks.profile_run ... --no-profile``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import sys
import time
from collections.abc import Sequence
from pathlib import Path

# `python benchmarks/profile_run.py` puts benchmarks/ first on sys.path, not the root.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import dags
from benchmarks.runners import RUNNERS, sleep_body


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile_run", description=__doc__)
    p.add_argument("runner", choices=sorted(RUNNERS))
    p.add_argument("shape", choices=dags.SHAPES)
    p.add_argument("jobs", type=int)
    p.add_argument("--window", type=int, default=None)
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumulative...)")
    p.add_argument("--no-profile", action="store_true", help="just run, for an outside profiler")
    p.add_argument("--dump", type=Path, help="also write the raw pstats file here")
    args = p.parse_args(argv)

    runner = RUNNERS[args.runner]
    dag = dags.make(args.shape, args.jobs)
    with asyncio.Runner() as aio:
        warm = runner.prepare(dags.make(args.shape, 10), sleep_body, args.window)
        aio.run(_await(warm.run()))
        gc.collect()
        prepared = runner.prepare(dag, sleep_body, args.window)
        profiler = None if args.no_profile else cProfile.Profile()

        async def profiled() -> float:
            t0 = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            try:
                await prepared.run()
            finally:
                if profiler is not None:
                    profiler.disable()
            return time.perf_counter() - t0

        seconds = aio.run(profiled())
    print(
        f"{args.runner} {args.shape} {args.jobs} window={args.window}: "
        f"{seconds / args.jobs * 1e6:.1f} us/job{' under cProfile' if profiler else ''}"
    )
    if profiler is not None:
        stats = pstats.Stats(profiler)
        if args.dump:
            stats.dump_stats(args.dump)
        stats.strip_dirs().sort_stats(args.sort).print_stats(args.top)
    return 0


async def _await(awaitable: object) -> None:
    await awaitable  # type: ignore[misc]


if __name__ == "__main__":
    sys.exit(main())
