"""Read the JUnit XML of the suite run where apt installed nothing (.ci/run): fail unless
the in-process renderer's tests (``[wasm]``) and the notebooks' cells ran, and no test at
all was skipped (the browser tests may skip only where no Chromium is installed, and CI
installs it).

    python .ci/check-without-dot.py ci-artifacts/without-dot.xml
"""

from __future__ import annotations

import sys
from xml.etree import ElementTree


def main(path: str) -> int:
    cases = list(ElementTree.parse(path).iter("testcase"))
    watched = [
        case
        for case in cases
        if case.get("name", "").endswith("[wasm]")
        or (case.get("classname") or "").endswith(".ipynb")
    ]
    skipped = [
        f"{case.get('classname')}::{case.get('name')}"
        for case in cases
        if case.find("skipped") is not None
    ]
    wasm = sum(1 for case in watched if case.get("name", "").endswith("[wasm]"))
    cells = len(watched) - wasm
    print(f"without dot: {wasm} in-process renderer tests, {cells} notebook cells")
    if not wasm or not cells:
        print("without dot: expected both, found none of one", file=sys.stderr)
        return 1
    if skipped:
        print("without dot: skipped, and must not be:", *skipped, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
