"""Graph algebra on requirements: pure, synchronous, no asyncio.

Nodes are any hashable objects; ``preds(node)`` gives the nodes it requires. Only nodes in
the given collection count: edges that leave it are ignored (callers check them first).
Every function is O(nodes + edges) and follows the nodes' insertion order, so results are
deterministic.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable
from typing import TypeVar

from .errors import CycleError

N = TypeVar("N")
Neighbours = Callable[[N], Iterable[N]]


def successors_map(nodes: Collection[N], preds: Neighbours[N]) -> dict[N, list[N]]:
    """The reverse of ``preds``; each list in the order of ``nodes`` (insertion order)."""
    succ: dict[N, list[N]] = {node: [] for node in nodes}
    for node in nodes:
        for req in preds(node):
            bucket = succ.get(req)
            if bucket is not None:
                bucket.append(node)
    return succ


def find_cycle(nodes: Collection[N], preds: Neighbours[N]) -> list[N] | None:
    """One cycle as ``[a, b, ..., a]`` (each requires the next), or None when acyclic."""
    members = set(nodes)
    # 0 = unseen, 1 = on the current path, 2 = finished
    state: dict[N, int] = {}
    for root in nodes:
        if state.get(root):
            continue
        path: list[N] = [root]
        iters = [iter(preds(root))]
        state[root] = 1
        while path:
            for nxt in iters[-1]:
                if nxt not in members:
                    continue
                seen = state.get(nxt, 0)
                if seen == 1:
                    start = path.index(nxt)
                    return [*path[start:], nxt]
                if seen == 0:
                    state[nxt] = 1
                    path.append(nxt)
                    iters.append(iter(preds(nxt)))
                    break
            else:
                state[path.pop()] = 2
                iters.pop()
    return None


def _cycle_error(nodes: Collection[N], preds: Neighbours[N]) -> CycleError:
    cycle = find_cycle(nodes, preds) or []
    shown = " -> ".join(repr(node) for node in cycle)
    return CycleError(
        f"the requirements form a cycle: {shown} (each requires the next); "
        "remove one of these requirements with job.requires(other, remove=True)",
        cycle,
    )


def topological_order(nodes: Collection[N], preds: Neighbours[N]) -> list[N]:
    """Kahn's order: a node comes after everything it requires; ties in insertion order.

    Raises CycleError (carrying one cycle) when there is none.
    """
    succ = successors_map(nodes, preds)
    indegree = {node: 0 for node in nodes}
    for node in nodes:
        for req in preds(node):
            if req in indegree:
                indegree[node] += 1
    ready = deque(node for node in nodes if indegree[node] == 0)
    order: list[N] = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for nxt in succ[node]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    if len(order) != len(indegree):
        raise _cycle_error(nodes, preds)
    return order


def check_acyclic(nodes: Collection[N], preds: Neighbours[N]) -> None:
    """Raise CycleError if ``nodes`` have a cycle."""
    topological_order(nodes, preds)


def closure(starts: Iterable[N], neighbours: Neighbours[N], members: Collection[N]) -> list[N]:
    """Every node reachable from ``starts`` in one or more steps, within ``members``.

    The starts themselves are included only when reachable from another start.
    """
    seen: dict[N, None] = {}
    todo = deque(starts)
    while todo:
        node = todo.popleft()
        for nxt in neighbours(node):
            if nxt in members and nxt not in seen:
                seen[nxt] = None
                todo.append(nxt)
    return list(seen)


def neighbours(starts: Iterable[N], step: Neighbours[N], members: Collection[N]) -> list[N]:
    """The nodes one step away from any of ``starts``, within ``members``, without repeats."""
    seen: dict[N, None] = {}
    for start in starts:
        for nxt in step(start):
            if nxt in members:
                seen.setdefault(nxt, None)
    return list(seen)
