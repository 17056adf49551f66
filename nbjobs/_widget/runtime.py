"""The widget's view code, sent to the page once for all the kernel's widgets.

A DagWidget's own module (its ``_esm``, ``static/widget.js``) is a small loader. The view it
loads (``static/runtime.js``: the widget's code, the layout worker and Graphviz's
WebAssembly) is the ``bundle`` trait of one kernel-wide :class:`WidgetRuntime`, a plain
ipywidgets model without a view, which each DagWidget names in its ``_runtime`` trait. The
bundle crosses the websocket once, when the runtime's comm opens; a notebook saved with its
widget state holds it once, and every widget's state refers to it. In the page, the first
widget imports the bundle and the others reuse that import (``js/src/loader.ts``).

The bundle is text, not ``bytes``: ipywidgets would send bytes as a binary buffer, no
smaller on the websocket than the JSON string (the bundle is UTF-8 with few characters to
escape), but a saved notebook stores buffers in base64, a third bigger.

The runtime holds the bundle and nothing else: no widget, no scheduler.
"""

from __future__ import annotations

import logging
from pathlib import Path

import ipywidgets
import traitlets

logger = logging.getLogger("nbjobs")

#: the view, which the loader imports once per page
RUNTIME_BUNDLE = Path(__file__).parent.parent / "static" / "runtime.js"


class WidgetRuntime(ipywidgets.Widget):  # type: ignore[misc]
    """The kernel's one holder of the widget's view code (see the module's docstring).

    Get it with :func:`widget_runtime`, which makes a new one when the last was closed.
    Closing it does not close the widgets that name it: views already shown keep working,
    and a page that cannot find it asks its widget's kernel for the live one.
    """

    # a plain WidgetModel of @jupyter-widgets/base: the page needs no code to hold it
    bundle = traitlets.Unicode("").tag(sync=True)

    _last_id: str | None = None

    @property
    def model_id(self) -> str | None:
        # A closed runtime keeps its id: the widgets that name it must still serialize.
        # ipywidgets' own model_id raises once the comm is gone, and a page that reconnects
        # asks the kernel for every open widget's state in one request, which would then
        # fail for all of them; with the id, the page's loader asks for the live runtime.
        if self.comm is not None:
            self._last_id = self.comm.comm_id
        return self._last_id


_runtime: WidgetRuntime | None = None


def widget_runtime() -> WidgetRuntime:
    """The kernel's runtime model, opened on first use and again after a ``close()``."""
    global _runtime
    if _runtime is None or _runtime.comm is None:
        _runtime = WidgetRuntime(bundle=RUNTIME_BUNDLE.read_text(encoding="utf-8"))
        logger.debug("nbjobs: widget runtime %s opened", _runtime.model_id)
    return _runtime
