"""Execute the tutorial notebooks in place, so that their saved outputs are real ones.

    python notebooks/_build.py                 # every notebook in this directory
    python notebooks/_build.py 03-time.ipynb   # some of them

Each notebook runs top to bottom in a fresh kernel (on this interpreter, with this checkout
first on its path), then is cleaned for reading on GitHub:

- widget state and widget views are dropped: they would carry the widget's whole front-end
  into every notebook, and GitHub cannot show them anyway. Each live view keeps the status
  table it also carries as text/html and text/plain: that is what GitHub shows;
- what depends on the machine is normalized: a cell's temporary file becomes
  ``notebook cell``, other files keep their last two components (``.../asyncio/tasks.py``),
  memory addresses (in the plain-text repr of a graph, say) become ``0x...``. Graphs are
  drawn by Graphviz in process (``NBJOBS_GRAPHVIZ=wasm``, unless set otherwise), not by
  the machine's ``dot``, whose version and fonts vary: a rebuild on another machine saves
  the same pictures.

It then reports outputs that could not be reproduced elsewhere (clock times, absolute
paths): change the notebook so that it does not show them.

``python -m pytest notebooks`` checks the saved outputs (nbval, see ``conftest.py``).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete
from nbclient.util import ensure_async
from nbval.kernel import CURRENT_ENV_KERNEL_NAME, NbvalKernelspecManager

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

_NAME = r"[^/\s\"'&<>:]+"
CELL_FILE = re.compile(rf"(?:/{_NAME})*/ipykernel_\d+/\d+\.py")
OTHER_FILE = re.compile(rf"(?:/{_NAME})+/({_NAME}/{_NAME}\.py)\b")
#: in the plain-text repr of an object shown richly (a graphviz graph, say)
ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")

UNREPRODUCIBLE = {
    "a clock time": re.compile(r"\b\d\d:\d\d:\d\d\b"),
    "an absolute path": re.compile(r"(?<![\w.<>/])/[\w.-]+/[\w.-]+"),
}


def normalize(text: str) -> str:
    text = CELL_FILE.sub("notebook cell", text)
    text = OTHER_FILE.sub(r".../\1", text)
    return ADDRESS.sub("0x...", text)


def _clean_text(value: Any) -> Any:
    if isinstance(value, str):
        return normalize(value)
    if isinstance(value, list):
        return [_clean_text(item) for item in value]
    return value


def clean(nb: Any) -> None:
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        outputs = []
        for out in cell.outputs:
            if "data" in out:
                out.data.pop(WIDGET_VIEW, None)
                if not out.data:
                    continue
                for mime in list(out.data):
                    if mime.startswith("text/"):
                        out.data[mime] = _clean_text(out.data[mime])
                out.pop("transient", None)
            if out.output_type == "stream":
                out.text = _clean_text(out.text)
            if out.output_type == "error":
                out.traceback = _clean_text(out.traceback)
            outputs.append(out)
        cell.outputs = outputs


def problems(nb: Any) -> list[str]:
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.outputs:
            texts = [out.get("text", "")]
            texts += [v for k, v in out.get("data", {}).items() if k.startswith("text/")]
            texts += out.get("traceback", [])
            for text in texts:
                text = "".join(text) if isinstance(text, list) else text
                for what, pattern in UNREPRODUCIBLE.items():
                    match = pattern.search(text)
                    if match:
                        context = text[max(0, match.start() - 40) :][:100]
                        found.append(f"cell {index}: {what}: {context!r}")
    return found


class Client(NotebookClient):
    """Applies a display update whichever cell it comes from, as JupyterLab does.

    A background run shows its live view in the cell that started it, and updates it while
    later cells run; nbclient only looks at the messages of the cell it runs.
    """

    async def _async_poll_output_msg(self, parent_msg_id: str, cell: Any, cell_index: int) -> None:
        while True:
            msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=None))
            if msg["parent_header"].get("msg_id") == parent_msg_id:
                try:
                    self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    return
            elif msg["msg_type"] == "update_display_data":
                display_id = msg["content"].get("transient", {}).get("display_id")
                if display_id:
                    self._update_display_id(display_id, msg)


def build(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    env_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    os.environ["PYTHONPATH"] = env_path
    os.environ.setdefault("NBJOBS_GRAPHVIZ", "wasm")
    # the kernel runs on this interpreter, as under pytest (nbval's "parent env" kernel)
    km = KernelManager(
        kernel_name=CURRENT_ENV_KERNEL_NAME, kernel_spec_manager=NbvalKernelspecManager()
    )
    client = Client(
        nb,
        km=km,
        timeout=120,
        record_timing=False,
        resources={"metadata": {"path": str(HERE)}},
    )
    client.execute()
    clean(nb)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return problems(nb)


def main(argv: list[str]) -> int:
    paths = [HERE / name for name in argv] if argv else sorted(HERE.glob("[0-9]*.ipynb"))
    status = 0
    for path in paths:
        print(f"executing {path.name}", flush=True)
        for problem in build(path):
            print(f"  {path.name}: {problem}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
