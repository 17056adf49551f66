"""JupyterLab in a temporary home, driven by Debian's Chromium through Playwright.

Everything lives in a temporary folder (HOME, Jupyter's config/data/runtime folders,
IPython's), the server listens on a free port of 127.0.0.1 with a random token, and both
the server and the browser are always shut down, whatever the tests did.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("nbjobs.tests.browser")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    runtime: Path
    log: Path

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"

    def notebook7_url(self, name: str) -> str:
        """The same notebook in Notebook 7's interface (the same server serves both)."""
        return f"{self.url}/notebooks/{name}?token={self.token}"

    def write_notebook(self, name: str, cells: list[str]) -> None:
        nb = {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "id": f"cell{i}",
                    "metadata": {},
                    "outputs": [],
                    "source": source,
                }
                for i, source in enumerate(cells)
            ],
            "metadata": {
                "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        (self.root / name).write_text(json.dumps(nb), encoding="utf-8")

    def connection_files(self) -> list[Path]:
        return sorted(self.runtime.glob("kernel-*.json"), key=lambda p: p.stat().st_mtime)


@contextmanager
def jupyter_lab(tmp: Path, timeout: float = 90.0) -> Iterator[Lab]:
    home = tmp / "home"
    root = tmp / "notebooks"
    runtime = tmp / "runtime"
    for folder in (home, root, runtime):
        folder.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    port = free_port()
    env = {
        **os.environ,
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(tmp / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "IPYTHONDIR": str(tmp / "ipython"),
        # the kernel imports nbjobs from this checkout
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    log = tmp / "jupyter.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited early:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"jupyter lab did not answer in {timeout:g}s:\n{log.read_text()[-3000:]}"
                    ) from None
                time.sleep(0.2)
        # a crash of the test session (INTERNALERROR) skips fixture teardowns, not atexit
        atexit.register(stop_process_group, proc)
        yield Lab(url=url, token=token, root=root, runtime=runtime, log=log)
    finally:
        shutdown_kernels(url, token)
        stop_process_group(proc)
        atexit.unregister(stop_process_group)


def shutdown_kernels(url: str, token: str) -> None:
    """Ask the server to stop its kernels: each runs in a session of its own, so a
    signal to the server's process group does not reach them."""
    try:
        with urllib.request.urlopen(f"{url}/api/kernels?token={token}", timeout=5) as r:
            kernels = json.load(r)
        for kernel in kernels:
            request = urllib.request.Request(
                f"{url}/api/kernels/{kernel['id']}?token={token}", method="DELETE"
            )
            with urllib.request.urlopen(request, timeout=10):
                pass
    except (urllib.error.URLError, OSError, ValueError) as exc:
        logger.warning("could not stop the kernels through the server: %s", exc)


def stop_process_group(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM the server and its kernels (one session), then SIGKILL what is left."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            logger.warning("jupyter lab did not stop on SIGTERM; killing it")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # kernels the server left behind
    proc.wait(5)
