"""SSH jobs against real OpenSSH servers on 127.0.0.1 (two of them, as two hosts).

Connections are counted on the server side, from sshd's own log ("Accepted publickey"
once per connection); the remote commands run on this machine, so a test can look at
their processes and files directly.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from nbjobs import Job, Scheduler, Sequence, Status
from tests.conftest import run_checked
from tests.sshd import Servers

pytestmark = pytest.mark.timeout(180)


def ssh() -> Any:
    import nbjobs.ssh

    return nbjobs.ssh


def wait_until(condition: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


async def until(condition: Any, timeout: float = 30.0) -> None:
    """Poll ``condition()`` on the loop (the remote side gives no event to wait on)."""
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never came true")


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie is gone too: it only waits for its parent to read its status
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


# ---------------------------------------------------------------------------------------
# connections
# ---------------------------------------------------------------------------------------
def test_jobs_on_a_host_share_one_connection_per_host(servers: Servers) -> None:
    before = [server.accepted() for server in servers.hosts]
    one, two = servers.host(0), servers.host(1)
    jobs = [Job(one.run, f"echo one {i}") for i in range(5)]
    jobs += [Job(two.run, f"echo two {i}") for i in range(5)]
    assert Scheduler(*jobs).run() is True
    assert [job.result().stdout for job in jobs[:5]] == [f"one {i}\n" for i in range(5)]
    assert [job.result().stdout for job in jobs[5:]] == [f"two {i}\n" for i in range(5)]
    for server, count in zip(servers.hosts, before, strict=True):
        server.wait_for("Accepted publickey", count + 1)
        assert server.accepted() == count + 1  # one connection each, for five jobs


def test_connections_are_closed_when_the_run_ends(servers: Servers) -> None:
    server = servers.hosts[0]
    host = servers.host(0)
    closed = server.log.read_text().count("Disconnected from user")
    assert Scheduler(Job(host.run, "true"), Job(host.run, "true")).run() is True
    # closed by the run itself, before run() returned: the server sees it at once
    text = server.wait_for("Disconnected from user", closed + 1)
    # the whole log on failure: which connections, in which order
    assert text.count("Disconnected from user") == closed + 1, text
    assert "Disconnected by application" in text


def test_keep_open_keeps_the_connection_for_the_next_run(servers: Servers) -> None:
    server = servers.hosts[1]
    host = servers.host(1, keep_open=True)
    before = server.accepted()
    first = Scheduler(Job(host.run, "echo first"))
    assert first.run() is True
    second = Scheduler(Job(host.run, "echo second"))
    assert second.run() is True  # the blocking runs of this thread share one loop
    assert server.wait_for("Accepted publickey", before + 1).count("Accepted publickey") == (
        before + 1
    )
    assert server.accepted() == before + 1

    async def close() -> None:
        await host.close()

    assert Scheduler(Job(close)).run() is True


def test_a_connection_opened_outside_a_run_stays_until_closed(servers: Servers) -> None:
    host = servers.host(0)

    async def main() -> None:
        first = await host.run("echo outside")
        assert first.stdout == "outside\n"
        assert host.is_connected()
        await host.close()
        assert not host.is_connected()

    run_checked(main)


def test_bounded_sessions_per_connection(servers: Servers, tmp_path: Path) -> None:
    log = tmp_path / "sessions.log"
    host = servers.host(0, max_sessions=2)
    # each command waits (up to 3 s) until two are running: two at once then overlap
    # however loaded the machine is, and a third would show as a peak of 3
    running = f"$(( $(grep -c S {log}) - $(grep -c E {log}) ))"
    command = (
        f"echo S >> {log}; for i in $(seq 60); do [ {running} -ge 2 ] && break; "
        f"sleep 0.05; done; sleep 0.2; echo E >> {log}"
    )
    assert Scheduler(*(Job(host.run, command) for _ in range(6))).run() is True
    running = peak = 0
    for mark in log.read_text().split():
        running += 1 if mark == "S" else -1
        peak = max(peak, running)
    assert log.read_text().count("S") == 6
    assert peak == 2


# ---------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------
def test_output_goes_to_its_own_job_under_concurrency(servers: Servers) -> None:
    one, two = servers.host(0), servers.host(1)
    jobs = []
    for k in range(6):
        host = one if k % 2 else two
        command = (
            f"for i in 1 2 3 4 5; do echo job{k} out $i; echo job{k} err $i >&2; sleep 0.02; done"
        )
        jobs.append(Job(host.run, command, label=f"job{k}"))
    assert Scheduler(*jobs).run() is True
    for k, job in enumerate(jobs):
        assert job.output.text("stdout") == "".join(f"job{k} out {i}\n" for i in range(1, 6))
        assert job.output.text("stderr") == "".join(f"job{k} err {i}\n" for i in range(1, 6))
        assert job.result().stderr == job.output.text("stderr")


def test_a_sequence_on_one_connection_keeps_each_jobs_output(servers: Servers) -> None:
    # the case that went wrong: the connection is opened by a's task
    host = servers.host(0)
    a, b, c = (Job(host.run, f"echo {name}", label=name) for name in "abc")
    assert Scheduler(Sequence(a, b, c)).run() is True
    assert [job.output.text() for job in (a, b, c)] == ["a\n", "b\n", "c\n"]


def test_output_reaches_the_job_line_by_line_while_the_command_runs(
    servers: Servers, tmp_path: Path
) -> None:
    flag = tmp_path / "go"
    host = servers.host(0)
    talker = Job(
        host.run,
        f"echo first; while [ ! -e {flag} ]; do sleep 0.02; done; echo second",
        label="talker",
    )
    seen: list[str] = []

    async def watch() -> None:
        await until(lambda: "first" in talker.output.text())
        seen.append(talker.output.text())
        flag.touch()

    assert Scheduler(talker, Job(watch)).run() is True
    assert seen == ["first\n"]  # before the command went on
    assert talker.output.text() == "first\nsecond\n"


def test_labels_name_the_host_and_the_command(
    servers: Servers, capsys: pytest.CaptureFixture[str]
) -> None:
    host = servers.host(0)
    long = "echo " + "x" * 100
    jobs = [
        Job(host.run, "make -j4"),
        Job(host.put, "data.csv", "/tmp/data.csv"),
        Job(host.get, "/tmp/out.txt", "out.txt"),
        Job(host.run, long),
        Job(host.run, "make", label="mine"),
    ]
    assert [job.label_text() for job in jobs] == [
        "node1: make -j4",
        "node1: put data.csv -> /tmp/data.csv",
        "node1: get /tmp/out.txt -> out.txt",
        "node1: echo " + "x" * 54 + "…",
        "mine",
    ]
    scheduler = Scheduler(*jobs)
    assert '"node1: make -j4"' in scheduler.dot_format() or "node1: make -j4" in (
        scheduler.dot_format()
    )
    scheduler.list()
    assert "node1: put data.csv -> /tmp/data.csv" in capsys.readouterr().out
    for job in jobs:
        job.close()


# ---------------------------------------------------------------------------------------
# exit statuses
# ---------------------------------------------------------------------------------------
def test_a_non_zero_status_fails_the_job_with_command_status_and_stderr(
    servers: Servers,
) -> None:
    host = servers.host(0)
    command = "for i in $(seq 1 30); do echo line $i >&2; done; exit 3"
    job = Job(host.run, command, critical=False)
    assert Scheduler(job).run() is True  # non-critical: the run is fine
    exc = job.raised_exception()
    assert isinstance(exc, ssh().RemoteCommandError)
    assert exc.exit_status == 3 and exc.command == command
    message = str(exc)
    assert message.startswith(f"node1: {command!r} exited with status 3; stderr ends with:")
    assert "line 30" in message and "line 11\n" in message and "line 10\n" not in message
    assert exc.result.stderr.count("\n") == 30
    assert job.output.text("stderr").count("\n") == 30


def test_check_false_makes_a_non_zero_status_a_result(servers: Servers) -> None:
    host = servers.host(1)
    job = Job(host.run, "echo partial; exit 7", check=False)
    ok = Job(host.run, "true")
    assert Scheduler(job, ok).run() is True
    result = job.result()
    assert (result.exit_status, result.stdout, result.ok) == (7, "partial\n", False)
    assert ok.result().exit_status == 0 and ok.result().ok


def test_a_critical_failure_raises_from_run_with_the_remote_error(servers: Servers) -> None:
    host = servers.host(0)
    with pytest.raises(ssh().RemoteCommandError, match=r"'false' exited with status 1"):
        Scheduler(Job(host.run, "false")).run()


def test_input_and_environment(servers: Servers) -> None:
    host = servers.host(0)
    job = Job(host.run, "tr a-z A-Z", input="hello\n")
    assert Scheduler(job).run() is True
    assert job.result().stdout == "HELLO\n"


# ---------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------
def test_put_and_get_copy_a_few_mib_byte_for_byte(servers: Servers, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    local = tmp_path / "data.bin"
    local.write_bytes(data)
    remote = tmp_path / "remote" / "data.bin"
    remote.parent.mkdir()
    back = tmp_path / "back.bin"
    host = servers.host(1)
    up = Job(host.put, local, str(remote))
    check = Job(host.run, f"sha256sum {remote}", required=up)
    down = Job(host.get, str(remote), back, required=check)
    assert Scheduler(up, check, down).run() is True
    assert remote.read_bytes() == data
    assert back.read_bytes() == data
    assert up.result().size == len(data) and down.result().size == len(data)
    assert check.result().stdout.split()[0] == __import__("hashlib").sha256(data).hexdigest()
    assert up.output.text() == f"sent {len(data)} bytes\n"
    assert down.output.text() == f"received {len(data)} bytes\n"


def test_put_of_a_missing_file_fails_before_connecting(servers: Servers, tmp_path: Path) -> None:
    server = servers.hosts[0]
    before = server.accepted()
    job = Job(servers.host(0).put, tmp_path / "nope.txt", "/tmp/x", critical=False)
    assert Scheduler(job).run() is True
    assert isinstance(job.raised_exception(), FileNotFoundError)
    assert "no such local file" in str(job.raised_exception())
    assert server.accepted() == before


def test_get_of_a_missing_remote_file_says_so(servers: Servers, tmp_path: Path) -> None:
    job = Job(servers.host(0).get, str(tmp_path / "absent"), tmp_path / "x", critical=False)
    assert Scheduler(job).run() is True
    exc = job.raised_exception()
    assert isinstance(exc, ssh().SSHError)
    assert "cannot get" in str(exc) and "absent" in str(exc)


# ---------------------------------------------------------------------------------------
# host keys, authentication, lost connections: clear failures, never a hang
# ---------------------------------------------------------------------------------------
def test_an_unknown_host_key_is_refused_with_advice(servers: Servers, tmp_path: Path) -> None:
    only_other = tmp_path / "known_hosts"
    only_other.write_text(servers.hosts[1].known_hosts_line())
    host = servers.host(0, known_hosts=only_other)
    job = Job(host.run, "true", critical=False)
    later = Job(host.run, "true", critical=False)
    assert Scheduler(job, later).run() is True
    for failed in (job, later):
        exc = failed.raised_exception()
        assert isinstance(exc, ssh().HostKeyError)
        assert isinstance(exc, ConnectionError)
    message = str(job.raised_exception())
    assert "host key is not in known_hosts=" in message
    assert f"ssh-keyscan -p {servers.hosts[0].port} 127.0.0.1" in message
    assert "known_hosts=None" in message


def test_known_hosts_none_disables_checking(servers: Servers) -> None:
    host = servers.host(0, known_hosts=None)
    job = Job(host.run, "echo unchecked")
    assert Scheduler(job).run() is True
    assert job.result().stdout == "unchecked\n"


def test_a_refused_key_is_an_authentication_error(servers: Servers, tmp_path: Path) -> None:
    from tests.sshd import keygen

    stranger = keygen(tmp_path / "stranger")
    host = servers.host(0, key=stranger, agent_path=None)
    job = Job(host.run, "true", critical=False)
    assert Scheduler(job).run() is True
    exc = job.raised_exception()
    assert isinstance(exc, ssh().AuthenticationError)
    assert "refused to log in" in str(exc) and "authorized_keys" in str(exc)


def test_a_host_that_never_answers_fails_within_the_connect_timeout(servers: Servers) -> None:
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts, never speaks SSH
    try:
        from nbjobs.ssh import Host

        host = Host(
            "127.0.0.1",
            port=silent.getsockname()[1],
            known_hosts=servers.known_hosts,
            connect_timeout=0.5,
        )
        job = Job(host.run, "true", critical=False)
        assert Scheduler(job, timeout=60).run() is True
        exc = job.raised_exception()
        assert isinstance(exc, ssh().ConnectError)
        assert "no answer within connect_timeout=0.5s" in str(exc)
    finally:
        silent.close()


def test_a_closed_port_is_a_connect_error(servers: Servers) -> None:
    from nbjobs.ssh import Host
    from tests.sshd import free_port

    host = Host("127.0.0.1", port=free_port(), known_hosts=servers.known_hosts)
    job = Job(host.run, "true", critical=False)
    assert Scheduler(job).run() is True
    assert isinstance(job.raised_exception(), ssh().ConnectError)
    assert "cannot connect to <Host '127.0.0.1:" in str(job.raised_exception())


def test_a_lost_connection_fails_the_jobs_that_needed_it(servers: Servers) -> None:
    host = servers.host(0)
    # kills the sshd process that serves this connection, from the inside
    killer = Job(host.run, "sleep 0.2; kill -9 $PPID; sleep 30", critical=False)
    bystander = Job(host.run, "sleep 30", critical=False)
    assert Scheduler(killer, bystander, timeout=90).run() is True
    for job in (killer, bystander):
        assert isinstance(job.raised_exception(), ssh().ConnectError), job
    assert "lost" in str(killer.raised_exception()) or "closed" in str(killer.raised_exception())


# ---------------------------------------------------------------------------------------
# cancel and timeouts close the remote session
# ---------------------------------------------------------------------------------------
#: a remote command that writes its shell's pid, then writes on: once its session is
#: closed, its next write kills it (whoever the remote user is)
TICKING = "echo $$ > {pidfile}; while true; do echo tick; sleep 0.05; done"
#: one that only waits: only a hang-up signal stops it
WAITING = "echo $$ > {pidfile}; exec sleep 60"


def remote_pid(pidfile: Path) -> int:
    assert wait_until(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    return int(pidfile.read_text())


def test_a_timeout_closes_the_remote_session(servers: Servers, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    host = servers.host(0)
    job = Job(host.run, TICKING.format(pidfile=pidfile), timeout=1.0, critical=False)
    started = time.monotonic()
    assert Scheduler(job).run() is True
    assert time.monotonic() - started < 30
    assert isinstance(job.raised_exception(), TimeoutError)
    assert "tick\n" in job.output.text()
    pid = remote_pid(pidfile)
    assert wait_until(lambda: gone(pid)), f"remote command {pid} still runs"


def test_the_run_timeout_closes_every_remote_session(servers: Servers, tmp_path: Path) -> None:
    pidfiles = [tmp_path / f"pid{i}" for i in range(4)]
    runs = [servers.host(0).run] * 2 + [servers.host(1).run] * 2
    jobs = [
        Job(run, TICKING.format(pidfile=pidfile))
        for run, pidfile in zip(runs, pidfiles, strict=True)
    ]
    scheduler = Scheduler(*jobs, timeout=2, critical=False)
    assert scheduler.run() is False
    assert scheduler.failed_time_out()
    for pidfile in pidfiles:
        pid = remote_pid(pidfile)
        assert wait_until(lambda pid=pid: gone(pid)), f"remote command {pid} still runs"


def test_cancelling_a_job_on_a_pty_hangs_up_a_waiting_command(
    servers: Servers, tmp_path: Path
) -> None:
    pidfile = tmp_path / "pid"
    host = servers.host(1)
    victim = Job(host.run, WAITING.format(pidfile=pidfile), pty=True, label="victim")

    async def cancel_it() -> None:
        await until(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
        victim.cancel("enough")

    other = Job(host.run, "echo still fine")
    assert Scheduler(victim, Job(cancel_it), other).run() is True
    assert victim.status is Status.CANCELLED and victim.cancel_reason == "enough"
    assert other.result().stdout == "still fine\n"
    pid = remote_pid(pidfile)
    assert wait_until(lambda: gone(pid)), f"remote command {pid} still runs"


def test_cancel_sends_the_remote_command_a_hang_up_signal(servers: Servers, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    server = servers.hosts[0]
    job = Job(servers.host(0).run, WAITING.format(pidfile=pidfile), timeout=1.0, critical=False)
    assert Scheduler(job).run() is True
    pid = remote_pid(pidfile)
    if servers.user != "root":
        assert wait_until(lambda: gone(pid)), f"remote command {pid} still runs"
        return
    # OpenSSH takes the signal request but does not deliver it to root's commands (run
    # on a pty, they get the hang-up from the terminal: see the test above)
    text = server.wait_for("session signalling requires privilege separation")
    assert "session_signal_req: session signalling requires privilege separation" in text
    os.kill(pid, 9)


def test_a_pty_command_gives_its_output_with_plain_newlines(servers: Servers) -> None:
    job = Job(servers.host(0).run, "echo one; echo two >&2; cat", pty=True, input="three\n")
    assert Scheduler(job).run() is True
    # a terminal merges stderr into stdout, and does not echo what it was given
    assert job.result().stdout == "one\ntwo\nthree\n"


# ---------------------------------------------------------------------------------------
# misuse, found before anything runs
# ---------------------------------------------------------------------------------------
def test_bad_host_arguments_are_rejected_at_once(servers: Servers) -> None:
    from nbjobs.ssh import Host

    with pytest.raises(ValueError, match="port must be an int between 1 and 65535, got 0"):
        Host("h", port=0)
    with pytest.raises(ValueError, match="max_sessions must be >= 1"):
        Host("h", max_sessions=0)
    with pytest.raises(ValueError, match="connect_timeout must be a number of seconds > 0"):
        Host("h", connect_timeout=-1)
    with pytest.raises(TypeError, match="known_hosts takes a path or a list of paths"):
        Host("h", known_hosts=[3])
    with pytest.raises(TypeError, match="takes a host name"):
        Host("")


def test_run_takes_a_string(servers: Servers) -> None:
    job = Job(servers.host(0).run, ["ls", "-l"], critical=False)
    assert Scheduler(job).run() is True
    assert isinstance(job.raised_exception(), TypeError)
    assert re.search(
        r"run\(\) takes the command as a str, got \['ls', '-l'\]", str(job.raised_exception())
    )


def test_host_keys_are_checked_by_default(
    servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a home without ~/.ssh/known_hosts: the host is unknown, and refused
    monkeypatch.setenv("HOME", str(tmp_path))
    host = servers.host(0, known_hosts=ssh().DEFAULT)
    job = Job(host.run, "true", critical=False)
    assert Scheduler(job).run() is True
    exc = job.raised_exception()
    assert isinstance(exc, ssh().HostKeyError)
    assert "its host key is not in OpenSSH's known_hosts (~/.ssh/known_hosts)" in str(exc)


TEST_USER = "nbjobs-ssh-test"


def _plain_user() -> str | None:
    """A user that is not root, made for this test where the tests run as root (OpenSSH
    delivers the hang-up of a cancelled command to other users' commands only)."""
    import pwd
    import shutil
    import subprocess

    try:
        pwd.getpwnam(TEST_USER)
        return TEST_USER
    except KeyError:
        pass
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        return None
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/bin/sh", TEST_USER],
        check=True,
        capture_output=True,
    )
    # no password, but not locked: sshd refuses a locked account even with a key
    subprocess.run(["usermod", "-p", "*", TEST_USER], check=True, capture_output=True)
    return TEST_USER


def test_cancel_hangs_up_a_plain_users_remote_command(servers: Servers) -> None:
    import tempfile

    from tests.browser.support import need
    from tests.sshd import require_ssh, start_sshd

    user = _plain_user()
    need(user is not None, "a user other than root (the tests create one when run as root)")
    assert user is not None
    # sshd reads a user's authorized_keys as that user: a place they can read
    shared = Path(tempfile.mkdtemp(prefix="nbjobs-ssh-"))
    try:
        shared.chmod(0o755)
        server = start_sshd(
            require_ssh(), shared / "server", servers.client_key.with_suffix(".pub")
        )
        try:
            (shared / "server").chmod(0o755)
            (shared / "server" / "authorized_keys").chmod(0o644)
            drop = shared / "drop"
            drop.mkdir(mode=0o777)
            drop.chmod(0o777)
            known = shared / "known_hosts"
            known.write_text(server.known_hosts_line())
            host = servers.host(0, port=server.port, user=user, known_hosts=known)
            pidfile = drop / "pid"
            job = Job(host.run, WAITING.format(pidfile=pidfile), timeout=1.0, critical=False)
            assert Scheduler(job).run() is True
            assert isinstance(job.raised_exception(), TimeoutError)
            pid = remote_pid(pidfile)
            import pwd

            assert pidfile.stat().st_uid == pwd.getpwnam(user).pw_uid  # ran as that user
            # the session was closed with a hang-up: the command, which only sleeps, ends
            assert wait_until(lambda: gone(pid)), f"remote command {pid} still runs"
        finally:
            server.stop()
    finally:
        import shutil

        shutil.rmtree(shared, ignore_errors=True)
