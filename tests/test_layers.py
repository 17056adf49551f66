"""The rooms of the package import one way (CONTRIBUTING, "Layers"), and no module cycles.

Every module is parsed, not imported: imports anywhere count, at module level and inside
functions; imports under ``if TYPE_CHECKING:`` do not (they never run).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import nbjobs

PACKAGE = Path(nbjobs.__file__).parent

#: the rooms, lowest first: a module may import its own room and the rooms before it
ROOMS = ("_core", "_views", "_engine", "_widget", "_jupyter", "_cli")
#: modules outside the rooms: the public face (may import anything), and leaves
TOP = len(ROOMS)
LEAVES = {"nbjobs._version": 0}  # the version string: imports nothing


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def rank(module: str) -> int:
    if module in LEAVES:
        return LEAVES[module]
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in ROOMS:
        return ROOMS.index(parts[1])
    return TOP


def room_name(module: str) -> str:
    r = rank(module)
    return ROOMS[r] if r < TOP else "the public face"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import node, skipping the bodies of ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported(
    module: str, is_package: bool, tree: ast.AST, known: set[str]
) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for each import in ``tree``, resolved to absolute names."""
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
            continue
        if node.level:
            base = module.split(".")
            if not is_package:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            source = ".".join([*base, node.module] if node.module else base)
        else:
            source = node.module or ""
        for alias in node.names:
            # ``from package import module`` imports the module; else the name's module
            candidate = f"{source}.{alias.name}"
            yield node.lineno, candidate if candidate in known else source


def package_imports(root: Path) -> dict[str, list[tuple[int, str]]]:
    """Each module of the package -> its imports ``(line, module)``."""
    files = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    known = set(files)
    result = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_package = path.name == "__init__.py"
        result[module] = list(imported(module, is_package, tree, known))
    return result


def against_direction(imports: dict[str, list[tuple[int, str]]]) -> list[str]:
    package = next(iter(imports)).split(".")[0]
    problems = []
    for module, found in imports.items():
        for line, target in found:
            top = target.split(".")[0]
            if top == package:
                if rank(target) > rank(module):
                    problems.append(
                        f"{module} (line {line}) imports {target}: {room_name(module)} "
                        f"may not import {room_name(target)}"
                    )
            elif rank(module) == 0 and top not in sys.stdlib_module_names:
                problems.append(f"{module} (line {line}) imports {target}: not the stdlib")
    return problems


def cycles(imports: dict[str, list[tuple[int, str]]]) -> list[list[str]]:
    """One cycle (a list of modules, first == last) per strongly connected component."""
    graph = {
        m: sorted({t for _, t in found if t in imports and t != m}) for m, found in imports.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan's algorithm; the package is small
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in graph:
        if v not in index:
            connect(v)
    found = []
    for component in components:
        members = set(component)
        start = min(component)
        # a shortest way back to the start, within the component
        paths = {start: [start]}
        queue = [start]
        while queue:
            v = queue.pop(0)
            for w in graph[v]:
                if w == start:
                    found.append([*paths[v], start])
                    queue = []
                    break
                if w in members and w not in paths:
                    paths[w] = [*paths[v], w]
                    queue.append(w)
    return found


def test_every_module_is_in_a_room_or_the_face() -> None:
    for module in package_imports(PACKAGE):
        parts = module.split(".")
        assert len(parts) <= 3, module
        assert len(parts) < 3 or parts[1] in ROOMS, f"{module} is in no room"
        assert (
            len(parts) != 2
            or not parts[1].startswith("_")
            or module in LEAVES
            or (parts[1] in ROOMS or parts[1] == "__main__")
        ), f"{module}: a private module outside the rooms"


def test_imports_go_one_way() -> None:
    problems = against_direction(package_imports(PACKAGE))
    assert not problems, "imports against the direction of the rooms:\n" + "\n".join(problems)


def test_no_import_cycles() -> None:
    found = cycles(package_imports(PACKAGE))
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checks_see_violations(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "__init__.py": "from ._engine.scheduler import S\n",
            "_core/__init__.py": "",
            "_core/job.py": "import json\n\ndef f():\n    from .sequence import x\n",
            "_core/sequence.py": "from typing import TYPE_CHECKING\nfrom . import job\n"
            "if TYPE_CHECKING:\n    from .._engine import scheduler\n",
            "_core/bad.py": "import numpy\n",
            "_views/__init__.py": "",
            "_views/text.py": "def g():\n    from .._jupyter.display import h\n",
            "_engine/__init__.py": "",
            "_engine/scheduler.py": "from .._views import text\n",
            "_jupyter/__init__.py": "",
            "_jupyter/display.py": "from pkg._engine.scheduler import S\n",
        },
    )
    imports = package_imports(root)
    assert against_direction(imports) == [
        "pkg._core.bad (line 1) imports numpy: not the stdlib",
        "pkg._views.text (line 2) imports pkg._jupyter.display: _views may not import _jupyter",
    ]
    assert sorted(cycles(imports)) == [
        ["pkg._core.job", "pkg._core.sequence", "pkg._core.job"],
        [
            "pkg._engine.scheduler",
            "pkg._views.text",
            "pkg._jupyter.display",
            "pkg._engine.scheduler",
        ],
    ]
