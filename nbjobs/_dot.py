"""DOT output: structure (nested schedulers as clusters, critical thick red border, forever
dashed, data edges bold blue) and each job's status as its fill colour.

Each leaf job is the node ``j<job.id>`` and each nested scheduler the cluster
``cluster_j<id>``: views find nodes by these stable names. Built with the ``graphviz``
package, which quotes and escapes; labels are escaped so that they render literally.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

import graphviz

from ._exceptions import DotNotFoundError
from ._job import AbstractJob, Status

if TYPE_CHECKING:
    from ._scheduler import PureScheduler

#: Fill colours per status, shared with the static fallback views.
STATUS_COLORS: dict[Status, str] = {
    Status.IDLE: "#eeeeee",
    Status.WAITING: "#fff3b0",
    Status.RUNNING: "#90caf9",
    Status.SUCCEEDED: "#a5d6a7",
    Status.FAILED: "#ef9a9a",
    Status.CANCELLED: "#ffcc80",
    Status.SKIPPED: "#d7ccc8",
}


def node_name(job: AbstractJob) -> str:
    return f"j{job.id}"


def _is_scheduler(job: object) -> bool:
    from ._scheduler import PureScheduler

    return isinstance(job, PureScheduler)


def _style(job: AbstractJob, statuses: bool) -> dict[str, str]:
    attrs: dict[str, str] = {"id": node_name(job)}
    styles = []
    if statuses:
        styles.append("filled")
        attrs["fillcolor"] = STATUS_COLORS[job.status]
        attrs["class"] = f"nbjobs-{job.status.value}"
    if job.forever:
        styles.append("dashed")
    if job.critical:
        attrs["color"] = "red"
        attrs["penwidth"] = "2"
    else:
        attrs["penwidth"] = "0.5"
    styles.append("rounded")
    attrs["style"] = ",".join(styles)
    return attrs


def _anchor(sched: PureScheduler, entry: bool) -> AbstractJob:
    """A leaf job inside ``sched`` to attach cluster edges to (the middle entry or exit)."""
    candidates = list(sched.entry_jobs()) if entry else list(sched.exit_jobs())
    if not candidates and not entry:
        candidates = list(sched.exit_jobs(discard_forever=False))
    if not candidates:
        return sched  # type: ignore[return-value]  # an empty scheduler: its placeholder
    chosen = candidates[(len(candidates) - 1) // 2]
    if _is_scheduler(chosen):
        return _anchor(chosen, entry)  # type: ignore[arg-type]
    return chosen


def _fill(graph: graphviz.Digraph, sched: PureScheduler, statuses: bool) -> None:
    for job in sched.jobs:
        if _is_scheduler(job):
            nested: PureScheduler = job  # type: ignore[assignment]
            with graph.subgraph(name=f"cluster_{node_name(job)}") as sub:
                sub.attr(
                    label=graphviz.escape(job.graph_label_text()),
                    id=f"cluster_{node_name(job)}",
                    **{k: v for k, v in _style(job, statuses).items() if k not in ("id",)},
                )
                if len(nested.jobs) == 0:
                    sub.node(node_name(job), label="(empty)", shape="box", style="dashed")
                _fill(sub, nested, statuses)
        else:
            graph.node(
                node_name(job),
                label=graphviz.escape(job.graph_label_text()),
                **_style(job, statuses),
            )
    for job in sched.jobs:
        for req in job.required:
            if req not in sched.jobs:
                continue
            attrs: dict[str, Any] = {}
            src = req
            dst = job
            if _is_scheduler(req):
                src = _anchor(req, entry=False)  # type: ignore[arg-type]
                attrs["ltail"] = f"cluster_{node_name(req)}"
            if _is_scheduler(job):
                dst = _anchor(job, entry=True)  # type: ignore[arg-type]
                attrs["lhead"] = f"cluster_{node_name(job)}"
            if req in job.data_required:
                attrs.update(style="bold", color="#1565c0", penwidth="2")
                attrs["class"] = "nbjobs-data"
            graph.edge(node_name(src), node_name(dst), **attrs)


def digraph(sched: PureScheduler, statuses: bool = True) -> graphviz.Digraph:
    graph = graphviz.Digraph("nbjobs")
    graph.attr(compound="true", rankdir="TB")
    graph.attr("node", shape="box", fontname="Helvetica", fontsize="11")
    graph.attr("edge", arrowsize="0.7")
    _fill(graph, sched, statuses)
    return graph


def dot_source(sched: PureScheduler, statuses: bool = True) -> str:
    return str(digraph(sched, statuses).source)


def export_dot(sched: PureScheduler, filename: str | os.PathLike[str]) -> str:
    with open(filename, "w", encoding="utf-8") as out:
        out.write(dot_source(sched))
    return f"(Over)wrote {os.fspath(filename)}"


def dot_program() -> str:
    path = shutil.which("dot")
    if path is None:
        raise DotNotFoundError(
            "exporting SVG or PNG needs the 'dot' program of Graphviz, which is not on PATH; "
            "install it (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
            "conda: conda install graphviz), or use export_as_dotfile() / the widget instead"
        )
    return path


def export_graphic(sched: PureScheduler, filename: str | os.PathLike[str], suffix: str) -> str:
    """Write ``filename.suffix`` (and ``filename.dot`` beside it, as asynciojobs does)."""
    program = dot_program()
    base = os.fspath(filename)
    if base.endswith(f".{suffix}"):
        base = base[: -len(suffix) - 1]
    dotfile = f"{base}.dot"
    export_dot(sched, dotfile)
    out = f"{base}.{suffix}"
    subprocess.run([program, f"-T{suffix}", dotfile, "-o", out], check=True, capture_output=True)
    return out


def svg_text(sched: PureScheduler, timeout: float | None = None) -> str | None:
    """The graph as SVG text when ``dot`` is installed, else None (for static fallbacks:
    ``dot`` missing, failing, or slower than ``timeout`` seconds)."""
    if shutil.which("dot") is None:
        return None
    try:
        result = subprocess.run(
            ["dot", "-Tsvg"],
            input=dot_source(sched),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None
