"""Fixtures for the browser tests: one JupyterLab server and one Chromium per session."""

from __future__ import annotations

import ast
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from .lab import CHROMIUM, CHROMIUM_ARGS, Lab, jupyter_lab
from .support import ROOT, ensure_bundle, need

logger = logging.getLogger("nbjobs.tests.browser")

ARTIFACTS = ROOT / "ci-artifacts"


@pytest.fixture(scope="session")
def browser_ready() -> None:
    need(CHROMIUM.exists(), f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        need(False, "playwright for Python is not installed (pip install playwright)")
    ensure_bundle()


# Module scope, not session: Playwright's sync API keeps an event loop marked as running
# on this thread while it is open, which would break every later test that calls
# asyncio.run().
@pytest.fixture(scope="module")
def lab(browser_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with jupyter_lab(tmp_path_factory.mktemp("lab")) as server:
        yield server


@pytest.fixture(scope="module")
def browser(browser_ready: None) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class PageLog:
    """What a page did that a test may want to refuse: dialogs, errors, outside requests."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


def open_page(browser: Any, log: PageLog, init_script: str | None = None) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    if init_script is not None:
        context.add_init_script(init_script)
    page = context.new_page()

    def on_dialog(dialog: Any) -> None:
        log.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_console(msg: Any) -> None:
        if msg.type == "error":
            log.errors.append(f"console: {msg.text}")

    def route(r: Any) -> None:
        host = urlparse(r.request.url).hostname
        if r.request.url.startswith(("blob:", "data:")) or host == "127.0.0.1":
            r.continue_()
        else:
            # nothing may leave the machine: record the attempt and refuse it
            log.outside.append(r.request.url)
            r.abort()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: log.errors.append(f"pageerror: {exc}\n{exc.stack}"))
    page.on("console", on_console)
    page.route("**/*", route)
    return page


@pytest.fixture
def page(browser: Any, page_log: PageLog) -> Iterator[Any]:
    page = open_page(browser, page_log)
    try:
        yield page
    finally:
        page.context.close()


def kernel_ids(lab: Lab) -> list[str]:
    for attempt in range(10):
        try:
            with urllib.request.urlopen(
                f"{lab.url}/api/kernels?token={lab.token}", timeout=10
            ) as r:
                return [k["id"] for k in json.load(r)]
        except urllib.error.HTTPError as exc:
            # jupyter_server answers 500 when listed while a kernel starts (its
            # last_activity is not set yet): ask again
            if exc.code != 500 or attempt == 9:
                raise
            time.sleep(0.3)
    raise AssertionError("unreachable")


class KernelSide:
    """A second client of the notebook's kernel: runs code without touching the page."""

    def __init__(self, connection_file: Path) -> None:
        from jupyter_client import BlockingKernelClient

        self.client = BlockingKernelClient(connection_file=str(connection_file))
        self.client.load_connection_file()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=30)

    def run(self, code: str, timeout: float = 30) -> None:
        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=lambda m: None)
        assert reply["content"]["status"] == "ok", reply["content"]

    def value(self, expression: str, timeout: float = 30) -> Any:
        """The value of ``json.loads(expression)``: the expression makes a JSON string."""
        reply = self.client.execute_interactive(
            "", user_expressions={"v": expression}, timeout=timeout, output_hook=lambda m: None
        )
        result = reply["content"]["user_expressions"]["v"]
        assert result["status"] == "ok", result
        return json.loads(ast.literal_eval(result["data"]["text/plain"]))

    def close(self) -> None:
        self.client.stop_channels()
