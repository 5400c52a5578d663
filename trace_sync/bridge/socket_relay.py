"""A byte relay between TCP and unix sockets: how a confined container reaches out.

A container with ``--network none`` (adapters/hosts/docker.py) has only its own
loopback. Its host listens on a unix socket in a directory bound into the
container and relays each connection to the server (or a model provider); inside,
this module listens on ``127.0.0.1:PORT`` and relays to that socket, so the
bridge and the tools dial plain TCP addresses. The same code runs on both sides.

Each accepted connection opens one upstream connection; bytes go both ways until
each side has ended its half (an EOF is passed on as a half-close, so a client
that shuts its writing side still gets its answer). A relay takes at most
``limit`` connections at once: more are closed as they come. Payloads are never
logged. Inside a container it wraps the bridge's command::

    python -m trace_sync.bridge.socket_relay \\
        --forward 127.0.0.1:8620=/srv/c/s_1/sockets/server.sock -- BRIDGE-ARGV

listening before the command starts, passing it SIGTERM, SIGINT and SIGHUP, and
exiting with its code.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: Connections one relay carries at once: a bridge needs a few, a tool a few more.
LIMIT = 64
CHUNK = 64 * 1024
#: The longest unix socket path bound or dialled as it is (sun_path holds 107 bytes).
MAX_ADDRESS = 100
#: How long opening the upstream may take before the client is turned away.
CONNECT_S = 10.0


@dataclass(frozen=True)
class Endpoint:
    """A TCP address (``host``, ``port``) or a unix socket (``path``)."""

    host: str = ""
    port: int = 0
    path: Path | None = None

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """``/a/unix.sock`` or ``HOST:PORT`` (``[::1]:PORT`` for IPv6)."""
        if text.startswith("/"):
            return cls(path=Path(text))
        host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"not a unix socket path or HOST:PORT: {text!r}")
        return cls(host=host.strip("[]"), port=int(port))

    def __str__(self) -> str:
        return str(self.path) if self.path is not None else f"{self.host}:{self.port}"

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.path is not None:
            with short_path(self.path) as path:
                return await asyncio.open_unix_connection(path, limit=CHUNK)
        return await asyncio.open_connection(self.host, self.port, limit=CHUNK)


@contextlib.contextmanager
def short_path(path: Path) -> Iterator[str]:
    """``path`` as bind and connect take it: a unix socket's address holds 107 bytes at
    most, and a session's directory may be deeper; a longer one is reached through a
    descriptor of its directory (``/proc/self/fd/N/NAME``), open while this lasts."""
    if len(os.fsencode(path)) <= MAX_ADDRESS:
        yield str(path)
        return
    folder = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)


class Relay:
    """Listens on ``listen`` and relays each connection to ``target``."""

    def __init__(self, listen: Endpoint, target: Endpoint, limit: int = LIMIT) -> None:
        self.listen, self.target, self.limit = listen, target, limit
        self.active = 0
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, mode: int | None = None) -> Relay:
        """Listen; a unix socket left by a former process is replaced, then given ``mode``."""
        path = self.listen.path
        if path is None:
            self._server = await asyncio.start_server(
                self._accept, self.listen.host, self.listen.port, limit=CHUNK
            )
            return self
        path.unlink(missing_ok=True)
        with short_path(path) as short:
            self._server = await asyncio.start_unix_server(self._accept, short, limit=CHUNK)
        if mode is not None:
            path.chmod(mode)
        return self

    async def close(self) -> None:
        """Stop listening and cut the connections it carries."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.listen.path is not None:
            self.listen.path.unlink(missing_ok=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.active >= self.limit:
            self.refused += 1
            if self.refused in (1, 10, 100) or self.refused % 1000 == 0:
                log.warning("relay %s is full (%d connections): refused %d", self.listen,
                            self.limit, self.refused)  # fmt: skip
            writer.close()
            return
        self.active += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._carry(reader, writer)
        finally:
            writer.close()
            self.active -= 1
            self._tasks.discard(task)

    async def _carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.wait_for(self.target.connect(), CONNECT_S)
        except (TimeoutError, OSError) as exc:
            log.info("relay %s cannot reach %s: %s", self.listen, self.target, type(exc).__name__)
            return
        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            up_writer.close()


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF, then end ``writer``'s half; a reset ends the copy quietly."""
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof() and not writer.is_closing():
            writer.write_eof()
    except OSError:
        writer.close()  # the other direction then ends too


async def wrap(forwards: Sequence[tuple[Endpoint, Endpoint]], argv: Sequence[str]) -> int:
    """Relay ``forwards`` while ``argv`` runs; its exit code."""
    relays = [await Relay(listen, target).start() for listen, target in forwards]
    child = await asyncio.create_subprocess_exec(*argv)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, child.send_signal, signum)
    try:
        code = await child.wait()
    finally:
        await asyncio.gather(*(relay.close() for relay in relays))
    return code if code >= 0 else 128 - code


def _forward(text: str) -> tuple[Endpoint, Endpoint]:
    listen, sep, target = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"LISTEN=TARGET expected, not {text!r}")
    try:
        return Endpoint.parse(listen), Endpoint.parse(target)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def main(args: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trace_sync.bridge.socket_relay")
    parser.add_argument("--forward", action="append", type=_forward, default=[],
                        metavar="LISTEN=TARGET")  # fmt: skip
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    parsed = parser.parse_args(args)
    argv = parsed.argv[1:] if parsed.argv[:1] == ["--"] else parsed.argv
    if not argv:
        parser.error("no command to run: -- ARGV")
    logging.basicConfig(level=os.environ.get("TRACE_LOG_LEVEL", "WARNING"), stream=sys.stderr)
    return asyncio.run(wrap(parsed.forward, argv))


if __name__ == "__main__":
    sys.exit(main())
