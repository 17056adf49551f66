"""Helpers for the widget's tests: where the bundle is, and building it when missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "js"
BUNDLE = ROOT / "nbjobs" / "static" / "widget.js"
#: the view, which the page gets once (nbjobs/_widget/runtime.py); BUNDLE is its loader
RUNTIME = ROOT / "nbjobs" / "static" / "runtime.js"


def need(condition: bool, reason: str) -> None:
    """Skip when ``condition`` is false, saying why; under CI, fail instead.

    CI installs everything these tests need, so a missing piece there is a broken setup,
    not a reason to pass quietly.
    """
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {reason}", pytrace=False)
    print(f"skipped: {reason}")
    pytest.skip(reason)


def _npm(*args: str) -> None:
    result = subprocess.run(["npm", *args], cwd=JS, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"npm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def ensure_bundle() -> Path:
    """The built bundle; built with npm from js/ when it (or the view it loads) is missing."""
    if BUNDLE.is_file() and RUNTIME.is_file():
        return BUNDLE
    need(shutil.which("npm") is not None, "nbjobs/static/widget.js is missing and npm is not")
    if not (JS / "node_modules").is_dir():
        _npm("ci")
    _npm("run", "build")
    assert BUNDLE.is_file(), "npm run build did not produce nbjobs/static/widget.js"
    assert RUNTIME.is_file(), "npm run build did not produce nbjobs/static/runtime.js"
    return BUNDLE
