"""SSH jobs written the way asynciojobs' SSH companion (apssh) writes them, on the
asynciojobs-compatible API only: a node holds one asyncssh connection, opened by the first
job that needs it and reused by the next ones; a job subclasses ``AbstractJob``; the
session's callbacks print each remote line as ``host:line`` on stdout (stderr lines on
stderr), from the connection's protocol, not from the job's task.

The project's own words for those patterns, so that the compatibility tests do not depend
on apssh itself.
"""

from __future__ import annotations

import warnings
from typing import Any

from nbjobs import AbstractJob

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # cryptography's DSA deprecation, through asyncssh
    import asyncssh


class Node:
    """One remote host and its connection, opened at first use and then shared."""

    def __init__(self, name: str, port: int, user: str, key: Any, known_hosts: Any) -> None:
        self.name = name
        self.port = port
        self.user = user
        self.key = key
        self.known_hosts = known_hosts
        self.conn: asyncssh.SSHClientConnection | None = None

    async def connection(self) -> asyncssh.SSHClientConnection:
        if self.conn is None:
            self.conn = await asyncssh.connect(
                "127.0.0.1",
                port=self.port,
                username=self.user,
                client_keys=[str(self.key)],
                known_hosts=str(self.known_hosts),
            )
        return self.conn

    async def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            await self.conn.wait_closed()
            self.conn = None


class PrintingSession(asyncssh.SSHClientSession[str]):
    """Prints each line as it comes, prefixed with the host: the callback runs in the
    connection's context, whichever job started the command."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.partial = ""

    def data_received(self, data: str, datatype: asyncssh.DataType) -> None:
        import sys

        stream = sys.stderr if datatype == asyncssh.EXTENDED_DATA_STDERR else sys.stdout
        text = self.partial + data
        *lines, self.partial = text.split("\n")
        for line in lines:
            print(f"{self.host}:{line}", file=stream)


class RemoteCommand(AbstractJob):
    """A command on a node; its result is the exit status. With ``keep_connection``
    False, the end of the run closes the node's connection (in ``co_shutdown``)."""

    def __init__(
        self, node: Node, command: str, *, keep_connection: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.node = node
        self.command = command
        self.keep_connection = keep_connection

    async def co_run(self) -> int | None:
        conn = await self.node.connection()
        chan, _ = await conn.create_session(
            lambda: PrintingSession(self.node.name), self.command, encoding="utf-8"
        )
        chan.write_eof()
        await chan.wait_closed()
        status = chan.get_exit_status()
        if status != 0:
            raise RuntimeError(f"{self.node.name}: {self.command!r} exited with {status}")
        return status

    async def co_shutdown(self) -> None:
        if not self.keep_connection:
            await self.node.close()

    def text_label(self) -> str:
        return f"{self.node.name}: {self.command}"

    def graph_label(self) -> str:
        return f"{self.node.name}\n{self.command}"

    def details(self) -> str:
        return f"on {self.node.name}: {self.command}"


class ReadingCommand(RemoteCommand):
    """The same command, its output read and printed by the job's own task."""

    async def co_run(self) -> int | None:
        conn = await self.node.connection()
        process = await conn.create_process(self.command, stdin=asyncssh.DEVNULL)
        async for line in process.stdout:
            if line:  # the stream may end with an empty read
                print(f"{self.node.name}:{line}", end="")
        await process.wait()
        return process.exit_status
