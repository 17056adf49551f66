"""The seed notebook, with only its import cell changed, runs top to bottom in a fresh kernel
(nbclient, as ``jupyter nbconvert --execute`` does) with the results it shows.

Its own sleeps (1 to 2 s, about 4.5 s in all) are kept: the point is that it runs as is.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests.kernel_utils import ROOT

pytestmark = pytest.mark.kernel

#: the notebook nbjobs descends from (the first day of asynciojobs), as it was; stored as
#: .json so that linters leave its 2016 code alone
SEED = Path(__file__).parent / "data" / "seed_notebook.json"
OLD_IMPORT = "from job import Job\nfrom engine import Engine"
NEW_IMPORT = "from nbjobs import Job, Engine"


def _seed() -> Any:
    nb = nbformat.reads(SEED.read_text(), as_version=4)
    changed = [cell for cell in nb.cells if cell.source.strip() == OLD_IMPORT]
    assert len(changed) == 1, "the seed's import cell moved"
    changed[0].source = NEW_IMPORT
    return nb


def _text(cell: Any) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif out["output_type"] == "execute_result":
            parts.append(out["data"]["text/plain"] + "\n")
    return "".join(parts)


def test_seed_notebook_runs_top_to_bottom_with_its_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nb = _seed()
    # the kernel inherits the environment: make this checkout importable there
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    )
    client = NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    by_source = {cell.source: cell for cell in code}
    assert _text(by_source["e = Engine(a1, a2, a3)\ne.orchestrate()"]).endswith("True\n")
    assert _text(by_source["e2 = Engine(b1, b2, b3)\ne2.orchestrate()"]).endswith("True\n")
    assert _text(by_source["print(b1.is_done())"]) == "True\n"
    assert _text(by_source["print(b3.result())"]) == "1500.0\n"
    listing = _text(by_source["for job in e2.jobs:\n    print(job)"])
    assert "'first' succeeded -> 1000" in listing
    assert "'last' succeeded -> 1500.0" in listing
    # b3 (mycoro(1.5)) started once b1 (mycoro(1)) was done, as the seed's output shows
    run2 = _text(by_source["e2 = Engine(b1, b2, b3)\ne2.orchestrate()"])
    assert run2.index("<- ") < run2.index("mycoro(1.5)"), run2
    for cell in code:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", json.dumps(out)[:2000]
            if out["output_type"] == "stream" and out["name"] == "stderr":
                raise AssertionError(f"stderr in {cell.source!r}: {out['text']}")
