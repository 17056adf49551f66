"""A throwaway OpenSSH server on 127.0.0.1 for the SSH tutorial (``09-ssh.ipynb``).

``start()`` makes a temporary directory with a host key, a client key that the server
accepts, a ``known_hosts`` file that knows the server, and starts Debian's ``sshd`` in the
foreground on a free port, for the current user; ``stop()`` ends it and removes the
directory (also done at the kernel's exit). Nothing outside the directory is touched,
except ``/run/sshd``, which ``sshd`` needs and which is made when running as root.

Without ``sshd`` (Debian: ``apt-get install openssh-server``), ``start()`` says so and
returns None: the tutorial's cells need a server.
"""

from __future__ import annotations

import atexit
import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")


@dataclass
class LocalSshd:
    port: int
    user: str
    key: Path
    known_hosts: Path
    directory: Path
    process: subprocess.Popen[bytes]

    def connections(self) -> int:
        """How many connections the server accepted so far (it logs one line each)."""
        return (self.directory / "sshd.log").read_text(errors="replace").count("Accepted publickey")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)


def _sshd() -> str | None:
    found = shutil.which("sshd")
    if found:
        return found
    return next((path for path in SSHD_CANDIDATES if os.access(path, os.X_OK)), None)


def _keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start() -> LocalSshd | None:
    """Start the tutorial's server; None (and a plain message) where there is none."""
    sshd = _sshd()
    if sshd is None or shutil.which("ssh-keygen") is None:
        print(
            "No OpenSSH server on this machine (sshd and ssh-keygen are needed; on Debian: "
            "apt-get install openssh-server): the cells below need one and will fail."
        )
        return None
    privsep = Path("/run/sshd")
    if not privsep.is_dir():
        if os.geteuid() != 0:
            print(f"sshd needs {privsep}, which is missing and only root can make.")
            return None
        privsep.mkdir(mode=0o755, parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="nbjobs-tutorial-sshd-"))
    host_key = _keygen(directory / "host_key")
    key = _keygen(directory / "client_key")
    authorized = directory / "authorized_keys"
    authorized.write_text(key.with_suffix(".pub").read_text())
    port = _free_port()
    config = directory / "sshd_config"
    config.write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {host_key}\n"
        f"PidFile {directory / 'sshd.pid'}\nAuthorizedKeysFile {authorized}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "PermitRootLogin prohibit-password\nStrictModes no\n"
        "Subsystem sftp internal-sftp\n"
    )
    public = host_key.with_suffix(".pub").read_text().split()
    known_hosts = directory / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {public[0]} {public[1]}\n")
    log = directory / "sshd.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sshd, "-D", "-e", "-f", str(config)], stdout=sink, stderr=subprocess.STDOUT
        )
    server = LocalSshd(port, getpass.getuser(), key, known_hosts, directory, process)
    atexit.register(server.stop)
    deadline = time.monotonic() + 30
    while "Server listening" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            print(f"sshd did not start:\n{log.read_text(errors='replace')}")
            server.stop()
            return None
        time.sleep(0.02)
    print("A local sshd runs for this tutorial, on 127.0.0.1, in a temporary directory.")
    return server
