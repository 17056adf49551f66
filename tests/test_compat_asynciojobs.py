"""asynciojobs 0.21.3's documented and tested behaviours, run on nbjobs.

Most tests are parametrized over both libraries: the same code, only the module differs,
so each assertion is checked against asynciojobs itself (the reference) and against nbjobs.
The scenarios come from asynciojobs' README and its test suite, with durations scaled down
to milliseconds. Timings are never asserted; orders and outcomes are.

The last section tests nbjobs' documented, deliberate differences on nbjobs alone.
"""

from __future__ import annotations

import asyncio
import gc
import re
import shutil
import types
import warnings
from typing import Any

import asynciojobs
import pytest

import nbjobs
from tests import system_tools

LIBS = [pytest.param(asynciojobs, id="asynciojobs"), pytest.param(nbjobs, id="nbjobs")]


def _tracking(module: Any) -> tuple[Any, list[Any]]:
    """The module's public names, with a ``Job`` that remembers every instance.

    asynciojobs leaves the coroutine objects of jobs that never started unawaited (its own
    tests call ``close_idle_jobs()`` for that); closing every Job at the end of each test
    does the same for both libraries, so that no "never awaited" warning fires later.
    """
    created: list[Any] = []

    class Job(module.Job):  # type: ignore[misc,name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            created.append(self)
            super().__init__(*args, **kwargs)

    names = {name: getattr(module, name) for name in dir(module) if not name.startswith("_")}
    namespace = types.SimpleNamespace(**names)
    namespace.Job = Job
    namespace.module = module
    return namespace, created


@pytest.fixture(params=LIBS)
def lib(request: pytest.FixtureRequest) -> Any:
    namespace, created = _tracking(request.param)
    yield namespace
    for job in created:
        job.close()


class BoomError(Exception):
    pass


async def in_out(timeout: float, log: list[str] | None = None, name: str = "") -> float:
    """asynciojobs' README coroutine: returns the number of milliseconds it slept."""
    if log is not None:
        log.append(f"-> {name}")
    await asyncio.sleep(timeout)
    if log is not None:
        log.append(f"<- {name}")
    return 1000 * timeout


async def boom(delay: float = 0.0, message: str = "boom") -> None:
    await asyncio.sleep(delay)
    raise BoomError(message)


async def forever_loop() -> None:
    await asyncio.Event().wait()


class Concurrency:
    """Counts how many of its coroutines run at once."""

    def __init__(self) -> None:
        self.now = 0
        self.max = 0

    async def work(self, delay: float) -> None:
        self.now += 1
        self.max = max(self.max, self.now)
        try:
            await asyncio.sleep(delay)
        finally:
            self.now -= 1


def states(job: Any) -> tuple[bool, bool, bool, bool]:
    """(is_idle, is_scheduled, is_running, is_done), booleans."""
    return (
        bool(job.is_idle()),
        bool(job.is_scheduled()),
        bool(job.is_running()),
        bool(job.is_done()),
    )


IDLE = (True, False, False, False)
SCHEDULED = (False, True, False, False)  # requirements met, waiting for a window slot
RUNNING = (False, True, True, False)
DONE = (False, True, True, True)


# ---------------------------------------------------------------------------------------
# README: examples A to F, windows, nesting, graphs
# ---------------------------------------------------------------------------------------
def test_readme_a_jobs_run_in_parallel(lib: Any) -> None:
    log: list[str] = []
    a1, a2, a3 = (
        lib.Job(in_out(0.01, log, "a1")),
        lib.Job(in_out(0.02, log, "a2")),
        lib.Job(in_out(0.025, log, "a3")),
    )
    sa = lib.Scheduler(a1, a2, a3)
    assert len(sa) == 3
    assert sa.stats() == "0D + 0R + 3I = 3"
    assert sa.run() is True
    # all three started before the first one ended
    assert sorted(log[:3]) == ["-> a1", "-> a2", "-> a3"]
    assert log[3:] == ["<- a1", "<- a2", "<- a3"]
    assert [a1.result(), a2.result(), a3.result()] == [10.0, 20.0, 25.0]
    assert sa.stats() == "3D + 0R + 0I = 3"


def test_readme_scheduler_first_then_jobs(lib: Any) -> None:
    sa2 = lib.Scheduler()
    a1 = lib.Job(in_out(0.001), scheduler=sa2)
    a2 = lib.Job(in_out(0.002), scheduler=sa2)
    a3 = lib.Job(in_out(0.003))
    assert sa2.add(a3) is a3
    assert len(sa2) == 3
    assert set(sa2.jobs) == {a1, a2, a3}
    assert sa2.run() is True
    assert a1.result() == 1.0


def test_readme_b_requirements(lib: Any) -> None:
    log: list[str] = []
    b1, b2, b3 = (
        lib.Job(in_out(0.01, log, "b1"), label="b1"),
        lib.Job(in_out(0.02, log, "b2"), label="b2"),
        lib.Job(in_out(0.025, log, "b3")),
    )
    assert b2.requires(b1) is b2
    sb = lib.Scheduler(b1, b2, b3)
    assert sb.run() is True
    assert log.index("-> b2") > log.index("<- b1")
    # b3 started at once, with b1
    assert log.index("-> b3") < log.index("<- b1")
    assert b1.is_done()
    assert not b3.raised_exception()
    assert (b1.result(), b2.result(), b3.result()) == (10.0, 20.0, 25.0)


def test_readme_b_prime_sequence(lib: Any) -> None:
    log: list[str] = []
    bp1 = lib.Job(in_out(0.01, log, "bp1"), label="bp1")
    bp2 = lib.Job(in_out(0.02, log, "bp2"), label="bp2")
    other = lib.Job(in_out(0.025, log, "other"))
    sb2 = lib.Scheduler(lib.Sequence(bp1, bp2), other)
    assert set(sb2.jobs) == {bp1, bp2, other}
    assert set(bp2.required) == {bp1}
    assert not bp1.required
    assert sb2.run() is True
    assert log.index("-> bp2") > log.index("<- bp1")


def test_readme_c_forever_job_is_cancelled_at_the_end(lib: Any) -> None:
    bus: asyncio.Queue[str] = asyncio.Queue()
    received: list[str] = []

    async def monitor_loop() -> None:
        while True:
            received.append(await bus.get())

    async def in_out_bus(timeout: float, name: str) -> float:
        await bus.put(f"-> {name}")
        await asyncio.sleep(timeout)
        await bus.put(f"<- {name}")
        return 10 * timeout

    c1, c2, c3, c4 = (
        lib.Job(in_out_bus(0.01, "c1"), label="c1"),
        lib.Job(in_out_bus(0.02, "c2"), label="c2"),
        lib.Job(in_out_bus(0.015, "c3"), label="c3"),
        lib.Job(monitor_loop(), forever=True, label="monitor"),
    )
    c3.requires(c1)
    sc = lib.Scheduler(c1, c2, c3, c4)
    assert sc.run() is True
    assert (c1.result(), c2.result(), c3.result()) == (0.1, 0.2, 0.15)
    assert {"-> c1", "-> c2", "<- c1", "-> c3", "<- c2"} <= set(received)
    # the forever job was started, then cancelled: not done, no result, no exception
    assert states(c4) == RUNNING
    assert not c4.raised_exception()
    with pytest.raises(ValueError):
        c4.result()
    # exit jobs leave forever jobs out unless asked
    assert set(sc.exit_jobs()) == {c2, c3}
    assert set(sc.exit_jobs(discard_forever=False)) == {c2, c3, c4}


def test_readme_d_global_timeout(lib: Any) -> None:
    j = lib.Job(forever_loop(), forever=True)
    sd = lib.Scheduler(j, timeout=0.03, critical=False)
    assert sd.run() is False
    assert sd.failed_time_out()
    assert not sd.failed_critical()
    assert sd.why().startswith("TIMED OUT")
    assert not j.is_done()


def test_readme_e_non_critical_failure_lets_the_run_go_on(lib: Any) -> None:
    e1 = lib.Job(in_out(0.005), label="begin")
    e2 = lib.Job(boom(0.005, "boom after 5ms"), label="boom", critical=False)
    e3 = lib.Job(in_out(0.006), label="end")
    se = lib.Scheduler(lib.Sequence(e1, e2, e3), critical=False)
    assert se.run() is True
    assert se.why() == "FINE"
    assert not se.failed_critical()
    # the job that requires the failed one still ran
    assert e3.is_done() and e3.result() == 6.0
    exc = e2.raised_exception()
    assert isinstance(exc, BoomError) and str(exc) == "boom after 5ms"
    assert e2.is_done()
    assert e2.result() is None


def test_readme_f_critical_failure_aborts(lib: Any) -> None:
    f1 = lib.Job(in_out(0.005), label="begin")
    f2 = lib.Job(boom(0.005), label="boom", critical=True)
    f3 = lib.Job(in_out(0.006), label="end")
    sf = lib.Scheduler(lib.Sequence(f1, f2, f3), critical=False)
    assert sf.run() is False
    assert sf.failed_critical()
    assert not sf.failed_time_out()
    assert sf.why().startswith("a CRITICAL job has raised an exception")
    assert states(f1) == DONE and f1.result() == 5.0
    assert states(f2) == DONE and isinstance(f2.raised_exception(), BoomError)
    # 'end' has not even started
    assert states(f3) == IDLE
    assert not f3.raised_exception()
    with pytest.raises(ValueError):
        f3.result()


def test_readme_jobs_window_limits_concurrency(lib: Any) -> None:
    meter = Concurrency()
    s = lib.Scheduler(jobs_window=4)
    for _ in range(8):
        s.add(lib.Job(meter.work(0.005)))
    assert s.run() is True
    assert meter.max == 4


@pytest.mark.parametrize(("window", "expected"), [(None, 15), (3, 3), (1, 1)])
def test_window_with_print_jobs(lib: Any, window: int | None, expected: int) -> None:
    # asynciojobs' test_window / test_no_window, measuring concurrency instead of time
    meter = Concurrency()

    class Metered(lib.PrintJob):  # type: ignore[name-defined,misc]
        async def co_run(self) -> None:
            await meter.work(0.002)
            await super().co_run()

    s = lib.PureScheduler(jobs_window=window)
    for i in range(1, 16):
        s.add(Metered(f"{i}-th job"))
    assert s.run() is True
    assert meter.max == expected


def test_readme_nested_schedulers(lib: Any, capsys: pytest.CaptureFixture[str]) -> None:
    log: list[str] = []

    async def aprint(message: str) -> None:
        log.append(message)
        await asyncio.sleep(0.001)

    sub_sched = lib.Scheduler(label="critical nested", critical=True)
    subj1 = lib.Job(aprint("subj1"), label="subj1", scheduler=sub_sched)
    subj2 = lib.Job(aprint("subj2"), label="subj2", required=subj1, scheduler=sub_sched)
    subj3 = lib.Job(aprint("subj3"), label="subj3", required=subj1, scheduler=sub_sched)
    lib.Job(aprint("subj4"), label="subj4", required=(subj2, subj3), scheduler=sub_sched)
    main_sched = lib.Scheduler(
        lib.Sequence(
            lib.Job(aprint("main-start"), label="main-start"),
            sub_sched,
            lib.Job(aprint("main-end"), label="main-end"),
        )
    )
    main_sched.list()
    out = capsys.readouterr().out
    for label in ("main-start", "critical nested", "subj1", "subj4", "main-end", "--end--"):
        assert label in out
    assert "entries=" in out and "exits=" in out
    assert main_sched.run() is True
    assert log[0] == "main-start" and log[1] == "subj1"
    assert set(log[2:4]) == {"subj2", "subj3"}
    assert log[4:] == ["subj4", "main-end"]
    assert sub_sched.is_done() and sub_sched.result() is True


def test_readme_graph_and_dotfile(lib: Any, tmp_path: Any) -> None:
    s = lib.Scheduler()
    j1 = lib.Job(in_out(0.001), label="init", critical=False, scheduler=s)
    lib.Job(in_out(0.001), label="critical job", critical=True, scheduler=s, required=j1)
    lib.Job(forever_loop(), label="forever job", critical=False, forever=True, scheduler=s)
    dot = s.dot_format()
    assert dot.startswith("digraph")
    for label in ("init", "critical job", "forever job"):
        assert label in dot
    assert "dashed" in dot  # forever
    assert "red" in dot  # critical
    target = tmp_path / "readme-dotfile.dot"
    assert s.export_as_dotfile(str(target)) == f"(Over)wrote {target}"
    text = target.read_text()
    assert text.startswith("digraph") and "critical job" in text
    assert s.run() is True
    assert "init" in s.dot_format()


def test_dot_format_shows_nested_schedulers_as_clusters(lib: Any) -> None:
    inner = lib.Scheduler(
        lib.Sequence(lib.Job(in_out(0.001), label="in1"), lib.Job(in_out(0.001), label="in2")),
        label="the-inner",
    )
    outer = lib.Scheduler(
        lib.Sequence(
            lib.Job(in_out(0.001), label="before"), inner, lib.Job(in_out(0.001), label="after")
        )
    )
    dot = outer.dot_format()
    assert "subgraph cluster_" in dot
    for label in ("before", "in1", "in2", "after", "the-inner"):
        assert label in dot
    assert "lhead=" in dot and "ltail=" in dot
    assert outer.run() is True


def test_graph_returns_a_graphviz_object(lib: Any) -> None:
    s = lib.Scheduler(lib.Job(in_out(0.001), label="only"))
    graph = s.graph()
    assert "only" in graph.source
    assert s.run() is True


# asynciojobs draws SVG with Graphviz's dot: where it is not installed (and CI is not set),
# only nbjobs' export is collected
@pytest.mark.parametrize("lib", LIBS if system_tools.COLLECT_DOT else [LIBS[1]], indirect=True)
def test_export_as_svgfile(lib: Any, tmp_path: Any) -> None:
    if lib.module is asynciojobs and shutil.which("dot") is None:
        pytest.fail("CI is set and Graphviz's dot is not installed", pytrace=False)
    s = lib.Scheduler(lib.Job(in_out(0.001), label="pictured"))
    out = s.export_as_svgfile(str(tmp_path / "graph"))
    assert out == str(tmp_path / "graph.svg")
    assert "pictured" in (tmp_path / "graph.svg").read_text()
    assert (tmp_path / "graph.dot").exists()
    assert s.run() is True


# ---------------------------------------------------------------------------------------
# Return values: critical or not, schedulers and jobs (tests/test_nesting.py)
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("s_crit", "j_crit", "expected"),
    [(False, False, True), (False, True, False), (True, False, True), (True, True, "raise")],
)
def test_critical_exc(lib: Any, s_crit: bool, j_crit: bool, expected: Any) -> None:
    job = lib.Job(boom(0, str(j_crit)), critical=j_crit)
    sched = lib.Scheduler(job, critical=s_crit)
    if expected == "raise":
        with pytest.raises(BoomError) as info:
            sched.run()
        assert info.value is job.raised_exception()
    else:
        assert sched.run() is expected
    assert isinstance(job.raised_exception(), BoomError)


@pytest.mark.parametrize(
    ("s1_crit", "s2_crit", "j_crit", "expected"),
    [
        (False, False, False, True),
        (False, False, True, True),
        (False, True, False, True),
        (False, True, True, False),
        (True, False, False, True),
        (True, False, True, True),
        (True, True, False, True),
        (True, True, True, "raise"),
    ],
)
def test_critical_exc_nested(
    lib: Any, s1_crit: bool, s2_crit: bool, j_crit: bool, expected: Any
) -> None:
    job = lib.Job(boom(0, "ok"), critical=j_crit, label=f"boom {j_crit}")
    internal = lib.Scheduler(job, critical=s2_crit, label=f"internal {s2_crit}")
    external = lib.Scheduler(internal, critical=s1_crit, label=f"external {s1_crit}")
    if expected == "raise":
        with pytest.raises(BoomError):
            external.run()
    else:
        assert external.run() is expected
    # the internal scheduler always ran to its own end, as a job of the external one
    assert internal.is_done()
    assert bool(internal.raised_exception()) == (s2_crit and j_crit)
    if not internal.raised_exception():
        assert internal.result() is (not j_crit)


@pytest.mark.parametrize("verbose", [False, True])
def test_pure_scheduler_non_critical_exception(lib: Any, verbose: bool) -> None:
    a1 = lib.Job(in_out(0.01))
    a2 = lib.Job(boom(0.005), label="non critical boom", critical=False)
    sched = lib.PureScheduler(a1, a2, verbose=verbose)
    assert sched.run() is True
    assert isinstance(a2.raised_exception(), BoomError)
    assert a1.result() == 10.0


@pytest.mark.parametrize("verbose", [False, True])
def test_pure_scheduler_critical_exception_returns_false(lib: Any, verbose: bool) -> None:
    a1 = lib.Job(in_out(0.05))
    a2 = lib.Job(boom(0.005), label="critical boom", critical=True)
    sched = lib.PureScheduler(a1, a2, verbose=verbose)
    assert sched.run() is False
    assert sched.failed_critical()
    # the other job was cancelled: neither done nor failed
    assert not a1.is_done() and not a1.raised_exception()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda lib, *jobs, **kw: lib.PureScheduler(*jobs, **kw), False),
        (lambda lib, *jobs, **kw: lib.Scheduler(*jobs, critical=False, **kw), False),
        (lambda lib, *jobs, **kw: lib.Scheduler(*jobs, **kw), "raise"),
    ],
    ids=["pure", "non-critical", "critical"],
)
def test_timeout_return_value(lib: Any, make: Any, expected: Any) -> None:
    # tests/test_basics.py test_timeout2, in milliseconds
    a1 = lib.Job(in_out(0.005), label="a1")
    a2 = lib.Job(in_out(0.01), label="a2")
    a3 = lib.Job(in_out(1.0), label="a3")
    sched = make(lib, a1, a2, a3, timeout=0.05)
    if expected == "raise":
        with pytest.raises(TimeoutError):
            sched.run()
    else:
        assert sched.run() is expected
    assert sched.failed_time_out()
    assert a1.is_done() and a1.result() == 5.0
    assert a2.is_done() and a2.result() == 10.0
    assert not a3.is_done()
    assert not a3.raised_exception()


def test_timeout_in_the_middle_of_a_chain(lib: Any) -> None:
    # test_timeout1: should time out in the middle of stage 2
    a1, a2, a3 = (lib.Job(in_out(d)) for d in (0.005, 1.0, 1.0))
    a2.requires(a1)
    a3.requires(a2)
    sched = lib.PureScheduler(a1, a2, a3, timeout=0.05)
    assert sched.run() is False
    assert states(a1) == DONE
    assert states(a2) == RUNNING
    assert states(a3) == IDLE


def test_empty_scheduler(lib: Any, capsys: pytest.CaptureFixture[str]) -> None:
    sched = lib.PureScheduler()
    sched.list()
    sched.list(details=True)
    assert sched.run() is True
    assert lib.Scheduler().run() is True
    sched.close_idle_jobs()


def test_orchestrate_is_run(lib: Any) -> None:
    job = lib.Job(in_out(0.001))
    assert lib.Scheduler(job).orchestrate() is True
    assert job.result() == 1.0


def test_co_run_in_a_loop(lib: Any) -> None:
    job = lib.Job(in_out(0.001))
    sched = lib.Scheduler(job, critical=False)
    assert asyncio.run(sched.co_run()) is True
    assert job.result() == 1.0


# ---------------------------------------------------------------------------------------
# Forever jobs
# ---------------------------------------------------------------------------------------
class SleepJob:
    """tests/test_basics.py SleepJob and TickJob, built on a given library."""

    @staticmethod
    def classes(lib: Any) -> tuple[type, type]:
        class Sleep(lib.AbstractJob):  # type: ignore[name-defined,misc]
            # asynciojobs' SleepJob calls this attribute 'timeout': see the test below
            def __init__(self, delay: float) -> None:
                lib.AbstractJob.__init__(self, forever=False)
                self.delay = delay

            def text_label(self) -> str:
                return f"Sleep for {self.delay}s"

            async def co_run(self) -> float:
                await asyncio.sleep(self.delay)
                return self.delay

            async def co_shutdown(self) -> None:
                pass

        class Tick(lib.AbstractJob):  # type: ignore[name-defined,misc]
            def __init__(self, cycle: float) -> None:
                lib.AbstractJob.__init__(self, forever=True)
                self.cycle = cycle
                self.ticks = 0

            def graph_label(self) -> str:
                return f"Cyclic tick every {self.cycle}s"

            async def co_run(self) -> None:
                while True:
                    self.ticks += 1
                    await asyncio.sleep(self.cycle)

            async def co_shutdown(self) -> None:
                pass

        return Sleep, Tick


def test_forever_abstract_jobs(lib: Any, capsys: pytest.CaptureFixture[str]) -> None:
    sleep, tick = SleepJob.classes(lib)
    a1, a2, t1 = sleep(0.01), sleep(0.015), tick(0.004)
    a2.requires(a1)
    sched = lib.PureScheduler(a1, a2, t1)
    sched.list()
    assert sched.run() is True
    sched.list()
    out = capsys.readouterr().out
    assert "Sleep for 0.01s" in out and "Sleep for 0.015s" in out
    assert a2.result() == 0.015
    assert t1.ticks >= 2
    assert states(t1) == RUNNING
    assert "Cyclic tick every 0.004s" in sched.dot_format()


def test_forever_job_coroutine(lib: Any) -> None:
    ticks = []

    async def tick(n: float) -> None:
        while True:
            ticks.append(n)
            await asyncio.sleep(n)

    a1 = lib.Job(in_out(0.01), label="finite")
    a2 = lib.Job(tick(0.002), forever=True, label="forever")
    sched = lib.PureScheduler(a1, a2)
    assert sched.run() is True
    assert a1.is_done() is True
    assert a2.is_done() is False
    assert ticks


def test_abstract_job_subclass_with_a_timeout_attribute(lib: Any) -> None:
    # tests/test_basics.py SleepJob and test_simple, verbatim but for the durations
    class SleepJob(lib.AbstractJob):  # type: ignore[name-defined,misc]
        def __init__(self, timeout: float) -> None:
            lib.AbstractJob.__init__(self, forever=False)
            self.timeout = timeout

        def text_label(self) -> str:
            return f"Sleep for {self.timeout}s"

        async def co_run(self) -> float:
            await asyncio.sleep(self.timeout)
            return self.timeout

    jobs = a1, a2, a3, a4 = [SleepJob(d) for d in (0.001, 0.002, 0.003, 0.004)]
    a4.requires(a1, a2, a3)
    sched = lib.PureScheduler(*jobs)
    assert sched.check_cycles()
    assert sched.run() is True
    for j in jobs:
        assert not j.raised_exception()
    assert a4.result() == 0.004


def test_forever_scheduler_in_a_sequence(lib: Any) -> None:
    # test_nesting_sequence: a nested scheduler marked forever that does end
    log: list[str] = []
    subjob = lib.Scheduler(
        lib.Sequence(
            lib.Job(in_out(0.002, log, "one")),
            lib.Job(in_out(0.002, log, "two")),
            lib.Job(in_out(0.002, log, "three")),
        ),
        label="sub-scheduler\non several lines",
        critical=True,
        forever=True,
    )
    main = lib.Scheduler(
        lib.Sequence(
            lib.Job(in_out(0.002, log, "BEGIN"), label="job-label"),
            subjob,
            lib.Job(in_out(0.002, log, "END")),
        )
    )
    assert main.run() is True
    assert [e[3:] for e in log if e.startswith("->")] == ["BEGIN", "one", "two", "three", "END"]


# ---------------------------------------------------------------------------------------
# Job states, results, exceptions
# ---------------------------------------------------------------------------------------
def test_job_states_through_a_windowed_run(lib: Any) -> None:
    seen: dict[str, dict[str, tuple[bool, bool, bool, bool]]] = {}
    jobs: dict[str, Any] = {}

    class Probe(lib.AbstractJob):  # type: ignore[name-defined,misc]
        async def co_run(self) -> str:
            await asyncio.sleep(0.002)
            seen[self.label] = {name: states(job) for name, job in jobs.items()}
            return self.label

    a, b = Probe(label="a"), Probe(label="b")
    c = Probe(label="c", required=(a, b))
    jobs.update(a=a, b=b, c=c)
    sched = lib.Scheduler(a, b, c, jobs_window=1)
    for job in (a, b, c):
        assert states(job) == IDLE
        assert not job.raised_exception()
        with pytest.raises(ValueError):
            job.result()
    assert sched.run() is True
    # whichever of a and b got the slot first saw the other one waiting for it
    (first,) = [name for name in "ab" if seen[name][("b" if name == "a" else "a")] == SCHEDULED]
    second = "b" if first == "a" else "a"
    assert seen[first] == {first: RUNNING, second: SCHEDULED, "c": IDLE}
    assert seen[second] == {first: DONE, second: RUNNING, "c": IDLE}
    assert seen["c"] == {"a": DONE, "b": DONE, "c": RUNNING}
    for job in (a, b, c):
        assert states(job) == DONE
        assert job.result() == job.label
        assert not job.raised_exception()


def test_result_and_raised_exception(lib: Any) -> None:
    ok = lib.Job(in_out(0.001), label="ok")
    ko = lib.Job(boom(0.001, "ko"), label="ko", critical=False)
    after = lib.Job(in_out(0.001), label="after", required=ko)
    sched = lib.Scheduler(ok, ko, after)
    assert sched.run() is True
    assert ok.result() == 1.0 and not ok.raised_exception()
    exc = ko.raised_exception()
    assert isinstance(exc, BoomError) and exc.args == ("ko",)
    assert ko.is_done() and ko.result() is None
    assert after.result() == 1.0
    assert ok.is_critical() and not ko.is_critical()


def test_requires_accepts_nested_collections(lib: Any) -> None:
    # tests/test_basics.py test_requires_job
    a1, a2, a3, a4, a5 = (lib.Job(in_out(0.001), label=f"a{i}") for i in range(1, 6))
    cases = [
        (None, 0),
        ((None,), 0),
        ([None], 0),
        (a1, 1),
        ((a1,), 1),
        ([a1], 1),
        ((a1, a2), 2),
        ([a1, a2], 2),
        ([a1, (a2,), {a3, a4}, [[[[[[a5]]]]]]], 5),
    ]
    for required, count in cases:
        b = lib.Job(in_out(0.002), required=required)
        assert len(b.required) == count
        b.close()
    for a in (a1, a2, a3, a4, a5):
        a.close()


def test_requires_remove_and_chaining(lib: Any) -> None:
    a1, a2, b = (lib.Job(in_out(0.001)) for _ in range(3))
    assert b.requires(a1, [a2]) is b
    assert set(b.required) == {a1, a2}
    assert b.requires(a1, remove=True) is b
    assert set(b.required) == {a2}
    with pytest.raises(KeyError):
        b.requires(a1, remove=True)
    # a Sequence as a requirement means its last job
    seq = lib.Sequence(a1, a2)
    c = lib.Job(in_out(0.001), required=seq)
    assert set(c.required) == {a2}
    for job in (a1, a2, b, c):
        job.close()


# ---------------------------------------------------------------------------------------
# Sequence (tests/test_basics.py test_sequence*)
# ---------------------------------------------------------------------------------------
def _jobs(lib: Any, n: int, log: list[str]) -> list[Any]:
    return [lib.Job(in_out(0.001, log, str(i)), label=i) for i in range(1, n + 1)]


def _started(log: list[str]) -> list[str]:
    return [e[3:] for e in log if e.startswith("->")]


def test_sequence_simple(lib: Any) -> None:
    log: list[str] = []
    a1, a2, a3 = _jobs(lib, 3, log)
    sched = lib.PureScheduler(lib.Sequence(a1, a2, a3))
    assert [len(j.required) for j in (a1, a2, a3)] == [0, 1, 1]
    assert set(a3.required) == {a2}
    assert sched.run() is True
    assert log == ["-> 1", "<- 1", "-> 2", "<- 2", "-> 3", "<- 3"]


def test_sequence_with_required(lib: Any) -> None:
    log: list[str] = []
    a1, a2, a3 = _jobs(lib, 3, log)
    s = lib.Sequence(a2, a3, required=a1)
    sched = lib.PureScheduler(a1, s)
    assert [len(j.required) for j in (a1, a2, a3)] == [0, 1, 1]
    assert set(a2.required) == {a1}
    assert sched.run() is True
    assert _started(log) == ["1", "2", "3"]


def test_sequence_then_job(lib: Any) -> None:
    log: list[str] = []
    a1, a2 = _jobs(lib, 2, log)
    s = lib.Sequence(a1, a2)
    a3 = lib.Job(in_out(0.001, log, "3"), label=3, required=s)
    sched = lib.PureScheduler()
    assert sched.update((s, a3)) is sched
    assert len(sched) == 3
    assert [len(j.required) for j in (a1, a2, a3)] == [0, 1, 1]
    assert set(a3.required) == {a2}
    assert sched.run() is True
    assert _started(log) == ["1", "2", "3"]


def test_sequence_of_sequences(lib: Any) -> None:
    log: list[str] = []
    a1, a2, a3, a4 = _jobs(lib, 4, log)
    sched = lib.PureScheduler(lib.Sequence(lib.Sequence(a1, a2), lib.Sequence(a3, a4)))
    assert [len(j.required) for j in (a1, a2, a3, a4)] == [0, 1, 1, 1]
    assert set(a3.required) == {a2}
    assert sched.run() is True
    assert _started(log) == ["1", "2", "3", "4"]


def test_sequences_requiring_sequences(lib: Any) -> None:
    log: list[str] = []
    a1, a2, a3, a4, a5, a6 = _jobs(lib, 6, log)
    s1 = lib.Sequence(a1, a2)
    s2 = lib.Sequence(a3, a4, required=s1)
    s3 = lib.Sequence(a5, a6, required=s2)
    sched = lib.PureScheduler(s1, s2, s3)
    assert [len(j.required) for j in (a1, a2, a3, a4, a5, a6)] == [0, 1, 1, 1, 1, 1]
    assert sched.run() is True
    assert _started(log) == ["1", "2", "3", "4", "5", "6"]


def test_add_a_sequence(lib: Any) -> None:
    log: list[str] = []
    sched = lib.PureScheduler()
    sched.add(lib.Sequence(*_jobs(lib, 3, log)))
    assert len(sched) == 3
    assert sched.run() is True
    assert _started(log) == ["1", "2", "3"]


def test_sequence_with_scheduler_and_append(lib: Any) -> None:
    # test_creation_scheduler: jobs appended later are added to the scheduler too
    log: list[str] = []
    sched = lib.PureScheduler()
    s = lib.Sequence(
        lib.Job(in_out(0.001, log, "1")), lib.Job(in_out(0.002, log, "2")), scheduler=sched
    )
    last = lib.Job(in_out(0.003, log, "3"), required=s, scheduler=sched)
    appended = lib.Job(in_out(0.001, log, "appended"))
    s.append(appended)
    assert len(sched.jobs) == 4
    assert appended in sched.jobs
    assert sched.check_cycles()
    assert sched.run() is True
    assert _started(log).index("appended") > _started(log).index("2")
    assert last.result() == 3.0


def test_sequence_requires(lib: Any) -> None:
    # test_requires_sequence
    a1, a2 = lib.Job(in_out(0.001), label="a1"), lib.Job(in_out(0.001), label="a2")

    def bs() -> list[Any]:
        return [lib.Job(in_out(0.001), label=f"b{i}") for i in range(1, 4)]

    b1, b2, b3 = bs()
    s1 = lib.Sequence(b1, b2, b3, required=[a1, a2])
    assert len(b1.required) == 2
    assert len(b2.required) == 1
    s1.close_idle_jobs()

    b1, b2, b3 = bs()
    s1 = lib.Sequence(b1, b2, b3)
    s1.requires([a1, a2])
    assert len(b1.required) == 2
    assert len(b2.required) == 1
    s1.close_idle_jobs()
    for a in (a1, a2):
        a.close()


# ---------------------------------------------------------------------------------------
# Nested schedulers (tests/test_nesting.py)
# ---------------------------------------------------------------------------------------
def test_pure_scheduler_run_as_a_coroutine_job(lib: Any) -> None:
    # test_nesting1
    log: list[str] = []
    sub_sched = lib.PureScheduler()
    lib.Job(in_out(0.002, log, "sub short"), scheduler=sub_sched)
    lib.Job(in_out(0.004, log, "sub long"), scheduler=sub_sched)
    main_sched = lib.PureScheduler()
    lib.Sequence(
        lib.Job(in_out(0.002, log, "main begin")),
        lib.Job(sub_sched.co_run(), label="subscheduler"),
        lib.Job(in_out(0.002, log, "main end")),
        scheduler=main_sched,
    )
    assert main_sched.run() is True
    assert log[0] == "-> main begin"
    assert set(log[2:4]) == {"-> sub short", "-> sub long"}
    assert log[-2:] == ["-> main end", "<- main end"]


def _diamond(lib: Any, log: list[str], msg: str, cls: Any = None) -> Any:
    cls = cls or lib.Scheduler
    diamond = cls()
    top = lib.Job(in_out(0.001, log, f"top {msg}"), label=f"top {msg}", scheduler=diamond)
    left = lib.Job(
        in_out(0.002, log, f"left {msg}"), label=f"left {msg}", required=top, scheduler=diamond
    )
    right = lib.Job(
        in_out(0.002, log, f"right {msg}"), label=f"right {msg}", required=top, scheduler=diamond
    )
    lib.Job(
        in_out(0.001, log, f"bottom {msg}"),
        label=f"bottom {msg}",
        required=(left, right),
        scheduler=diamond,
    )
    return diamond


def test_pure_schedulers_as_coroutine_jobs_in_parallel(lib: Any) -> None:
    # test_nesting2
    log: list[str] = []
    sub2 = _diamond(lib, log, "SUB2", lib.PureScheduler)
    sub3 = _diamond(lib, log, "SUB3", lib.PureScheduler)
    main_sched = lib.PureScheduler()
    mainj1 = lib.Job(in_out(0.002, log, "mainj1"), label="mainj1", scheduler=main_sched)
    mainj2 = lib.Job(sub2.co_run(), label="mainj2", required=mainj1, scheduler=main_sched)
    mainj3 = lib.Job(sub3.co_run(), label="mainj3", required=mainj1, scheduler=main_sched)
    lib.Job(
        in_out(0.002, log, "mainj4"),
        label="mainj4",
        required=(mainj2, mainj3),
        scheduler=main_sched,
    )
    assert main_sched.run() is True
    assert mainj2.result() is True and mainj3.result() is True
    assert log[:2] == ["-> mainj1", "<- mainj1"]
    assert log[-2:] == ["-> mainj4", "<- mainj4"]
    assert len(log) == 2 * 10


def test_nested_schedulers_with_requirements(lib: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # test_nesting3
    log: list[str] = []
    main_sched = lib.PureScheduler(verbose=True)
    mainj1 = lib.Job(in_out(0.002, log, "mainj1"), label="mainj1", scheduler=main_sched)
    sub2 = _diamond(lib, log, "SUB2")
    main_sched.add(sub2)
    sub2.requires(mainj1)
    sub2.label = "sub_sched2"
    sub3 = _diamond(lib, log, "SUB3")
    main_sched.add(sub3)
    sub3.requires(mainj1)
    sub3.label = "sub_sched3"
    mainj4 = lib.Job(
        in_out(0.002, log, "mainj4"), label="mainj4", required=(sub2, sub3), scheduler=main_sched
    )
    for s in (main_sched, sub2, sub3):
        # nothing to drop (asynciojobs' return value is wrong with nested schedulers)
        s.sanitize()
    assert set(sub2.required) == {mainj1}
    main_sched.list(details=False)
    out = capsys.readouterr().out
    assert "sub_sched2" in out and "top SUB3" in out
    assert main_sched.run() is True
    assert log[:2] == ["-> mainj1", "<- mainj1"]
    assert log[-2:] == ["-> mainj4", "<- mainj4"]
    assert mainj4.result() == 2.0


def test_iterate_jobs_leaves(lib: Any) -> None:
    log: list[str] = []
    sched = _diamond_of_diamonds(lib, log)
    assert sum(1 for _ in sched.iterate_jobs(scan_schedulers=False)) == 10
    assert sum(1 for _ in sched.iterate_jobs()) == 10
    sched.close_idle_jobs()


def test_iterate_jobs_with_schedulers_counts_the_top_one(lib: Any) -> None:
    # tests/test_basics.py test_iterate
    log: list[str] = []
    sched = _diamond_of_diamonds(lib, log)
    try:
        assert sum(1 for _ in sched.iterate_jobs(scan_schedulers=True)) == 13
    finally:
        sched.close_idle_jobs()


def _diamond_of_diamonds(lib: Any, log: list[str]) -> Any:
    def diamond_from_jobs(j1: Any, j2: Any, j3: Any, j4: Any) -> Any:
        diamond = lib.Scheduler()
        for j in (j1, j2, j3, j4):
            diamond.add(j)
        j2.requires(j1)
        j3.requires(j1)
        j4.requires(j2)
        j4.requires(j3)
        return diamond

    def job(name: str) -> Any:
        return lib.Job(in_out(0.001, log, name))

    return diamond_from_jobs(
        job("1"),
        diamond_from_jobs(job("2.1"), job("2.2"), job("2.3"), job("2.4")),
        diamond_from_jobs(job("3.1"), job("3.2"), job("3.3"), job("3.4")),
        job("4"),
    )


@pytest.mark.parametrize(
    ("inner_critical", "outer_critical", "expected"),
    [(True, True, "raise"), (True, False, False), (False, True, True), (False, False, True)],
)
def test_nested_scheduler_timeout(
    lib: Any, inner_critical: bool, outer_critical: bool, expected: Any
) -> None:
    fast = lib.Job(in_out(0.001), label="fast")
    slow = lib.Job(in_out(1.0), label="slow")
    inner = lib.Scheduler(fast, slow, timeout=0.05, critical=inner_critical, label="inner")
    after = lib.Job(in_out(0.001), label="after", required=inner)
    outer = lib.Scheduler(inner, after, critical=outer_critical, label="outer")
    if expected == "raise":
        with pytest.raises(TimeoutError):
            outer.run()
    else:
        assert outer.run() is expected
    assert inner.failed_time_out()
    assert fast.result() == 1.0
    assert not slow.is_done()
    assert inner.is_done()
    if inner_critical:
        # the inner scheduler failed as a job, with TimeoutError
        assert isinstance(inner.raised_exception(), TimeoutError)
        assert states(after) == IDLE
    else:
        assert inner.result() is False
        assert after.result() == 1.0


def test_outer_timeout_stops_a_nested_scheduler(lib: Any) -> None:
    before = lib.Job(in_out(0.001), label="before")
    inner_fast = lib.Job(in_out(0.001), label="inner-fast")
    inner_slow = lib.Job(in_out(1.0), label="inner-slow", required=inner_fast)
    inner = lib.Scheduler(lib.Sequence(inner_fast, inner_slow), label="inner")
    outer = lib.Scheduler(lib.Sequence(before, inner), timeout=0.05, critical=False)
    assert outer.run() is False
    assert outer.failed_time_out()
    assert before.result() == 1.0
    assert inner_fast.result() == 1.0
    assert not inner_slow.is_done()
    assert not inner.is_done()


def test_nested_window_applies_to_the_nested_jobs_only(lib: Any) -> None:
    inner_meter, outer_meter = Concurrency(), Concurrency()
    inner = lib.Scheduler(*(lib.Job(inner_meter.work(0.003)) for _ in range(6)), jobs_window=2)
    outer = lib.Scheduler(inner, *(lib.Job(outer_meter.work(0.003)) for _ in range(5)))
    assert outer.run() is True
    assert inner_meter.max == 2
    assert outer_meter.max == 5


def test_sanitize(lib: Any) -> None:
    # test_nesting.py test_sanitize: simple
    def job(i: int) -> Any:
        return lib.Job(in_out(0.001), label=i)

    all_jobs = j1, j2, j3, j4, j5 = [job(i) for i in range(1, 6)]
    sched1 = lib.Scheduler(j1, j2, j3, label="top simple")
    j2.requires(j4)
    j3.requires(j5)
    assert len(j2.required) == 1 and len(j3.required) == 1
    assert sched1.sanitize() is False
    assert len(j2.required) == 0 and len(j3.required) == 0
    assert sched1.sanitize() is True
    for j in all_jobs:
        j.close()


def test_sanitize_nested(lib: Any) -> None:
    def job(i: int) -> Any:
        return lib.Job(in_out(0.001), label=i)

    all1 = j11, j12, j13, j14, j15 = [job(i) for i in range(11, 16)]
    sched2 = lib.Scheduler(lib.Sequence(j11, j12, j13), label="nested internal")
    j12.requires(j14)
    j13.requires(j15)
    all2 = j1, j2, j3, j4, _j5 = [job(i) for i in range(1, 6)]
    s1 = lib.Scheduler(lib.Sequence(j1, sched2, j3), label="nested top")
    j1.requires(j4)
    j1.requires(j11)
    sched2.requires(j13)
    # j2 is in no scheduler: untouched
    j2.requires(j1)
    assert [len(j.required) for j in (j12, j13, j1, sched2, j3)] == [2, 2, 2, 2, 1]
    assert s1.sanitize() is False
    assert [len(j.required) for j in (j12, j13, j1, sched2, j3)] == [1, 1, 0, 1, 1]
    assert len(j2.required) == 1
    for j in (*all1, *all2):
        j.close()


# ---------------------------------------------------------------------------------------
# Graph algebra: cycles, topological order, entries/exits, neighbours, surgery
# ---------------------------------------------------------------------------------------
def test_check_cycles_on_a_loop(lib: Any) -> None:
    a1, a2, a3 = (lib.Job(in_out(0.001)) for _ in range(3))
    a1.requires(a2)
    a2.requires(a3)
    a3.requires(a1)
    sched = lib.PureScheduler(a1, a2, a3)
    assert sched.check_cycles() is False
    sched.close_idle_jobs()


@pytest.mark.parametrize("cls", ["PureScheduler", "Scheduler"])
def test_flat_cycles(lib: Any, cls: str) -> None:
    sched = getattr(lib, cls)()
    j1, j2, j3 = (lib.Job(in_out(0.001), label=f"job{i}", scheduler=sched) for i in range(1, 4))
    j3.requires(j2)
    j2.requires(j1)
    assert sched.check_cycles() is True
    j1.requires(j3)
    assert sched.check_cycles() is False
    sched.close_idle_jobs()


def test_nested_cycles(lib: Any) -> None:
    def job(i: int) -> Any:
        return lib.Job(in_out(0.001), label=f"job{i}")

    js1, js2, js3 = (job(i) for i in range(11, 14))
    s2 = lib.Scheduler(lib.Sequence(js1, js2, js3))
    j1, j3 = job(1), job(3)
    s1 = lib.Scheduler(lib.Sequence(j1, s2, j3))
    assert s1.check_cycles()
    js1.requires(js3)
    assert not s1.check_cycles()
    js1.requires(js3, remove=True)
    assert s1.check_cycles()
    j1.requires(j3)
    assert not s1.check_cycles()
    j1.requires(j3, remove=True)
    assert s1.check_cycles()
    # one level down
    s3 = lib.Scheduler()
    jss1, jss2, jss3 = (job(i) for i in range(111, 114))
    lib.Sequence(jss1, jss2, jss3, scheduler=s3)
    s2.remove(js2)
    s2.sanitize()
    s2.add(s3)
    s3.requires(js1)
    js3.requires(s3)
    assert s1.check_cycles()
    js1.requires(js3)
    assert not s1.check_cycles()
    for s in (s1, s2, s3):
        s.close_idle_jobs()
    js2.close()


def test_topological_order(lib: Any) -> None:
    jobs = [lib.Job(in_out(0.001), label=f"j{i}") for i in range(7)]
    j0, j1, j2, j3, j4, j5, j6 = jobs
    j3.requires(j0, j1, j2)
    j4.requires(j3)
    j5.requires(j3)
    j6.requires(j4, j5)
    sched = lib.PureScheduler(j6, j4, j2, j5, j0, j3, j1)
    order = list(sched.topological_order())
    assert set(order) == set(jobs) and len(order) == 7
    for job in jobs:
        for req in job.required:
            assert order.index(req) < order.index(job)
    assert set(sched.entry_jobs()) == {j0, j1, j2}
    assert set(sched.exit_jobs()) == {j6}
    sched.close_idle_jobs()


def _job_in(lib: Any, sched: Any, i: int) -> Any:
    return lib.Job(in_out(0.001), label=f"job{i}", scheduler=sched)


def _diamonds(lib: Any, n: int) -> tuple[Any, list[Any]]:
    r"""n=2: j1 - j2 - j4 - j5 - j7        n=3: ... j7 - j8 - j10
    \ j3 /    \ j6 /                     \ j9 /"""
    sched = lib.Scheduler()
    j1, j2, j3, j4, j5, j6, j7 = (_job_in(lib, sched, i) for i in range(1, 8))
    j7.requires(j6.requires(j4), j5.requires(j4))
    j4.requires(j3.requires(j1), j2.requires(j1))
    jobs = [j1, j2, j3, j4, j5, j6, j7]
    if n == 3:
        j8, j9, j10 = (_job_in(lib, sched, i) for i in range(8, 11))
        j10.requires(j8.requires(j7), j9.requires(j7))
        jobs += [j8, j9, j10]
    return sched, jobs


def _close(jobs: Any) -> None:
    for j in jobs:
        j.close()


def test_bypass_chain(lib: Any) -> None:
    sched = lib.Scheduler()
    jobs = j1, j2, j3, j4, j5 = [_job_in(lib, sched, i) for i in range(1, 6)]
    j5.requires(j4.requires(j3.requires(j2.requires(j1))))
    assert sched.successors_downstream(j1) == {j2, j3, j4, j5}
    assert sched.predecessors_upstream(j5) == {j1, j2, j3, j4}
    assert set(sched.successors(j2)) == {j3}
    assert sched.predecessors(j3) == {j2}
    sched.bypass_and_remove(j3)
    assert sched.sanitize()
    assert j3 not in sched.jobs
    assert j2 in j4.required
    assert sched.successors_downstream(j1) == {j2, j4, j5}
    _close(jobs)


def test_bypass_fork(lib: Any) -> None:
    sched = lib.Scheduler()
    jobs = j1, j2, j3, j4, j5 = [_job_in(lib, sched, i) for i in range(1, 6)]
    j5.requires(j4.requires(j3.requires(j1), j2.requires(j1)))
    assert sched.successors_downstream(j1) == {j2, j3, j4, j5}
    assert sched.successors_downstream(j2) == {j4, j5}
    assert sched.successors_downstream(j3) == {j4, j5}
    assert sched.predecessors_upstream(j4) == {j1, j2, j3}
    sched.bypass_and_remove(j4)
    assert sched.sanitize()
    assert j4 not in sched.jobs
    assert j2 in j5.required and j3 in j5.required
    assert sched.successors_downstream(j1) == {j2, j3, j5}
    assert sched.predecessors_upstream(j5) == {j1, j2, j3}
    _close(jobs)


def test_bypass_diamonds(lib: Any) -> None:
    sched, jobs = _diamonds(lib, 2)
    j1, j2, j3, j4, j5, j6, j7 = jobs
    assert sched.successors_downstream(j1) == {j2, j3, j4, j5, j6, j7}
    assert sched.successors_downstream(j4) == {j5, j6, j7}
    assert sched.successors_downstream(j7) == set()
    assert sched.predecessors_upstream(j1) == set()
    assert sched.predecessors_upstream(j4) == {j1, j2, j3}
    assert sched.predecessors_upstream(j7) == {j1, j2, j3, j4, j5, j6}
    # several starts at once
    assert sched.successors_downstream(j5, j6) == {j7}
    assert sched.predecessors(j4, j7) == {j2, j3, j5, j6}
    assert set(sched.successors(j1, j4)) == {j2, j3, j5, j6}

    sched.bypass_and_remove(j4)
    assert sched.sanitize()
    assert j4 not in sched.jobs
    for down in (j5, j6):
        assert j2 in down.required and j3 in down.required
    assert sched.successors_downstream(j1) == {j2, j3, j5, j6, j7}
    assert sched.successors_downstream(j3) == {j5, j6, j7}
    assert sched.successors_downstream(j6) == {j7}
    assert sched.predecessors_upstream(j3) == {j1}
    assert sched.predecessors_upstream(j6) == {j1, j2, j3}
    assert sched.predecessors_upstream(j7) == {j1, j2, j3, j5, j6}

    sched.bypass_and_remove(j1)
    assert sched.sanitize()
    assert len(j2.required) == 0 and len(j3.required) == 0
    assert sched.successors_downstream(j3) == {j5, j6, j7}
    assert sched.predecessors_upstream(j7) == {j2, j3, j5, j6}

    sched.bypass_and_remove(j7)
    assert sched.sanitize()
    assert not set(sched.successors(j5))
    assert not set(sched.successors(j6))
    assert set(sched.jobs) == {j2, j3, j5, j6}
    _close(jobs)


def test_bypass_in_a_sequence(lib: Any) -> None:
    sched = lib.Scheduler()
    jobs = j1, j2, j3, j4, j5 = [_job_in(lib, sched, i) for i in range(1, 6)]
    lib.Sequence(*jobs, scheduler=sched)
    sched.bypass_and_remove(j3)
    assert sched.sanitize()
    assert j3 not in sched.jobs
    assert j2 in j4.required
    assert sched.successors_downstream(j1) == {j2, j4, j5}
    assert sched.successors_downstream(j5) == set()
    assert sched.predecessors_upstream(j5) == {j1, j2, j4}
    _close(jobs)


def test_bypass_a_job_not_in_the_scheduler(lib: Any) -> None:
    sched = lib.Scheduler()
    stranger = lib.Job(in_out(0.001))
    with pytest.raises(ValueError):
        sched.bypass_and_remove(stranger)
    stranger.close()


@pytest.mark.parametrize(
    ("n", "kwargs", "kept"),
    [
        (2, {"starts": [2, 3], "ends": [5, 6]}, {2, 3, 4, 5, 6}),
        (2, {"starts": [4]}, {4, 5, 6, 7}),
        (2, {"starts": [4], "keep_starts": False}, {5, 6, 7}),
        (2, {"ends": [4]}, {1, 2, 3, 4}),
        (2, {"ends": [4], "keep_ends": False}, {1, 2, 3}),
        (3, {"starts": [2, 3], "ends": [5, 6]}, {2, 3, 4, 5, 6}),
        (3, {"starts": [2, 3], "ends": [8, 9], "keep_ends": False}, {2, 3, 4, 5, 6, 7, 11}),
    ],
)
def test_keep_only_between(lib: Any, n: int, kwargs: dict[str, Any], kept: set[int]) -> None:
    sched, jobs = _diamonds(lib, n)
    if n == 3:
        # an odd job between j2 and j7 (test_bypass_keep4/5)
        j_odd = _job_in(lib, sched, 11)
        jobs[6].requires(j_odd.requires(jobs[1]))
        jobs.append(j_odd)
    by_number = {int(j.label[3:]): j for j in jobs}
    args = {
        key: ([by_number[i] for i in value] if key in ("starts", "ends") else value)
        for key, value in kwargs.items()
    }
    sched.keep_only_between(**args)
    assert len(sched) == len(kept)
    assert sched.jobs == {by_number[i] for i in kept}
    # requirements on jobs that left were dropped
    for job in sched.jobs:
        assert set(job.required) <= set(sched.jobs)
    _close(jobs)


def test_keep_only(lib: Any) -> None:
    sched, jobs = _diamonds(lib, 3)
    j1, j2, j3, j4 = jobs[:4]
    sched.keep_only([j1, j2, j3, j4])
    assert len(sched) == 4
    assert len(set(sched.successors(j1))) == 2
    assert len(set(sched.predecessors(j1))) == 0
    assert len(set(sched.successors(j2))) == 1
    assert len(set(sched.predecessors(j2))) == 1
    assert len(set(sched.successors(j4))) == 0
    assert len(set(sched.predecessors(j4))) == 2
    _close(jobs)


def test_keep_only_unrelated(lib: Any) -> None:
    sched, jobs = _diamonds(lib, 3)
    j1, j4, j7 = jobs[0], jobs[3], jobs[6]
    sched.keep_only([j1, j4, j7])
    assert len(sched) == 3
    for job in (j1, j4, j7):
        assert len(set(sched.successors(job))) == 0
        assert len(set(sched.predecessors(job))) == 0
    assert sched.run() is True
    assert all(job.is_done() for job in (j1, j4, j7))
    _close(jobs)


# ---------------------------------------------------------------------------------------
# Shutdown (tests/test_shutdown.py)
# ---------------------------------------------------------------------------------------
def _counter_classes(lib: Any) -> tuple[type, type]:
    class CounterScheduler(lib.Scheduler):  # type: ignore[name-defined,misc]
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            self.counter = 0

    class CounterJob(lib.AbstractJob):  # type: ignore[name-defined,misc]
        """co_run increments the top scheduler's counter, co_shutdown decrements it if done."""

        def __init__(self, top: Any, delay: float, shutdown_delay: float, **kwds: Any) -> None:
            self.top = top
            self.delay = delay
            self.shutdown_delay = shutdown_delay
            self.shutdowns = 0
            super().__init__(**kwds)

        async def co_run(self) -> None:
            await asyncio.sleep(self.delay)
            self.top.counter += 1

        async def co_shutdown(self) -> None:
            self.shutdowns += 1
            if not self.is_done():
                return
            await asyncio.sleep(self.shutdown_delay)
            self.top.counter -= 1

    return CounterScheduler, CounterJob


# with a timeout, the first two jobs of the sequence end long before it, the third one
# long after it: the outcome does not depend on timing
SHORT_THEN_LONG = (0.002, 0.004, 1.0, 1.0)


@pytest.mark.parametrize("sched_timeout", [None, 0.3])
def test_shutdown_simple(lib: Any, sched_timeout: float | None) -> None:
    counter_scheduler, counter_job = _counter_classes(lib)
    sched = counter_scheduler(critical=False, timeout=sched_timeout)
    delays = (0.002, 0.004, 0.006, 0.008) if sched_timeout is None else SHORT_THEN_LONG
    jobs = [
        counter_job(sched, delay=delay, shutdown_delay=0, label=f"simple {i}")
        for i, delay in enumerate(delays)
    ]
    sched.add(lib.Sequence(*jobs))
    assert sched.counter == 0
    assert sched.run() is (sched_timeout is None)
    # shutdown is implicit: every job that ran was shut down, once
    assert sched.counter == 0
    assert [job.shutdowns for job in jobs] == [1, 1, 1, 1]
    assert sum(job.is_done() for job in jobs) == (4 if sched_timeout is None else 2)


@pytest.mark.parametrize("sched_timeout", [None, 0.025])
def test_shutdown_nested(lib: Any, sched_timeout: float | None) -> None:
    counter_scheduler, counter_job = _counter_classes(lib)
    top = counter_scheduler(critical=False, timeout=sched_timeout, label="OUT")
    subs, jobs = [], []
    for i in range(3):
        sub = lib.Scheduler(label=f"SUB {i}")
        subs.append(sub)
        row = [
            counter_job(top, delay=(i + j) / 200, shutdown_delay=0, label=f"nested {i} x {j}")
            for j in range(3)
        ]
        jobs += row
        sub.add(lib.Sequence(*row))
    top.add(lib.Sequence(*subs))
    assert top.run() is (sched_timeout is None)
    assert top.counter == 0
    # the jobs that ran were shut down, once, by their enclosing scheduler
    for job in jobs:
        if job.is_done():
            assert job.shutdowns == 1


@pytest.mark.parametrize(
    ("sched_timeout", "shutdown_timeout", "expected"),
    [
        # shutdown hooks take 20 ms in one pipe, 240 ms in the other: margins of several
        # times each side of every limit, for a loaded machine
        (None, 0.004, 8),  # no shutdown hook finishes in time
        (None, 0.08, 4),  # the short ones do
        (None, 0.6, 0),  # all do
        (0.3, 0.004, 4),  # 2 jobs per pipe ran before the timeout
        (0.3, 0.08, 2),
        (0.3, 0.6, 0),
    ],
)
def test_shutdown_timeout(
    lib: Any, sched_timeout: float | None, shutdown_timeout: float, expected: int
) -> None:
    counter_scheduler, counter_job = _counter_classes(lib)
    sched = counter_scheduler(
        critical=False, timeout=sched_timeout, shutdown_timeout=shutdown_timeout
    )
    delays = (0.002,) * 4 if sched_timeout is None else SHORT_THEN_LONG
    for shutdown_delay in (0.02, 0.24):
        sched.add(
            lib.Sequence(
                *[
                    counter_job(sched, delay=delay, shutdown_delay=shutdown_delay, label=f"{i}")
                    for i, delay in enumerate(delays)
                ]
            )
        )
    sched.run()
    assert sched.counter == expected


def test_job_subclass_overriding_co_run(lib: Any) -> None:
    async def body() -> str:
        return "body"

    class Wrapping(lib.Job):  # type: ignore[name-defined,misc]
        async def co_run(self) -> str:
            inner = await super().co_run()
            return f"wrapped({inner})"

    job = Wrapping(body())
    assert lib.Scheduler(job).run() is True
    assert job.result() == "wrapped(body)"


def test_job_subclass_with_a_scheduler_attribute(lib: Any) -> None:
    # tests/test_shutdown.py CounterJob and _test_nested, as an AbstractJob
    class CounterScheduler(lib.Scheduler):  # type: ignore[name-defined,misc]
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, verbose=False, **k)
            self.counter = 0
            self.ran = 0

    class CounterJob(lib.AbstractJob):  # type: ignore[name-defined,misc]
        def __init__(self, scheduler: Any, delay: float, **kwds: Any) -> None:
            self.scheduler = scheduler
            self.delay = delay
            super().__init__(**kwds)

        async def co_run(self) -> None:
            await asyncio.sleep(self.delay)
            self.scheduler.ran += 1
            self.scheduler.counter += 1

        async def co_shutdown(self) -> None:
            if self.is_done():
                self.scheduler.counter -= 1

    top = CounterScheduler(critical=False, label="OUT")
    subs = []
    for i in range(2):
        sub = lib.Scheduler(label=f"SUB {i}")
        subs.append(sub)
        sub.add(lib.Sequence(*[CounterJob(top, delay=0.001, label=f"{i}x{j}") for j in range(2)]))
    top.add(lib.Sequence(*subs))
    assert top.run() is True
    assert top.ran == 4
    assert top.counter == 0


def test_job_coshutdown_runs_once_at_the_end(lib: Any) -> None:
    log: list[str] = []

    async def note(text: str) -> None:
        log.append(text)

    j1 = lib.Job(note("run 1"), coshutdown=note("shutdown 1"), label="j1")
    j2 = lib.Job(note("run 2"), coshutdown=note("shutdown 2"), label="j2", required=j1)
    sched = lib.Scheduler(j1, j2)
    assert sched.run() is True
    assert log[:2] == ["run 1", "run 2"]
    assert sorted(log[2:]) == ["shutdown 1", "shutdown 2"]


def test_explicit_shutdown_after_a_run_does_not_shut_down_again(lib: Any) -> None:
    calls: list[str] = []

    class Job(lib.AbstractJob):  # type: ignore[name-defined,misc]
        async def co_run(self) -> None:
            await asyncio.sleep(0)

        async def co_shutdown(self) -> None:
            calls.append(self.label)

    a = Job(label="a")
    sched = lib.Scheduler(a, Job(label="b", required=a))
    assert sched.run() is True
    assert sorted(calls) == ["a", "b"]
    sched.shutdown()
    assert sorted(calls) == ["a", "b"]


def test_shutdown_before_any_run_reaches_nested_jobs(lib: Any) -> None:
    calls: list[str] = []

    class Job(lib.AbstractJob):  # type: ignore[name-defined,misc]
        async def co_run(self) -> None:
            pass

        async def co_shutdown(self) -> None:
            calls.append(self.label)

    inner = lib.Scheduler(Job(label="inner"))
    sched = lib.Scheduler(Job(label="outer"), inner)
    assert sched.shutdown() is True
    assert sorted(calls) == ["inner", "outer"]


# ---------------------------------------------------------------------------------------
# Text views: list(), list_safe(), debrief(), stats()
# ---------------------------------------------------------------------------------------
def test_list_debrief_stats_show_labels(lib: Any, capsys: pytest.CaptureFixture[str]) -> None:
    sleep, _tick = SleepJob.classes(lib)
    a1 = lib.Job(in_out(0.002), label="first-label")
    a2 = lib.Job(boom(0.001, "non-critical-boom"), label="failing-label", critical=False)
    a3 = sleep(0.003)  # labelled by its text_label()
    a2.requires(a1)
    a3.requires(a2)
    crit = lib.Job(boom(0.001, "critical-boom"), label="critical-label", required=a3)
    never = lib.Job(in_out(0.001), label="never-label", required=crit)
    sched = lib.Scheduler(a1, a2, a3, crit, never, critical=False, label="the-scheduler")

    assert sched.stats() == "0D + 0R + 5I = 5"
    sched.list()
    sched.list(details=True)
    sched.list_safe()
    out = capsys.readouterr().out
    for label in ("first-label", "failing-label", "Sleep for 0.003s", "never-label"):
        assert label in out
    assert "requires={" in out

    assert sched.run() is False
    assert sched.stats() == "4D + 0R + 1I = 5"
    sched.list()
    sched.list(silence_done_jobs=True)
    sched.list_safe(silence_done_jobs=True)
    sched.debrief()
    sched.debrief(details=True, silence_done_jobs=True)
    out = capsys.readouterr().out
    for text in ("first-label", "critical-label", "never-label", "non-critical-boom"):
        assert text in out
    assert "a CRITICAL job has raised an exception" in out
    assert "CRIT. EXC." in out
    assert "[[ -> 2.0]]" in out


def test_list_numbers_jobs_in_topological_order(
    lib: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    b1, b2, b3 = (
        lib.Job(in_out(0.001), label="b1"),
        lib.Job(in_out(0.002), label="b2"),
        lib.Job(in_out(0.003), label="b3"),
    )
    b2.requires(b1)
    b1.requires(b3)
    sched = lib.Scheduler(b2, b1, b3)
    assert sched.run() is True
    capsys.readouterr()
    sched.list()
    lines = capsys.readouterr().out.splitlines()
    numbered = {re.findall(r"`(b\d)`", line)[0]: line.split()[0] for line in lines}
    assert numbered == {"b3": "1", "b1": "2", "b2": "3"}
    by_label = {re.findall(r"`(b\d)`", line)[0]: line for line in lines}
    assert by_label["b2"].endswith("requires={2}")
    assert "[[ -> 2.0]]" in by_label["b2"]


def test_list_safe_works_on_a_cyclic_graph(lib: Any, capsys: pytest.CaptureFixture[str]) -> None:
    a1, a2 = lib.Job(in_out(0.001), label="loop-a"), lib.Job(in_out(0.001), label="loop-b")
    a1.requires(a2)
    a2.requires(a1)
    sched = lib.Scheduler(a1, a2)
    sched.list_safe()
    out = capsys.readouterr().out
    assert "loop-a" in out and "loop-b" in out
    sched.close_idle_jobs()


def test_text_and_graph_labels(lib: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # tests/test_graph.py test_graph2
    class TextJob(lib.Job):  # type: ignore[name-defined,misc]
        def __init__(self, text: str, *args: Any, **kwds: Any) -> None:
            self.text = text
            super().__init__(*args, **kwds)

        def text_label(self) -> str:
            return f"[[TextJob {self.text[::-1]}]]"

        def details(self) -> str:
            return f"TextJob details say that initial text was {self.text}"

    class GraphJob(lib.Job):  # type: ignore[name-defined,misc]
        def __init__(self, graph: str, *args: Any, **kwds: Any) -> None:
            self.graph = graph
            super().__init__(*args, **kwds)

        def graph_label(self) -> str:
            return f"[[GraphJob {self.graph[::-1]}]]"

    sched = lib.PureScheduler()
    sched.add(
        lib.Sequence(
            TextJob("textjob-with", in_out(0.001)),
            TextJob("textjob-without", in_out(0.001), label="TextLabel"),
            GraphJob("graphjob-with", in_out(0.001)),
            GraphJob("graphjob-without", in_out(0.001), label="GraphLabel"),
        )
    )
    assert len(sched) == 4
    sched.list()
    out = capsys.readouterr().out
    assert "[[TextJob htiw-bojtxet]]" in out
    assert "TextLabel" in out and "textjob-without"[::-1] not in out
    assert "GraphLabel" in out
    assert "TextJob details say" not in out
    sched.list(details=True)
    assert "TextJob details say that initial text was textjob-with" in capsys.readouterr().out
    dot = sched.dot_format()
    assert "[[GraphJob htiw-bojhparg]]" in dot
    # graph_label() comes before the label in graphs
    assert "[[GraphJob tuohtiw-bojhparg]]" in dot
    assert sched.run() is True


# ---------------------------------------------------------------------------------------
# PrintJob and Watch
# ---------------------------------------------------------------------------------------
def test_print_job(lib: Any, capsys: pytest.CaptureFixture[str]) -> None:
    first = lib.PrintJob("hello", "world", sleep=0.002, banner="=====", label="printer")
    second = lib.PrintJob("goodbye", required=first)
    sched = lib.Scheduler(first, second)
    assert first.details() == "[+ sleep 0.002s] msg= hello..."
    assert second.details() == "msg= goodbye"
    assert sched.run() is True
    out = capsys.readouterr().out
    assert "===== hello world\n" in out
    assert "Sleeping for 0.002s\n" in out
    assert out.index("hello world") < out.index("goodbye")
    assert first.result() is None and first.is_done()
    assert set(second.required) == {first}


def test_print_job_with_scheduler(lib: Any, capsys: pytest.CaptureFixture[str]) -> None:
    sched = lib.Scheduler()
    job = lib.PrintJob("via scheduler=", scheduler=sched, label="pj")
    assert job in sched.jobs
    assert sched.run() is True
    assert "via scheduler=\n" in capsys.readouterr().out


def test_watch(lib: Any, capsys: pytest.CaptureFixture[str]) -> None:
    watch = lib.Watch("hello there")
    # the elapsed time since the watch was made: a few milliseconds on a loaded machine
    assert re.fullmatch(r"000\.0\d\d  hello there\n", capsys.readouterr().out)
    assert re.fullmatch(r"\d{3}\.\d{3}", watch.elapsed())
    first = watch.seconds()
    assert first >= 0
    watch.print_elapsed("some")
    assert re.fullmatch(r"\d{3}\.\d{3} some", capsys.readouterr().out)
    watch.reset()
    assert watch.seconds() < 1
    lib.Watch.print_wall_clock()
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} ", capsys.readouterr().out)
    lib.Watch(show_elapsed=False)
    assert capsys.readouterr().out == ""
    lib.Watch("both", show_wall_clock=True)
    # a loaded machine may take a few milliseconds between the two lines
    assert re.fullmatch(r"000\.0\d\d  both\n\d\d:\d\d:\d\d\.\d{3} both\n", capsys.readouterr().out)


def test_set_debug_is_exported(lib: Any) -> None:
    lib.set_debug(False)
    assert isinstance(lib.set_debug, types.FunctionType)


# ---------------------------------------------------------------------------------------
# nbjobs' documented, deliberate differences (nbjobs only)
# ---------------------------------------------------------------------------------------
def test_jobs_window_zero_means_no_limit_set_at_construction_or_after(lib: Any) -> None:
    # apssh's command-line tools set jobs_window from -w, whose default is 0
    meter = Concurrency()
    sched = lib.Scheduler(*(lib.Job(meter.work(0.002)) for _ in range(4)), jobs_window=0)
    assert sched.run() is True
    assert meter.max == 4
    meter = Concurrency()
    sched = lib.Scheduler(*(lib.Job(meter.work(0.002)) for _ in range(4)))
    sched.jobs_window = 0
    assert sched.run() is True
    assert meter.max == 4


def test_nbjobs_jobs_window_below_zero_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"jobs_window must be >= 1, or None \(or 0"):
        nbjobs.Scheduler(jobs_window=-1)
    sched = nbjobs.PureScheduler(nbjobs.Job(asyncio.sleep, 0))
    sched.jobs_window = -2
    with pytest.raises(ValueError, match="got -2"):
        sched.run()


def test_nbjobs_a_job_requiring_itself_is_an_error() -> None:
    job = nbjobs.Job(in_out(0.001))
    with pytest.raises(nbjobs.RequirementError, match="itself"):
        job.requires(job)
    with pytest.raises(nbjobs.RequirementError):
        job.requires([None, (job,)])
    assert len(job.required) == 0
    job.close()


def test_nbjobs_a_job_in_two_schedulers_is_an_error_once_one_ran() -> None:
    job = nbjobs.Job(in_out(0.001))
    first = nbjobs.Scheduler(job)
    assert first.run() is True
    with pytest.raises(nbjobs.OwnershipError):
        nbjobs.Scheduler(job)
    with pytest.raises(nbjobs.OwnershipError):
        nbjobs.PureScheduler().add(job)
    assert job.scheduler is first


def test_a_job_added_to_a_second_scheduler_that_runs_runs_there(lib: Any) -> None:
    # the former one is dropped without running, as apssh's test helpers do
    job = lib.Job(in_out(0.001))
    lib.Scheduler(job)
    second = lib.Scheduler(job)
    assert second.run() is True
    assert job.is_done()


def test_nbjobs_running_again_reruns_only_what_did_not_succeed() -> None:
    runs: list[str] = []
    attempts = {"flaky": 0}

    async def work(name: str) -> str:
        runs.append(name)
        if name == "flaky":
            attempts["flaky"] += 1
            if attempts["flaky"] == 1:
                raise BoomError("first time")
        return name

    a = nbjobs.Job(work, "a", label="a")
    flaky = nbjobs.Job(work, "flaky", label="flaky", critical=False, required=a)
    c = nbjobs.Job(work, "c", label="c", required=flaky)
    sched = nbjobs.Scheduler(a, flaky, c)
    assert sched.run() is True
    assert runs == ["a", "flaky", "c"]
    assert isinstance(flaky.raised_exception(), BoomError)
    runs.clear()
    assert sched.run() is True
    # 'a' and 'c' succeeded: only 'flaky' runs again
    assert runs == ["flaky"]
    assert flaky.result() == "flaky" and not flaky.raised_exception()


def test_nbjobs_running_again_with_spent_coroutines_is_an_error() -> None:
    ok = nbjobs.Job(in_out(0.001), label="ok")
    ko = nbjobs.Job(boom(0.001), label="ko", critical=False)
    sched = nbjobs.Scheduler(ok, ko)
    assert sched.run() is True
    with pytest.raises(nbjobs.NotRerunnableError) as info:
        sched.run()
    assert info.value.jobs == [ko]
    assert ok.result() == 1.0


def test_nbjobs_result_of_an_unfinished_job_is_job_not_done_error() -> None:
    assert issubclass(nbjobs.JobNotDoneError, ValueError)
    idle = nbjobs.Job(in_out(0.001), label="idle")
    with pytest.raises(nbjobs.JobNotDoneError):
        idle.result()
    crit = nbjobs.Job(boom(0.001), label="crit")
    after = nbjobs.Job(in_out(0.001), label="after", required=crit)
    forever = nbjobs.Job(forever_loop(), forever=True, label="forever")
    sched = nbjobs.Scheduler(crit, after, forever, idle, critical=False)
    assert sched.run() is False
    for job in (after, forever):
        with pytest.raises(nbjobs.JobNotDoneError):
            job.result()
    # 'after' never started (see test_nbjobs_leaves_no_never_awaited_coroutine)
    sched.close_idle_jobs()


@pytest.mark.parametrize("window", [1, 2])
def test_nbjobs_a_window_slot_is_released_when_a_job_raises(window: int) -> None:
    # asynciojobs 0.21.3 keeps the slot of a job that raised: with as many failures as
    # slots, its run never ends. nbjobs releases it.
    failing = [
        nbjobs.Job(boom(0.001, f"fail {i}"), critical=False, label=f"fail {i}")
        for i in range(window)
    ]
    meter = Concurrency()
    others = [nbjobs.Job(meter.work, 0.001, label=f"ok {i}") for i in range(3)]
    sched = nbjobs.Scheduler(*failing, *others, jobs_window=window)
    assert sched.run() is True
    assert all(isinstance(job.raised_exception(), BoomError) for job in failing)
    assert all(job.is_done() for job in others)
    assert meter.max <= window


def test_nbjobs_leaves_no_never_awaited_coroutine() -> None:
    crit = nbjobs.Job(boom(0.001), label="crit")
    chain = [nbjobs.Job(in_out(0.001), label=f"after {i}") for i in range(3)]
    sched = nbjobs.Scheduler(nbjobs.Sequence(crit, *chain), critical=False)
    assert sched.run() is False
    assert all(job.status is nbjobs.Status.SKIPPED for job in chain)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del sched, crit, chain
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []
