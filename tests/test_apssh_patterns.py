"""What asynciojobs' SSH companion (apssh) does with asynciojobs, on nbjobs, against real
sshd's: a job subclassing ``AbstractJob`` opens a connection that later jobs reuse, output
printed from the connection's callbacks, ``jobs_window = 0``, a nested scheduler put in an
outer scheduler that is then dropped, a node reused by two blocking runs, and a script
whose stdout is piped. The jobs are in ``tests/apssh_like.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from nbjobs import Scheduler, Sequence
from tests.sshd import Servers

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parent.parent


def node(servers: Servers, index: int = 0) -> Any:
    from tests.apssh_like import Node

    return Node(
        f"node{index + 1}",
        servers.hosts[index].port,
        servers.user,
        servers.client_key,
        servers.known_hosts,
    )


def test_a_connection_opened_by_one_job_keeps_later_jobs_output_out_of_it(
    servers: Servers, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.apssh_like import RemoteCommand

    one = node(servers)
    a, b, c = (RemoteCommand(one, f"echo {name}", label=name) for name in "abc")
    assert Scheduler(Sequence(a, b, c)).run() is True
    # a opened the connection: the callbacks of b's and c's sessions run in a copy of a's
    # context, after a ended; they used to land in a's output
    assert a.output.text() == "node1:a\n"
    assert "node1:b" not in a.output.text() + c.output.text()
    assert "node1:c" not in a.output.text() + b.output.text()
    assert capsys.readouterr().out == "node1:a\nnode1:b\nnode1:c\n"


def test_output_read_by_each_jobs_own_task_is_each_jobs_own(servers: Servers) -> None:
    from tests.apssh_like import ReadingCommand

    one = node(servers, 1)
    jobs = [ReadingCommand(one, f"echo {name}; echo {name} again", label=name) for name in "abc"]
    assert Scheduler(Sequence(*jobs)).run() is True
    assert [job.output.text() for job in jobs] == [
        f"node2:{name}\nnode2:{name} again\n" for name in "abc"
    ]


def test_jobs_window_zero_set_after_construction_means_no_limit(
    servers: Servers, tmp_path: Path
) -> None:
    from tests.apssh_like import RemoteCommand

    log = tmp_path / "log"
    one = node(servers)
    # each command waits (up to 10 s) until all four have started: a barrier, which only
    # jobs running at once pass without waiting it out, however loaded the machine
    command = (
        f"echo S >> {log}; for i in $(seq 200); do [ $(grep -c S {log}) -ge 4 ] && break; "
        f"sleep 0.05; done; echo E >> {log}"
    )
    scheduler = Scheduler(*(RemoteCommand(one, command) for _ in range(4)))
    scheduler.jobs_window = 0  # what apssh's command-line tools do with their default -w
    assert scheduler.run() is True
    assert log.read_text().split()[:4] == ["S"] * 4  # all four ran at once


def test_a_nested_scheduler_shown_in_a_dropped_outer_scheduler_then_run_in_another(
    servers: Servers,
) -> None:
    from tests.apssh_like import RemoteCommand

    one = node(servers)
    nested = Scheduler(RemoteCommand(one, "echo inner", label="inner"), label="nested")
    # a helper draws the nested scheduler inside an outer one, which it then drops
    draft = Scheduler(nested, label="draft")
    assert "inner" in draft.dot_format()
    main = Scheduler(nested, RemoteCommand(one, "echo outer", required=nested), label="main")
    assert nested.scheduler is main and len(draft) == 0
    assert main.run() is True
    assert main.failures() == []


def test_a_node_reused_by_two_blocking_runs_keeps_its_connection(servers: Servers) -> None:
    from tests.apssh_like import RemoteCommand

    server = servers.hosts[1]
    one = node(servers, 1)
    before = server.accepted()
    first = RemoteCommand(one, "echo first", keep_connection=True)
    assert Scheduler(first).run() is True
    # the connection was made on the first run's loop: the second run uses it again
    second = RemoteCommand(one, "echo second")  # closes it at the end of its run
    assert Scheduler(second).run() is True
    assert first.result() == 0 and second.result() == 0
    assert server.wait_for("Disconnected from user").count("Accepted publickey") == before + 1
    assert one.conn is None


def test_list_debrief_and_graph_use_the_jobs_own_labels(
    servers: Servers, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.apssh_like import RemoteCommand

    one = node(servers)
    ok = RemoteCommand(one, "true")
    bad = RemoteCommand(one, "exit 2", critical=False, required=ok)
    scheduler = Scheduler(ok, bad)
    assert scheduler.run() is True
    scheduler.list(details=True)
    scheduler.debrief()
    out = capsys.readouterr().out
    assert "node1: true" in out and "on node1: exit 2" in out
    assert "RuntimeError: node1: 'exit 2' exited with 2" in out
    assert "node1\nexit 2" in scheduler.dot_format()  # graph_label, its newline kept


def test_a_piped_script_gets_the_remote_lines_alone(servers: Servers, tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    port, key, known = servers.hosts[0].port, servers.client_key, servers.known_hosts
    script.write_text(
        textwrap.dedent(
            f"""
            from nbjobs import Scheduler, Sequence
            from tests.apssh_like import Node, RemoteCommand

            node = Node("node1", {port}, {servers.user!r}, {str(key)!r}, {str(known)!r})
            jobs = [RemoteCommand(node, f"echo line {{i}}") for i in range(3)]
            scheduler = Scheduler(Sequence(*jobs))
            scheduler.jobs_window = 0
            ok = scheduler.run()
            raise SystemExit(0 if ok else 1)
            """
        )
    )
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    # as with asynciojobs: the remote lines, and nothing of nbjobs' own
    assert done.stdout == "node1:line 0\nnode1:line 1\nnode1:line 2\n"
    assert done.stderr == ""
