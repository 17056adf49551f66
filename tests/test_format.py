"""What every view formats alike: durations, bounded reprs, tracebacks without nbjobs'
frames, and one palette of states (Python's, and the widget's stylesheet)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from nbjobs import Job, Scheduler, Status
from nbjobs._core.text import bounded_repr, format_traceback, is_nbjobs_frame
from nbjobs._views.format import PALETTE, format_duration
from tests.conftest import run_checked

STYLE_CSS = Path(__file__).parent.parent / "js" / "src" / "style.css"


#: what the widget's page writes too (js/tests/format.test.ts reads the same cases)
DURATIONS = Path(__file__).parent.parent / "js" / "tests" / "durations.json"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [*json.loads(DURATIONS.read_text(encoding="utf-8")), (float("nan"), "")],
)
def test_one_duration_format_in_the_kernel_and_the_page(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_bounded_repr_survives_huge_and_broken_values() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    text = bounded_repr("x" * 10_000)
    assert text.startswith("'xxx")
    assert "..." in text
    assert len(text) <= 400
    assert len(bounded_repr(list(range(10**5)), limit=50)) == 50
    assert bounded_repr(Broken()).startswith("<Broken instance at 0x")


def test_a_jobs_repr_bounds_its_result() -> None:
    async def big() -> str:
        return "y" * 1_000

    job = Job(big, label="big")
    run_checked(Scheduler(job).co_run)
    assert len(repr(job)) < 200
    assert "…" in repr(job)


def test_tracebacks_start_in_the_jobs_own_code() -> None:
    async def broken() -> None:
        raise ValueError("boom")

    job = Job(broken, label="broken", critical=False)
    run_checked(Scheduler(job).co_run)
    exc = job.raised_exception()
    assert exc is not None
    tb = exc.__traceback__
    assert tb is not None and not is_nbjobs_frame(tb)
    text = format_traceback(exc)
    assert text == job.traceback_text
    assert 'raise ValueError("boom")' in text
    assert "nbjobs" not in text.split("\n", 2)[1]


def test_the_widget_stylesheet_uses_the_palette() -> None:
    """The page's colours are its stylesheet's CSS variables: they must be the palette
    that DOT, the static SVG and the table use."""
    css = STYLE_CSS.read_text(encoding="utf-8")
    for status, colours in PALETTE.items():
        for var, value in ((status.value, colours.fill), (f"{status.value}-ink", colours.ink)):
            found = re.search(rf"--nbjobs-{var}:\s*([^;]+);", css)
            assert found is not None, f"--nbjobs-{var} is not defined in {STYLE_CSS.name}"
            assert found.group(1).strip().lower() == value.lower(), (status, var)


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("status", list(Status))
def test_each_states_ink_reads_on_its_fill(status: Status) -> None:
    # WCAG's contrast ratio, at least 4.5 for text: the text sits on its own fill, so
    # the page's theme (light or dark) does not change it
    fill, ink = (_luminance(c) for c in PALETTE[status])
    ratio = (max(fill, ink) + 0.05) / (min(fill, ink) + 0.05)
    assert ratio >= 4.5, (status, ratio)
