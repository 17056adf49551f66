"""DAG descriptions shared by every runner: plain index lists, no library objects.

A description is built once per process, before anything is measured, so that each runner
converts the very same graph into its own objects.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

SHAPES = ("independent", "chain", "fan-out", "layered")

# The layered shape of the issue: layers of 100 jobs, each job requiring 3 random jobs of
# the layer before. The seed is fixed so every process of every runner gets the same edges.
LAYER_SIZE = 100
LAYER_FANIN = 3
LAYERED_SEED = 20240521


@dataclass(frozen=True, slots=True)
class Dag:
    """``required[i]`` lists the indices of the jobs that job ``i`` requires.

    Requirements always point to smaller indices, so index order is a topological order;
    runners must not rely on that (the libraries do not know it), only the checks do.
    """

    shape: str
    required: Sequence[Sequence[int]]

    @property
    def n(self) -> int:
        return len(self.required)

    @property
    def edges(self) -> int:
        return sum(len(r) for r in self.required)


def independent(n: int) -> Dag:
    return Dag("independent", [()] * n)


def chain(n: int) -> Dag:
    return Dag("chain", [()] + [(i - 1,) for i in range(1, n)])


def fan_out(n: int) -> Dag:
    return Dag("fan-out", [()] + [(0,)] * (n - 1))


def layered(
    n: int, layer_size: int = LAYER_SIZE, fanin: int = LAYER_FANIN, seed: int = LAYERED_SEED
) -> Dag:
    rng = random.Random(seed)
    required: list[tuple[int, ...]] = []
    for i in range(n):
        layer_start = i - i % layer_size
        if layer_start == 0:
            required.append(())
            continue
        previous = range(layer_start - layer_size, layer_start)
        # sorted: the order in which requirements are declared must not differ between runs
        required.append(tuple(sorted(rng.sample(previous, min(fanin, layer_size)))))
    return Dag("layered", required)


BUILDERS: dict[str, Callable[[int], Dag]] = {
    "independent": independent,
    "chain": chain,
    "fan-out": fan_out,
    "layered": layered,
}


def make(shape: str, n: int) -> Dag:
    try:
        return BUILDERS[shape](n)
    except KeyError:
        raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}") from None
