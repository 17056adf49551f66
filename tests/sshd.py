"""Real OpenSSH servers on 127.0.0.1 for the SSH tests: each in its own directory, with
its own host key, on a free port, in the foreground, logging to a file (one "Accepted
publickey" line per connection, which the tests count); one client key for all of them,
and a known_hosts file the tests write.

``servers(n)`` needs ``sshd`` (Debian's openssh-server) and asyncssh; without them the
tests skip, saying why, and fail under ``CI=true`` (CI installs both).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import need

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")
PRIVSEP = Path("/run/sshd")


def find_sshd() -> str | None:
    found = shutil.which("sshd")
    if found:
        return found
    for candidate in SSHD_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def require_ssh() -> str:
    """The sshd program, once asyncssh, ssh-keygen and sshd's own directory are there."""
    try:
        import nbjobs.ssh  # noqa: F401  (asyncssh, imported without its warnings)
    except ImportError as exc:
        need(False, f"asyncssh is not installed ({exc}): pip install -e '.[ssh]'")
    sshd = find_sshd()
    need(sshd is not None, "sshd is not installed (Debian: apt-get install openssh-server)")
    need(shutil.which("ssh-keygen") is not None, "ssh-keygen is not installed")
    if not PRIVSEP.is_dir():
        if os.geteuid() == 0:
            PRIVSEP.mkdir(mode=0o755, parents=True, exist_ok=True)
        need(PRIVSEP.is_dir(), f"sshd needs {PRIVSEP}, which is missing, and only root makes it")
    assert sshd is not None
    return sshd


def keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nbjobs-test", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Sshd:
    """One sshd; ``accepted()`` counts the connections it accepted so far."""

    directory: Path
    port: int
    host_key: Path
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def known_hosts_line(self) -> str:
        key = self.host_key.with_suffix(".pub").read_text().split()
        return f"[127.0.0.1]:{self.port} {key[0]} {key[1]}\n"

    def accepted(self) -> int:
        return self.log.read_text(errors="replace").count("Accepted publickey")

    def wait_for(self, what: str, count: int = 1, timeout: float = 30.0) -> str:
        """The log once it holds ``what`` ``count`` times (sshd writes it a little later
        than the client sees the event)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log.read_text(errors="replace")
            if text.count(what) >= count or time.monotonic() > deadline:
                return text
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_sshd(sshd: str, directory: Path, client_pub: Path) -> Sshd:
    directory.mkdir(parents=True)
    host_key = keygen(directory / "host_key")
    authorized = directory / "authorized_keys"
    authorized.write_text(client_pub.read_text())
    log = directory / "sshd.log"
    for _attempt in range(5):
        port = free_port()
        config = directory / "sshd_config"
        config.write_text(
            f"ListenAddress 127.0.0.1\n"
            f"Port {port}\n"
            f"HostKey {host_key}\n"
            f"PidFile {directory / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {authorized}\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "UsePAM no\n"
            "PermitRootLogin prohibit-password\n"
            "StrictModes no\n"
            "MaxSessions 20\n"
            "MaxStartups 50\n"
            "Subsystem sftp internal-sftp\n"
        )
        checked = subprocess.run([sshd, "-t", "-f", str(config)], capture_output=True, text=True)
        if checked.returncode != 0:
            pytest.fail(f"sshd rejects its test configuration: {checked.stderr}")
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [sshd, "-D", "-e", "-f", str(config)], stdout=sink, stderr=subprocess.STDOUT
            )
        server = Sshd(directory, port, host_key, log, process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            if "Server listening" in log.read_text(errors="replace"):
                return server
            time.sleep(0.02)
        server.stop()  # the port was taken meanwhile: another one
    pytest.fail(f"sshd did not start: {log.read_text(errors='replace')}")


@dataclass
class Servers:
    """Two sshd's acting as two hosts, a client key, a known_hosts that knows both."""

    hosts: list[Sshd]
    client_key: Path
    known_hosts: Path
    user: str

    def host(self, index: int = 0, **options: Any) -> Any:
        """A ``Host`` for server ``index``, named node1, node2..., that knows both keys."""
        from nbjobs.ssh import Host

        settings: dict[str, Any] = {
            "port": self.hosts[index].port,
            "user": self.user,
            "key": self.client_key,
            "known_hosts": self.known_hosts,
            "name": f"node{index + 1}",
        }
        settings.update(options)
        return Host("127.0.0.1", **settings)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    sshd = require_ssh()
    root = tmp_path_factory.mktemp("sshd")
    client_key = keygen(root / "client_key")
    hosts: list[Sshd] = []
    try:
        for index in range(2):
            hosts.append(
                start_sshd(sshd, root / f"host{index + 1}", client_key.with_suffix(".pub"))
            )
        known_hosts = root / "known_hosts"
        known_hosts.write_text("".join(server.known_hosts_line() for server in hosts))
        yield Servers(hosts, client_key, known_hosts, getpass.getuser())
    finally:
        for server in hosts:
            server.stop()
