"""The system programs that some tests use and pip does not install, and what the tests do
without them.

Where one is missing, the tests that need it are not collected, unless ``CI`` is set: CI
installs them all, so there they are always collected, and fail if the program is missing.
The line this module adds to pytest's report header says what was found and what was left
out.
"""

from __future__ import annotations

import os
import shutil

#: CI installs every system program the tests use: none may be missing there
CI = bool(os.environ.get("CI"))

#: Graphviz's ``dot``: the ``[dot]`` variants of the drawing tests draw with it (without it,
#: nbjobs draws SVG in process, which the ``[wasm]`` variants test everywhere)
DOT = shutil.which("dot")
COLLECT_DOT = DOT is not None or CI


def report() -> str:
    """One line for pytest's report header."""
    if DOT is not None:
        dot = f"Graphviz's dot: {DOT}"
    elif CI:
        dot = "Graphviz's dot: not installed, and CI is set: the dot variants will fail"
    else:
        dot = (
            "Graphviz's dot: not installed: the dot variants of the drawing tests are not "
            "collected; SVG is drawn in process"
        )
    from tests.browser.lab import CHROMIUM

    if CHROMIUM.exists():
        chromium = f"Chromium: {CHROMIUM}"
    else:
        chromium = f"Chromium: {CHROMIUM} is missing: the browser tests skip, saying so"
    return f"system tools: {dot}; {chromium}"
