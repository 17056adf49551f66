"""The tutorial notebooks are tests: nbval runs each one in a fresh kernel, cell by cell,
and compares every output with the one saved in the notebook (sanitized by
``sanitize.cfg``: durations, tracebacks' frames, ids).

``python -m pytest`` collects them (``notebooks`` is in ``testpaths``); so does
``python -m pytest notebooks/03-time.ipynb``. No ``--nbval`` flag is needed: this file
collects them with two additions to nbval:

- the kernel runs on this interpreter, with this checkout first on its path, so the
  notebooks test this code and not an installed copy;
- a live view is one output updated in place (``update_display_data``), which nbval does
  not apply: here it is applied, so that what is compared is the final view, as saved.

Run ``python notebooks/_build.py`` after changing a notebook or nbjobs' output, to save
fresh outputs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbval.kernel import CURRENT_ENV_KERNEL_NAME, RunningKernel
from nbval.plugin import IPyNbFile

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SANITIZE = HERE / "sanitize.cfg"


def _ssh_missing() -> str | None:
    """Why the SSH tutorial cannot run here (it starts a local sshd), or None."""
    import importlib.util
    import shutil

    if importlib.util.find_spec("asyncssh") is None:
        return "asyncssh is not installed (pip install -e '.[ssh]')"
    candidates = [shutil.which("sshd"), "/usr/sbin/sshd", "/usr/local/sbin/sshd"]
    if not any(path and os.access(path, os.X_OK) for path in candidates):
        return "sshd is not installed (Debian: apt-get install openssh-server)"
    if not Path("/run/sshd").is_dir() and os.geteuid() != 0:
        return "sshd needs /run/sshd, which is missing, and only root makes it"
    return None


def _dask_missing() -> str | None:
    """Why the scale-out tutorial cannot run here, or None."""
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        return "Dask distributed is not installed (pip install -e '.[dask]')"
    return None


#: notebooks that need something the test extra does not install: why they cannot run, or None
MISSING = {"08-scale-out.ipynb": _dask_missing, "09-ssh.ipynb": _ssh_missing}


class TutorialNotebook(IPyNbFile):
    """nbval's notebook collector, with the kernel, sanitizers and live views of nbjobs."""

    #: the cell being run (set by pytest_runtest_setup below)
    current: Any = None
    #: display id -> the data last shown under that id
    _shown: dict[str, dict[str, Any]]

    def setup(self) -> None:
        missing = MISSING.get(self.path.name)
        reason = missing() if missing is not None else None
        if reason is not None:
            # CI installs what every notebook needs: there, a missing piece is an error
            if os.environ.get("CI"):
                pytest.fail(f"CI is set and {self.path.name} cannot run: {reason}", pytrace=False)
            pytest.skip(f"{self.path.name}: {reason}")
        self._shown = {}
        before = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), before]))
        try:
            self.kernel = RunningKernel(
                CURRENT_ENV_KERNEL_NAME,
                cwd=str(HERE),
                startup_timeout=self.config.option.nbval_kernel_startup_timeout,
            )
        finally:
            if before is None:
                del os.environ["PYTHONPATH"]
            else:
                os.environ["PYTHONPATH"] = before
        self.setup_sanitize_files()

    def get_sanitize_files(self) -> list[str]:
        return [str(SANITIZE)]

    def get_kernel_message(self, timeout: float | None = None, stream: str = "iopub") -> Any:
        while True:
            msg = super().get_kernel_message(timeout=timeout, stream=stream)
            content = msg["content"]
            display_id = (content.get("transient") or {}).get("display_id")
            if display_id is None:
                return msg
            if msg["msg_type"] == "display_data":
                self._shown[display_id] = content["data"]
                return msg
            if msg["msg_type"] == "update_display_data":
                self._update(display_id, content["data"])
                continue  # applied: nbval would only complain about it
            return msg

    def _update(self, display_id: str, data: dict[str, Any]) -> None:
        """Apply an update to the output of the current cell that shows ``display_id``."""
        before = self._shown.get(display_id)
        self._shown[display_id] = data
        outputs = getattr(self.current, "test_outputs", None) or []
        for out in outputs:
            if before is not None and out.get("data") == before:
                out["data"] = nbformat.from_dict(data)
                return


def pytest_runtest_setup(item: pytest.Item) -> None:
    if isinstance(item.parent, TutorialNotebook):
        item.parent.current = item


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    option = parent.config.option
    if file_path.suffix != ".ipynb" or file_path.parent != HERE:
        return None
    if not hasattr(option, "nbval_lax"):
        return None  # the nbval plugin was disabled (-p no:nbval)
    if option.nbval or option.nbval_lax:
        return None  # nbval collects it itself, as asked
    return TutorialNotebook.from_parent(parent, path=file_path)  # type: ignore[no-any-return]
