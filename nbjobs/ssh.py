"""SSH jobs: commands and file transfers on remote hosts (``pip install "nbjobs[ssh]"``).

::

    from nbjobs import Job, Scheduler
    from nbjobs.ssh import Host

    node = Host("node1", user="root", key="~/.ssh/id_ed25519")  # known_hosts checked
    build = Job(node.run, "make -j4")                  # result: .exit_status/.stdout/.stderr
    up = Job(node.put, "data.csv", "/tmp/data.csv")    # SFTP
    get = Job(node.get, "/tmp/out.txt", "out.txt", required=build)
    Job(node.run, "exit 3", check=False)               # a non-zero status is a result

A ``Host`` opens one connection per event loop, at first use, shared by every job on that
host: each command is a session of its own, at most ``max_sessions`` at once on the
connection (the others wait). The connection is closed when the run whose job opened it
ends (once no other run on the loop uses it), unless ``keep_open=True``; a connection
opened outside a run stays open until ``await host.close()`` (or, for a script's blocking
runs, the end of the program).

A command's stdout and stderr reach the output of the job that runs it, line by line as
they arrive, routed by its session: never another job's, whichever job opened the
connection. Cancelling the job (or its timeout) sends the remote command a hang-up
(``SIGHUP``) and closes its session.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ._core.capture import current_job
from ._core.job import AbstractJob, Status
from ._engine.blocking import at_loop_close
from ._engine.runner import at_run_end

with warnings.catch_warnings():
    # cryptography warns about DSA when asyncssh imports it: nothing a user of nbjobs can
    # act on (and a test suite that turns warnings into errors would fail on it)
    try:
        from cryptography.utils import CryptographyDeprecationWarning
    except ImportError:  # pragma: no cover - asyncssh needs cryptography
        pass
    else:
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    try:
        import asyncssh
    except ImportError as _missing:
        raise ImportError(
            'nbjobs.ssh needs asyncssh, which is not installed: pip install "nbjobs[ssh]"'
        ) from _missing

__all__ = (
    "DEFAULT",
    "AuthenticationError",
    "CommandResult",
    "ConnectError",
    "Host",
    "HostKeyError",
    "RemoteCommandError",
    "SSHError",
    "Transfer",
)

logger = logging.getLogger("nbjobs")

F = TypeVar("F", bound=Callable[..., Any])

#: how much of a failed command's stderr its error shows (the result has all of it)
STDERR_TAIL_LINES = 20
#: commands longer than this are shortened in labels (results keep them whole)
LABEL_COMMAND_CHARS = 60


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


#: ``known_hosts`` not given: OpenSSH's own files (``~/.ssh/known_hosts``), as ``ssh`` does
DEFAULT: Any = _Default()


# ---------------------------------------------------------------------------------------
# results and errors
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CommandResult:
    """What a command gave: ``exit_status`` (-1 when a signal ended it, see
    ``exit_signal``), its whole ``stdout`` and ``stderr`` (text, decoded as UTF-8)."""

    host: str
    command: str
    exit_status: int
    stdout: str
    stderr: str
    exit_signal: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def __repr__(self) -> str:
        out = _shorten(self.stdout.strip().replace("\n", "⏎"), 40)
        return (
            f"<CommandResult {self.host}: {_shorten(self.command, 40)!r} "
            f"exit_status={self.exit_status} stdout={out!r}>"
        )


@dataclass(frozen=True)
class Transfer:
    """A copy made by ``put`` or ``get``: where from, where to, how many bytes."""

    host: str
    source: str
    destination: str
    size: int


class SSHError(Exception):
    """What went wrong on a host, or on the way to it."""


class ConnectError(SSHError, ConnectionError):
    """The host could not be reached, refused us, or the connection was lost."""


class HostKeyError(ConnectError):
    """The host's key is not known (or does not match the one known): refused."""


class AuthenticationError(ConnectError):
    """The host did not accept our key(s)."""


class RemoteCommandError(SSHError):
    """A command ended with a non-zero status (``check=True``): the error carries the
    command, its status and the tail of its stderr; ``result`` has everything."""

    def __init__(self, result: CommandResult) -> None:
        self.result = result
        lines = result.stderr.rstrip("\n").splitlines()[-STDERR_TAIL_LINES:]
        how = (
            f"was killed by signal {result.exit_signal}"
            if result.exit_signal
            else f"exited with status {result.exit_status}"
        )
        message = f"{result.host}: {result.command!r} {how}"
        if lines:
            message += "; stderr ends with:\n" + "\n".join("    " + line for line in lines)
        else:
            message += " (nothing on stderr)"
        super().__init__(message)

    @property
    def command(self) -> str:
        return self.result.command

    @property
    def exit_status(self) -> int:
        return self.result.exit_status

    @property
    def stderr(self) -> str:
        return self.result.stderr

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.result,))


# ---------------------------------------------------------------------------------------
# labels
# ---------------------------------------------------------------------------------------
def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _labelled(describe: Callable[..., str]) -> Callable[[F], F]:
    """Give a method the label of its calls: ``Job(host.run, "make")`` shows as
    "host: make" in lists, graphs and views (see ``nbjobs._core.job._described_call``)."""

    def mark(fn: F) -> F:
        fn.__nbjobs_label__ = describe  # type: ignore[attr-defined]
        return fn

    return mark


def _run_label(host: Host, command: Any, *args: Any, **kwargs: Any) -> str:
    return f"{host.name}: {_shorten(str(command), LABEL_COMMAND_CHARS)}"


def _put_label(host: Host, local: Any, remote: Any = None, *args: Any, **kwargs: Any) -> str:
    return f"{host.name}: put {local} -> {remote if remote is not None else '~'}"


def _get_label(host: Host, remote: Any, local: Any = None, *args: Any, **kwargs: Any) -> str:
    return f"{host.name}: get {remote} -> {local if local is not None else '.'}"


# ---------------------------------------------------------------------------------------
# a command's session: its output goes to the job that started it
# ---------------------------------------------------------------------------------------
class _Output:
    """A command's stdout and stderr: kept whole for its result, and passed line by line
    to the job that ran it (while that job runs: a late line goes to nobody)."""

    def __init__(self, job: AbstractJob | None) -> None:
        self.job = job
        self.parts: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self.partial: dict[str, str] = {"stdout": "", "stderr": ""}

    def feed(self, stream: str, text: str) -> None:
        self.parts[stream].append(text)
        pending = self.partial[stream] + text
        cut = pending.rfind("\n") + 1
        self.partial[stream] = pending[cut:]
        if cut:
            self._to_job(stream, pending[:cut])

    def flush(self) -> None:
        for stream, rest in self.partial.items():
            if rest:
                self.partial[stream] = ""
                self._to_job(stream, rest)

    def _to_job(self, stream: str, text: str) -> None:
        job = self.job
        if job is not None and job.status is Status.RUNNING:
            job._record_output(stream, text)

    def text(self, stream: str) -> str:
        return "".join(self.parts[stream])


class _Session(asyncssh.SSHClientSession[str]):
    def __init__(self, output: _Output) -> None:
        self.output = output

    def data_received(self, data: str, datatype: asyncssh.DataType) -> None:
        stream = "stderr" if datatype == asyncssh.EXTENDED_DATA_STDERR else "stdout"
        self.output.feed(stream, data)


# ---------------------------------------------------------------------------------------
# one connection, on one loop
# ---------------------------------------------------------------------------------------
class _Link:
    """A host's connection on one event loop: opened once (concurrent first users wait
    for the same attempt), at most ``max_sessions`` sessions at once, held by the runs
    that use it and closed when the last of them ends (unless the host keeps it open)."""

    def __init__(self, host: Host, loop: asyncio.AbstractEventLoop) -> None:
        self.host = host
        self.loop = loop
        self.conn: asyncssh.SSHClientConnection | None = None
        self.opening: asyncio.Task[asyncssh.SSHClientConnection] | None = None
        self.sessions = asyncio.Semaphore(host.max_sessions)
        #: runs that use the connection and have not ended
        self.runs = 0
        self.closed = False

    async def connection(self) -> asyncssh.SSHClientConnection:
        conn = self.conn
        if conn is not None and not conn.is_closed():
            return conn
        self.conn = None
        if self.opening is None:
            # in a context of its own: the connection's callbacks run in a copy of the
            # context it was opened in, which must not be a job's
            self.opening = self.loop.create_task(self.host._open(), context=contextvars.Context())
            self.opening.add_done_callback(self._opened)
        # shielded: a job cancelled while it waits does not cancel the others' attempt
        return await asyncio.shield(self.opening)

    def _opened(self, task: asyncio.Task[asyncssh.SSHClientConnection]) -> None:
        self.opening = None
        if task.cancelled():
            return
        if task.exception() is None:  # retrieved here: every waiter may have gone
            self.conn = task.result()
            if self.closed:  # closed while it was opening
                self.conn.close()

    async def release(self) -> None:
        """A run that used the connection ended."""
        self.runs -= 1
        if self.runs <= 0 and not self.host.keep_open:
            await self.close()

    async def close(self) -> None:
        self.closed = True
        if self.host._links.get(self.loop) is self:
            del self.host._links[self.loop]
        opening = self.opening
        if opening is not None:
            opening.cancel()
            await asyncio.wait([opening])
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()
            await conn.wait_closed()
            logger.debug("%r: connection closed", self.host)


# ---------------------------------------------------------------------------------------
# the host
# ---------------------------------------------------------------------------------------
class Host:
    """A remote host that jobs run commands on and copy files to and from, over SSH.

    Parameters: ``hostname``; keyword-only: ``user`` (default: yours), ``port`` (22),
    ``key`` (a private key file or several; default: your agent and ``~/.ssh/id_*``),
    ``known_hosts`` (a file, or several, of known host keys; default: OpenSSH's; None
    disables host key checking, knowingly), ``name`` (in labels; default: the hostname,
    with the port when it is not 22), ``connect_timeout`` (seconds to connect and log in),
    ``keepalive`` (seconds between keepalives, which find a dead connection; None: none),
    ``max_sessions`` (commands and transfers at once on the connection; OpenSSH's sshd
    allows 10 by default), ``keep_open`` (keep the connection when a run ends), and any
    other option of ``asyncssh.connect()``.

    ``run``, ``put`` and ``get`` are coroutines: make jobs of them with
    ``Job(host.run, "command")``, or await them anywhere.
    """

    def __init__(
        self,
        hostname: str,
        *,
        user: str | None = None,
        port: int = 22,
        key: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        known_hosts: Any = DEFAULT,
        name: str | None = None,
        connect_timeout: float = 15.0,
        keepalive: float | None = 30.0,
        max_sessions: int = 8,
        keep_open: bool = False,
        **options: Any,
    ) -> None:
        if not isinstance(hostname, str) or not hostname:
            raise TypeError(f"Host() takes a host name or address, got {hostname!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"port must be an int between 1 and 65535, got {port!r}")
        if isinstance(max_sessions, bool) or not isinstance(max_sessions, int):
            raise TypeError(f"max_sessions must be an int >= 1, got {max_sessions!r}")
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be >= 1, got {max_sessions!r}")
        _check_seconds("connect_timeout", connect_timeout)
        if keepalive is not None:
            _check_seconds("keepalive", keepalive)
        self.hostname = hostname
        self.user = user
        self.port = port
        self.name = name if name is not None else (hostname if port == 22 else f"{hostname}:{port}")
        self.keys = _paths(key, "key")
        self.known_hosts = known_hosts
        if known_hosts is not DEFAULT and known_hosts is not None:
            _paths(known_hosts, "known_hosts")  # checked now, read by asyncssh
        self.connect_timeout = float(connect_timeout)
        self.keepalive = keepalive
        self.max_sessions = max_sessions
        self.keep_open = bool(keep_open)
        self.options = options
        #: the connection on each event loop that used this host
        self._links: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Link] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"<Host {self.name!r} {user}{self.hostname}:{self.port}>"

    # ---- connection ---------------------------------------------------------------------
    async def connect(self) -> asyncssh.SSHClientConnection:
        """The connection on the running loop, opened if needed (the jobs do this
        themselves; call it to fail early, or to use asyncssh directly)."""
        return (await self._link())[1]

    async def close(self) -> None:
        """Close the connection on the running loop, if there is one."""
        link = self._links.get(asyncio.get_running_loop())
        if link is not None:
            await link.close()

    def is_connected(self) -> bool:
        """True when a connection is open on the running loop."""
        link = self._links.get(asyncio.get_running_loop())
        return link is not None and link.conn is not None and not link.conn.is_closed()

    async def _link(self) -> tuple[_Link, asyncssh.SSHClientConnection]:
        loop = asyncio.get_running_loop()
        link = self._links.get(loop)
        fresh = link is None or link.closed
        if link is None or link.closed:
            link = self._links[loop] = _Link(self, loop)
        # the run of the job that asks holds the connection until it ends
        scope = at_run_end(("nbjobs.ssh", id(link)), link.release)
        if scope == "added":
            link.runs += 1
        if fresh and (scope is None or self.keep_open):
            # opened outside any run, or kept beyond runs: a script's shared loop closes
            # it at exit; other loops belong to their owner (``await host.close()``)
            at_loop_close(loop, link.close)
        return link, await link.connection()

    async def _open(self) -> asyncssh.SSHClientConnection:
        options: dict[str, Any] = {
            "port": self.port,
            "connect_timeout": self.connect_timeout,
            "keepalive_interval": self.keepalive or 0,
        }
        if self.user is not None:
            options["username"] = self.user
        if self.keys:
            options["client_keys"] = [str(path) for path in self.keys]
        if self.known_hosts is not DEFAULT:
            options["known_hosts"] = _known_hosts_option(self.known_hosts)
        options.update(self.options)
        try:
            conn = await asyncssh.connect(self.hostname, **options)
        except asyncssh.HostKeyNotVerifiable as exc:
            raise HostKeyError(self._host_key_advice(exc)) from None
        except asyncssh.PermissionDenied as exc:
            keys = ", ".join(str(path) for path in self.keys) or "your agent's and ~/.ssh/id_*"
            raise AuthenticationError(
                f"{self!r} refused to log in as {self.user or 'you'} with the key(s) "
                f"{keys}: {exc.reason}; check key= and user=, and that the public key is "
                "in the host's authorized_keys"
            ) from None
        except TimeoutError:
            raise ConnectError(
                f"cannot connect to {self!r}: no answer within connect_timeout="
                f"{self.connect_timeout:g}s"
            ) from None
        except (OSError, asyncssh.Error) as exc:
            raise ConnectError(f"cannot connect to {self!r}: {exc}") from exc
        logger.debug("%r: connected", self)
        return conn

    def _host_key_advice(self, exc: Exception) -> str:
        if self.known_hosts is DEFAULT:
            where = "OpenSSH's known_hosts (~/.ssh/known_hosts)"
        else:
            files = ", ".join(str(path) for path in _paths(self.known_hosts, "known_hosts"))
            where = f"known_hosts={files}"
        entry = self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"
        return (
            f"{self!r}: its host key is not in {where} ({exc}), so nbjobs refused to "
            "connect. To accept it, check its fingerprint with the host's administrator, "
            f"then add it to a known_hosts file (`ssh-keyscan -p {self.port} "
            f"{self.hostname}` prints the line, which starts with {entry}) and pass "
            "known_hosts=PATH if that is not the default file; or pass known_hosts=None "
            "to disable host key checking, knowingly."
        )

    # ---- commands -----------------------------------------------------------------------
    @_labelled(_run_label)
    async def run(
        self,
        command: str,
        *,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
        pty: bool = False,
    ) -> CommandResult:
        """Run ``command`` on the host (through the user's shell) and return its result.

        ``check`` (default True): a non-zero status raises ``RemoteCommandError`` with the
        command, the status and the tail of stderr; with False it is a result like any
        other. ``env``: variables to set (the server must accept them, see sshd's
        ``AcceptEnv``); ``input``: text sent to its stdin (else it reads end of file).

        Cancelled (or timed out), the command gets a hang-up signal and its session is
        closed. OpenSSH delivers signals to a user's commands, but not to root's (it
        logs "session signalling requires privilege separation"); a root command that
        writes then dies of the closed session, one that only waits would not: ``pty``
        runs the command on a pseudo-terminal, whose hang-up always reaches it (its
        stderr then comes on stdout, as on a terminal).
        """
        if not isinstance(command, str):
            raise TypeError(f"{self!r}.run() takes the command as a str, got {command!r}")
        # the job is found now, in its own task, and its session's output goes to it
        output = _Output(current_job.get())
        variables: dict[bytes | str, bytes | str] = {}
        for name, value in (env or {}).items():
            variables[name] = value
        link, conn = await self._link()
        async with link.sessions:
            try:
                chan, _ = await conn.create_session(
                    lambda: _Session(output),
                    command,
                    env=variables or None,
                    encoding="utf-8",
                    errors="replace",
                    **_PTY if pty else {},
                )
            except (asyncssh.Error, OSError) as exc:
                raise ConnectError(f"{self!r}: cannot start {command!r}: {exc}") from exc
            try:
                if input is not None:
                    chan.write(input)
                if pty:
                    # a terminal has no end of file of its own: its EOF character
                    chan.write("\n\x04" if input and not input.endswith("\n") else "\x04")
                else:
                    chan.write_eof()
                await chan.wait_closed()
            except BaseException:
                # cancelled (the job's timeout, the run's end, the user): the remote
                # command gets a hang-up, and its session goes
                _hang_up(chan)
                raise
        output.flush()
        status = chan.get_exit_status()
        signal = chan.get_exit_signal()
        if status is None:
            raise ConnectError(f"{self!r}: the connection was lost while {command!r} ran")
        result = CommandResult(
            host=self.name,
            command=command,
            exit_status=status,
            stdout=output.text("stdout"),
            stderr=output.text("stderr"),
            exit_signal=signal[0] if signal else None,
        )
        if check and status != 0:
            raise RemoteCommandError(result)
        return result

    # ---- files --------------------------------------------------------------------------
    @_labelled(_put_label)
    async def put(
        self,
        local: str | os.PathLike[str],
        remote: str | None = None,
        *,
        recurse: bool = False,
        preserve: bool = False,
    ) -> Transfer:
        """Copy the local file ``local`` to ``remote`` on the host (SFTP; default: its
        name, in the remote user's home). ``recurse`` copies a directory."""
        source = _local_source(self, local, recurse)
        destination = remote if remote is not None else source.name
        job = current_job.get()
        await self._sftp("put", str(source), destination, recurse, preserve)
        size = _local_size(source)
        _note(job, f"sent {size} bytes\n")
        return Transfer(self.name, str(source), destination, size)

    @_labelled(_get_label)
    async def get(
        self,
        remote: str,
        local: str | os.PathLike[str] | None = None,
        *,
        recurse: bool = False,
        preserve: bool = False,
    ) -> Transfer:
        """Copy ``remote`` from the host to the local path ``local`` (SFTP; default: its
        name, in the current directory). ``recurse`` copies a directory."""
        target = _local_target(remote, local)
        job = current_job.get()
        await self._sftp("get", remote, str(target), recurse, preserve)
        size = _local_size(target)
        _note(job, f"received {size} bytes\n")
        return Transfer(self.name, remote, str(target), size)

    async def _sftp(
        self, direction: str, source: str, destination: str, recurse: bool, preserve: bool
    ) -> None:
        link, conn = await self._link()
        async with link.sessions:
            try:
                async with conn.start_sftp_client() as sftp:
                    copy = sftp.put if direction == "put" else sftp.get
                    await copy(source, destination, recurse=recurse, preserve=preserve)
            except asyncssh.SFTPError as exc:
                raise SSHError(
                    f"{self!r}: cannot {direction} {source!r} -> {destination!r}: {exc.reason}"
                ) from None
            except (FileNotFoundError, PermissionError, IsADirectoryError):
                raise
            except (asyncssh.Error, OSError) as exc:
                raise ConnectError(f"{self!r}: {direction} {source!r} failed: {exc}") from exc


#: a pseudo-terminal for ``run(pty=True)``: no echo of the input, and no rewriting of
#: the output (newlines stay newlines)
_PTY: dict[str, Any] = {
    "request_pty": "force",
    "term_type": "dumb",
    "term_modes": {asyncssh.PTY_ECHO: 0, asyncssh.PTY_OPOST: 0},
}


def _note(job: AbstractJob | None, text: str) -> None:
    if job is not None and job.status is Status.RUNNING:
        job._record_output("stdout", text)


def _hang_up(chan: asyncssh.SSHClientChannel[str]) -> None:
    with contextlib.suppress(asyncssh.Error, OSError, ValueError):
        chan.send_signal("HUP")  # fails when the session is gone already
    chan.close()


def _local_source(host: Host, local: str | os.PathLike[str], recurse: bool) -> Path:
    """What ``put`` copies, checked before anything reaches the host."""
    source = Path(local).expanduser()
    if not source.exists():
        raise FileNotFoundError(f"{host!r}.put(): no such local file: {str(local)!r}")
    if source.is_dir() and not recurse:
        raise IsADirectoryError(
            f"{host!r}.put(): {str(local)!r} is a directory; pass recurse=True to copy it"
        )
    return source


def _local_target(remote: str, local: str | os.PathLike[str] | None) -> Path:
    return Path(local).expanduser() if local is not None else Path(Path(remote).name)


def _check_seconds(what: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{what} must be a number of seconds > 0, got {value!r}")


def _local_size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _paths(value: Any, what: str) -> list[Path]:
    if value is None:
        return []
    items = [value] if isinstance(value, str | os.PathLike) else list(value)
    paths = []
    for item in items:
        if not isinstance(item, str | os.PathLike):
            raise TypeError(f"{what} takes a path or a list of paths, got {item!r}")
        paths.append(Path(item).expanduser())
    return paths


def _known_hosts_option(value: Any) -> Any:
    if value is None:
        return None
    return [str(path) for path in _paths(value, "known_hosts")]
