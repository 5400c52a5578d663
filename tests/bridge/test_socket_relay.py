"""The socket relay a confined container reaches out through: real sockets, both ways
(TCP to unix inside a container, unix to TCP on its host), half-closes, its limit,
and the wrapper that runs the bridge's command behind it."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import eventually
from trace_sync.bridge.socket_relay import Endpoint, Relay


@pytest.fixture
async def echo(tmp_path: Path) -> AsyncIterator[Endpoint]:
    """A TCP server on 127.0.0.1 that reads to EOF, then answers everything it got
    upper-cased and closes: it answers only after the client's half-close."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got = await reader.read()
        writer.write(b"got:" + got.upper())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield Endpoint("127.0.0.1", server.sockets[0].getsockname()[1])


@pytest.fixture
async def chain(tmp_path: Path, echo: Endpoint) -> AsyncIterator[Endpoint]:
    """A container's path: TCP 127.0.0.1 -> unix socket -> TCP ``echo`` (both relays)."""
    sock = Endpoint(path=tmp_path / "server.sock")
    host = await Relay(sock, echo).start(mode=0o600)
    inside = await Relay(Endpoint("127.0.0.1", 0), sock).start()
    assert inside._server is not None
    port = inside._server.sockets[0].getsockname()[1]
    try:
        yield Endpoint("127.0.0.1", port)
    finally:
        await inside.close()
        await host.close()
    assert not sock.path.exists()  # type: ignore[union-attr]  # removed on close


async def _ask(to: Endpoint, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(to.host, to.port)
    writer.write(payload)
    await writer.drain()
    writer.write_eof()  # half-close: the answer comes only after this EOF got through
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


async def test_bytes_go_both_ways_through_tcp_and_unix_with_half_closes(chain: Endpoint) -> None:
    big = bytes(range(256)) * 4096  # 1 MiB: more than a socket buffer, so drains are waited
    answer = await _ask(chain, b"hello " + big)
    assert answer == b"got:" + (b"hello " + big).upper()


async def test_many_connections_at_once(chain: Endpoint) -> None:
    answers = await asyncio.gather(*(_ask(chain, f"n{i}".encode()) for i in range(20)))
    assert answers == [f"got:N{i}".encode() for i in range(20)]


async def test_a_full_relay_turns_connections_away_and_takes_them_again(
    tmp_path: Path, echo: Endpoint
) -> None:
    relay = await Relay(Endpoint("127.0.0.1", 0), echo, limit=2).start()
    assert relay._server is not None
    port = relay._server.sockets[0].getsockname()[1]
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
    await eventually(lambda: relay.active == 2, 10)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await asyncio.wait_for(reader.read(), 10) == b""  # closed at once, nothing relayed
    writer.close()
    assert relay.refused == 1
    for _, writer in held:
        writer.close()
    await eventually(lambda: relay.active == 0, 10)
    assert await _ask(Endpoint("127.0.0.1", port), b"again") == b"got:AGAIN"
    await relay.close()


async def test_an_unreachable_target_closes_the_client(tmp_path: Path) -> None:
    relay = await Relay(Endpoint("127.0.0.1", 0), Endpoint(path=tmp_path / "none.sock")).start()
    assert relay._server is not None
    port = relay._server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()
    await relay.close()


async def test_the_wrapper_listens_before_its_command_runs_and_returns_its_code(
    tmp_path: Path, echo: Endpoint
) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    # The command dials the relay at once: it must already listen.
    script = (
        "import socket, sys\n"
        f"s = socket.create_connection(('127.0.0.1', {port}))\n"
        "s.sendall(b'from the command'); s.shutdown(socket.SHUT_WR)\n"
        "sys.exit(0 if s.makefile('rb').read() == b'got:FROM THE COMMAND' else 3)\n"
    )
    wrapped = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trace_sync.bridge.socket_relay",
        "--forward", f"127.0.0.1:{port}={echo}", "--", sys.executable, "-c", script,
    )  # fmt: skip
    assert await asyncio.wait_for(wrapped.wait(), 30) == 0
    failing = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trace_sync.bridge.socket_relay", "--", "sh", "-c", "exit 7"
    )
    assert await asyncio.wait_for(failing.wait(), 30) == 7


async def test_a_socket_deeper_than_a_unix_address_holds(tmp_path: Path, echo: Endpoint) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)  # a session's directory under a long data dir
    deep.mkdir(parents=True)
    sock = Endpoint(path=deep / "server.sock")
    assert len(str(sock.path)) > 108
    host = await Relay(sock, echo).start()
    inside = await Relay(Endpoint("127.0.0.1", 0), sock).start()
    assert inside._server is not None
    port = inside._server.sockets[0].getsockname()[1]
    assert await _ask(Endpoint("127.0.0.1", port), b"deep") == b"got:DEEP"
    await inside.close()
    await host.close()
