"""Packaging of the widget: wheels and sdists carry the bundled front-end.

The bundle (``nbjobs/static/widget.js``) is not committed; the hatch-jupyter-builder hook
makes it at build time. These tests build from a copy of the source tree, so the checkout
is left untouched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.browser.support import BUNDLE, ROOT, RUNTIME, ensure_bundle, need

pytestmark = pytest.mark.timeout(600)


def _source_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [Path(name) for name in out.split("\0") if name and (ROOT / name).is_file()]


def _copy_tree(dest: Path) -> Path:
    for rel in _source_files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    if not (dest / "README.md").exists():
        # the project's metadata names README.md; these tests are about the bundle
        (dest / "README.md").write_text("nbjobs\n", encoding="utf-8")
    return dest


def _build(src: Path, out: Path, *targets: str) -> list[Path]:
    cmd = [sys.executable, "-m", "hatchling", "build", "-d", str(out)]
    for target in targets:
        cmd += ["-t", target]
    result = subprocess.run(cmd, cwd=src, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"build failed:\n{result.stdout}\n{result.stderr}"
    return sorted(out.iterdir())


def test_wheel_and_sdist_carry_the_widget_bundle(tmp_path: Path) -> None:
    ensure_bundle()
    src = _copy_tree(tmp_path / "src")
    (src / "nbjobs" / "static").mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUNDLE, src / "nbjobs" / "static" / "widget.js")
    shutil.copy2(RUNTIME, src / "nbjobs" / "static" / "runtime.js")
    built = _build(src, tmp_path / "dist", "wheel", "sdist")

    wheel = next(p for p in built if p.suffix == ".whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "nbjobs/static/widget.js" in names
        assert zf.read("nbjobs/static/widget.js") == BUNDLE.read_bytes()
        # the view that the loader above gets from the kernel, once per page
        assert zf.read("nbjobs/static/runtime.js") == RUNTIME.read_bytes()
        assert "nbjobs/_widget/widget.py" in names
        # sources and dependencies of the front-end stay out of the wheel
        assert not [n for n in names if n.startswith("js/") or "node_modules" in n]

    sdist = next(p for p in built if p.name.endswith(".tar.gz"))
    with tarfile.open(sdist) as tf:
        names = [n.split("/", 1)[1] for n in tf.getnames() if "/" in n]
    for needed in (
        "nbjobs/static/widget.js",
        "nbjobs/static/runtime.js",
        "js/package.json",
        "js/package-lock.json",
        "js/build.mjs",
        "js/src/widget.ts",
    ):
        assert needed in names, f"{needed} missing from the sdist"
    assert not [n for n in names if "node_modules" in n]


def test_build_hook_bundles_the_front_end_when_missing(tmp_path: Path) -> None:
    """A build from sources without the bundle runs npm and produces it (needs Node)."""
    need(shutil.which("npm") is not None, "npm is not installed")
    need((ROOT / "js" / "node_modules").is_dir(), "js/node_modules is missing (npm ci)")
    src = _copy_tree(tmp_path / "src")
    assert not (src / "nbjobs" / "static" / "widget.js").exists()
    assert not (src / "nbjobs" / "static" / "runtime.js").exists()
    # a copy of the installed packages keeps the build off the network
    shutil.copytree(ROOT / "js" / "node_modules", src / "js" / "node_modules", symlinks=True)
    env_note = os.environ.get("HATCH_JUPYTER_BUILDER_SKIP_NPM")
    need(env_note != "1", "HATCH_JUPYTER_BUILDER_SKIP_NPM=1 is set")
    built = _build(src, tmp_path / "dist", "wheel")
    wheel = next(p for p in built if p.suffix == ".whl")
    with zipfile.ZipFile(wheel) as zf:
        loader = zf.read("nbjobs/static/widget.js")
        bundle = zf.read("nbjobs/static/runtime.js")
    # each widget's module is a small loader; the view it loads holds the widget, the
    # worker and Graphviz's WebAssembly
    assert len(loader) < 16 * 1024
    assert b"_runtime" in loader
    assert len(bundle) > 500_000
    assert b"nbjobs-dag" in bundle
