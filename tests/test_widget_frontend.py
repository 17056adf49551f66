"""The front-end's own unit tests (js/tests, node's test runner), run as part of pytest."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.browser.support import JS, need

pytestmark = pytest.mark.timeout(300)


def test_front_end_unit_tests_pass() -> None:
    need(shutil.which("npm") is not None, "npm is not installed")
    need((JS / "node_modules").is_dir(), "js/node_modules is missing (run: npm --prefix js ci)")
    result = subprocess.run(
        ["npm", "test"], cwd=JS, capture_output=True, text=True, check=False, timeout=240
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-6000:]
    passed = re.search(r"^# pass (\d+)$", report, re.MULTILINE)
    failed = re.search(r"^# fail (\d+)$", report, re.MULTILINE)
    assert passed is not None, report[-3000:]
    assert failed is not None, report[-3000:]
    assert int(failed.group(1)) == 0
    assert int(passed.group(1)) >= 16
