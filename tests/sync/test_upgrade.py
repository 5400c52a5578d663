"""The websocket upgrade (``sync/upgrade.py``): a plain one is opened on the request
httptools parsed; every other one is answered by ``websockets`` as before."""

from __future__ import annotations

import asyncio

import pytest
import websockets
from websockets.exceptions import InvalidStatus
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol

from tests.support.live import LiveServer
from tests.support.py_client import PyClient
from tests.sync.conftest import new_session, notes_url
from trace_sync.contract import sync_protocol as p
from trace_sync.sync.upgrade import accept_key

RFC_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's example and its answer
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
PLAIN = [
    (b"host", b"127.0.0.1"),
    (b"upgrade", b"websocket"),
    (b"connection", b"keep-alive, Upgrade"),
    (b"sec-websocket-key", RFC_KEY),
    (b"sec-websocket-version", b"13"),
]


def test_a_plain_upgrade_gets_rfc_6455s_answer() -> None:
    assert accept_key("GET", "1.1", PLAIN) == RFC_ACCEPT
    offering = [*PLAIN, (b"sec-websocket-extensions", b"permessage-deflate")]
    assert accept_key("GET", "1.1", offering) == RFC_ACCEPT  # declined, as browsers are


@pytest.mark.parametrize(
    ("method", "version", "headers"),
    [
        ("POST", "1.1", PLAIN),
        ("GET", "1.0", PLAIN),
        ("GET", "1.1", [h for h in PLAIN if h[0] != b"sec-websocket-version"]),
        ("GET", "1.1", [*PLAIN[:4], (b"sec-websocket-version", b"8")]),
        ("GET", "1.1", [*PLAIN[:3], (b"sec-websocket-key", b"short"), PLAIN[4]]),
        ("GET", "1.1", [*PLAIN[:3], (b"sec-websocket-key", b"AAAAAAAAAAAAAAAAAAAAAAAA"), PLAIN[4]]),
        ("GET", "1.1", [*PLAIN, (b"sec-websocket-key", RFC_KEY)]),
        ("GET", "1.1", [*PLAIN, (b"upgrade", b"h2c")]),
        ("GET", "1.1", [*PLAIN, (b"sec-websocket-protocol", b"y-protocol")]),
        ("GET", "1.1", [PLAIN[0], (b"upgrade", b"h2c"), *PLAIN[2:]]),
        ("GET", "1.1", [*PLAIN[:2], (b"connection", b"keep-alive"), *PLAIN[3:]]),
    ],
)
def test_anything_else_takes_the_general_path(
    method: str, version: str, headers: list[tuple[bytes, bytes]]
) -> None:
    assert accept_key(method, version, headers) is None


async def handshake(server: LiveServer, path: str, *fields: str) -> tuple[bytes, bytes]:
    """Send an upgrade request by hand: the response's head, and what follows it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", *fields]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        return head, await asyncio.wait_for(reader.read(4096), 10)
    finally:
        writer.close()


@pytest.fixture
def general(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The requests ``websockets`` itself accepted (the general path)."""
    accepted: list[object] = []
    accept = ServerProtocol.accept

    def counted(self: ServerProtocol, request: Request) -> Response:
        accepted.append(request)
        return accept(self, request)

    monkeypatch.setattr(ServerProtocol, "accept", counted)
    return accepted


async def test_a_plain_upgrade_is_opened_without_websockets_parsing_it(
    server: LiveServer, general: list[object]
) -> None:
    sid = await new_session(server)
    path = f"/sync/session/{sid}/notes?token={server.token}"
    fields = ["Connection: Upgrade", f"Sec-WebSocket-Key: {RFC_KEY.decode()}"]
    head, first = await handshake(server, path, *fields, "Sec-WebSocket-Version: 13")
    assert head.startswith(b"HTTP/1.1 101 ")
    assert f"Sec-WebSocket-Accept: {RFC_ACCEPT}".encode() in head
    assert first[0] == 0x82 and first[1] < 126  # then a binary frame: a y-protocols message
    assert isinstance(p.decode(first[2 : 2 + first[1]]), p.AuthGranted | p.SyncStep1)
    async with PyClient(notes_url(server, sid), server.token) as client:  # offers compression
        await client.synced.wait()
        assert client._ws is not None and client._ws.protocol.extensions == []  # declined
    assert general == []


async def test_a_client_asking_for_a_subprotocol_still_syncs(
    server: LiveServer, general: list[object]
) -> None:
    url = notes_url(server, await new_session(server))
    async with websockets.connect(f"{url}?token={server.token}", subprotocols=["y-protocol"]) as ws:  # type: ignore[list-item]
        message = await asyncio.wait_for(ws.recv(), 10)
        assert isinstance(message, bytes)
        assert isinstance(p.decode(message), p.AuthGranted | p.SyncStep1)
    assert len(general) == 1


async def test_a_bad_version_is_refused_as_websockets_refuses_it(server: LiveServer) -> None:
    sid = await new_session(server)
    path = f"/sync/session/{sid}/notes?token={server.token}"
    fields = ["Connection: Upgrade", f"Sec-WebSocket-Key: {RFC_KEY.decode()}"]
    head, body = await handshake(server, path, *fields, "Sec-WebSocket-Version: 8")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"invalid Sec-WebSocket-Version header: 8" in body  # in websockets' words


async def test_a_path_that_is_not_ascii_gets_an_answer_not_a_dropped_connection(
    server: LiveServer,
) -> None:
    fields = ["Connection: Upgrade", f"Sec-WebSocket-Key: {RFC_KEY.decode()}"]
    head, _ = await handshake(server, "/sync/é", *fields, "Sec-WebSocket-Version: 13")
    assert head.startswith(b"HTTP/1.1 4")


async def test_a_refused_token_is_refused_on_the_plain_path_too(server: LiveServer) -> None:
    url = notes_url(server, await new_session(server))
    with pytest.raises((InvalidStatus, websockets.ConnectionClosed)) as refused:
        bad = f"{url}?token=trace_t_nope_{'x' * 40}"
        async with websockets.connect(bad, compression=None) as ws:  # offers no extension
            await asyncio.wait_for(ws.recv(), 10)
    if isinstance(refused.value, websockets.ConnectionClosed):
        assert refused.value.rcvd is not None and refused.value.rcvd.code == 4401
