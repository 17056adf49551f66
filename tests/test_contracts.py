"""The rooms talk through declared contracts, not through each other's private fields.

- A job (``_core``) uses of the engine only what :class:`nbjobs._core.protocol.JobOwner`
  declares (the type checker checks that ``PureScheduler`` satisfies it).
- The views, the widget, the Jupyter glue and the command line read a scheduler through
  ``SchedulerView`` (no private field of the engine), and of a job only its public face plus
  the few fields that CONTRIBUTING lists ("What a view may read on a job"): they walk every
  job of a run on each refresh, where a property per read would cost.

Modules are parsed, not imported. A private name is one with a leading underscore that is
not a dunder nor one of IPython's ``_repr_*_`` names; reads through ``self`` and ``cls``
are a class's own business and not counted.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import nbjobs

PACKAGE = Path(nbjobs.__file__).parent
ROOT = PACKAGE.parent
UPPER = ("_views", "_widget", "_jupyter", "_cli")

#: the job fields (and the job set's) that views read directly: keep CONTRIBUTING in step
VIEW_FIELDS = {"_status", "_exception", "_output", "_owner", "_sched_id"}


def _private(name: str) -> bool:
    # not dunders, nor IPython's display protocol (``_repr_mimebundle_``, ``_ipython_display_``)
    return name.startswith("_") and not name.startswith("__") and not name.endswith("_")


def _modules(*rooms: str) -> list[Path]:
    return sorted(p for room in rooms for p in (PACKAGE / room).glob("*.py"))


def defined(room: str) -> set[str]:
    """Private names a room's classes define: methods, class attributes, ``self._x = ...``."""
    names: set[str] = set()
    for path in _modules(room):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                names.add(node.attr)
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        names.add(item.name)
                    elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        names.add(item.target.id)
                    elif isinstance(item, ast.Assign):
                        names.update(t.id for t in item.targets if isinstance(t, ast.Name))
    return {name for name in names if _private(name)}


def foreign_reads(paths: list[Path], names: set[str]) -> dict[str, set[str]]:
    """``{name: {"module:line", ...}}`` for each ``obj.name`` where obj is not self or cls."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in names
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                found[node.attr].add(f"{path.relative_to(ROOT)}:{node.lineno}")
    return dict(found)


def job_owner_members() -> set[str]:
    tree = ast.parse((PACKAGE / "_core" / "protocol.py").read_text())
    (owner,) = (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "JobOwner")
    members: set[str] = set()
    for item in owner.body:
        if isinstance(item, ast.FunctionDef):
            members.add(item.name)
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            members.add(item.target.id)
    return members


def test_the_scanner_sees_what_it_must() -> None:
    # the rules below are only as good as these sets: they must hold the known names
    assert {"_counts", "_subscribers", "_runner", "_cancel_job"} <= defined("_engine")
    assert {"_status", "_exception", "_output", "_owner_ref"} <= defined("_core")
    reads = foreign_reads(_modules("_views"), {"_status"})
    assert any("table.py" in where for where in reads["_status"])
    assert job_owner_members() == {
        "_counts",
        "_subscribers",
        "_runner",
        "_owner",
        "_structure_changed",
        "_cancel_job",
    }


def test_a_job_uses_only_what_job_owner_declares() -> None:
    engine_only = defined("_engine") - defined("_core")
    reads = foreign_reads(_modules("_core"), engine_only | {"_owner"})
    extra = {name: sorted(where) for name, where in reads.items()}
    assert set(extra) <= job_owner_members(), (
        f"_core reads engine fields that JobOwner does not declare: {extra}"
    )


def test_views_read_no_private_field_of_the_engine() -> None:
    engine_only = defined("_engine") - defined("_core")
    reads = foreign_reads(_modules(*UPPER), engine_only)
    assert not reads, f"views must go through SchedulerView: {reads}"


def test_views_read_only_the_listed_job_fields() -> None:
    reads = foreign_reads(_modules(*UPPER), defined("_core"))
    unlisted = {name: sorted(where) for name, where in reads.items() if name not in VIEW_FIELDS}
    assert not unlisted, (
        f"views read job fields that CONTRIBUTING does not list: {unlisted}; use the "
        "public face, or list the field there and in VIEW_FIELDS, saying why"
    )


def test_contributing_lists_the_view_fields_and_the_owner_contract() -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    for name in VIEW_FIELDS | job_owner_members():
        assert re.search(rf"`[^`]*\b{name}\b[^`]*`", text), name
    assert "JobOwner" in text
