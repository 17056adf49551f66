"""The widget's code reaches a page once: each DagWidget's module is a small loader, and one
kernel-wide runtime model carries the view's bundle, as a binary buffer, for all of them."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from ipywidgets.widgets.widget import _instances

from nbjobs import Job, Scheduler
from nbjobs._widget import runtime as widget_runtime_module
from nbjobs._widget.runtime import RUNTIME_BUNDLE, WidgetRuntime, widget_runtime
from nbjobs._widget.widget import DagWidget
from tests.test_widget import RecordingComm, _bundle, comms, demo, rec, request

__all__ = ("_bundle", "comms")  # fixtures used by name

KIB = 1024


class BufferComm(RecordingComm):
    """A recording comm that also keeps the binary buffers of each message."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.buffers: list[tuple[str, list[int]]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: Any = None,
        metadata: Any = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        self.buffers.append((msg_type, [len(memoryview(b).cast("B")) for b in buffers or ()]))
        super().publish_msg(msg_type, data, metadata, buffers, **keys)


@pytest.fixture
def buffer_comms(comms: list[RecordingComm], monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    import comm

    def create(*args: Any, **kwargs: Any) -> BufferComm:
        c = BufferComm(*args, **kwargs)
        comms.append(c)
        return c

    monkeypatch.setattr(comm, "create_comm", create)
    return comms


def opened(c: RecordingComm) -> dict[str, Any]:
    [state] = [data["state"] for _, kind, data in c.sent if kind == "comm_open"]
    return state  # type: ignore[no-any-return]


def size(c: BufferComm) -> int:
    """What the comm sent, in bytes: its messages' JSON and their binary buffers."""
    import json

    text = sum(len(json.dumps(data).encode()) for _, _, data in c.sent)
    return text + sum(sum(sizes) for _, sizes in c.buffers)


def test_a_widget_module_is_a_small_loader(comms: list[RecordingComm]) -> None:
    s, _ = demo()
    w = DagWidget(s)
    esm = opened(rec(w))["_esm"]
    assert len(esm.encode()) < 16 * KIB
    # the view's code is not in it: the loader gets it from the runtime model
    assert "nbjobs-dag" not in esm
    assert b"nbjobs-dag" in RUNTIME_BUNDLE.read_bytes()
    w.close()


def test_two_widgets_share_one_runtime_whose_bundle_is_sent_once(
    buffer_comms: list[BufferComm],
) -> None:
    first = DagWidget(demo()[0])
    second = DagWidget(demo()[0])
    runtime = widget_runtime()
    assert _instances[runtime.model_id] is runtime
    assert first._runtime is second._runtime is runtime
    reference = f"IPY_MODEL_{runtime.model_id}"
    assert opened(rec(first))["_runtime"] == opened(rec(second))["_runtime"] == reference

    bundle = RUNTIME_BUNDLE.read_text(encoding="utf-8")
    # the bundle went out once, when the runtime's comm opened; no other message holds it
    [runtime_comm] = [c for c in buffer_comms if c.comm_id == runtime.model_id]
    assert opened(runtime_comm)["bundle"] == bundle
    assert [m for m in runtime_comm.sent if m[1] != "comm_open"] == []
    assert all(size(c) < 64 * KIB for c in buffer_comms if c is not runtime_comm)
    # as text: a saved notebook keeps binary buffers in base64, a third bigger
    assert [sizes for c in buffer_comms for _, sizes in c.buffers if sizes] == []
    # what a second widget costs the page
    assert size(buffer_comms[-1]) < 64 * KIB
    assert buffer_comms[-1] is rec(second)
    first.close()
    second.close()


def test_a_closed_runtime_is_made_again_and_named_to_a_page_that_asks(
    comms: list[RecordingComm],
) -> None:
    w = DagWidget(demo()[0])
    old = widget_runtime()
    closed = old.model_id
    old.close()
    # the widget still serializes, naming the closed runtime: a page restoring it asks the
    # kernel for every open widget's state at once, and one failure would fail them all
    assert w.get_state()["_runtime"] == f"IPY_MODEL_{closed}"
    # and it is gone from the widgets a reconnecting page gets (whatever the id it kept)
    assert old not in _instances.values()
    request(w, {"type": "runtime"})
    new = widget_runtime()
    assert new is not old and new.comm is not None
    assert rec(w).custom("runtime") == [{"type": "runtime", "runtime": f"IPY_MODEL_{new.model_id}"}]
    # the widget's trait names the live runtime too (a page restored later finds it)
    assert w._runtime is new
    assert rec(w).updates()[-1] == {"_runtime": f"IPY_MODEL_{new.model_id}"}
    third = DagWidget(demo()[0])
    assert third._runtime is new
    w.close()
    third.close()


def test_the_runtime_outlives_widgets_and_keeps_no_run_alive(
    arun: Callable[..., Any], comms: list[RecordingComm]
) -> None:
    s = Scheduler(label="freed", view=False)
    Job(lambda: None, label="a", scheduler=s)
    w = DagWidget(s)
    runtime = widget_runtime()

    arun(s.co_run)
    w.close()
    gone = weakref.ref(s)
    del s, w
    gc.collect()
    assert gone() is None
    assert widget_runtime() is runtime and runtime.comm is not None
    assert isinstance(runtime, WidgetRuntime)
    assert widget_runtime_module._runtime is runtime
