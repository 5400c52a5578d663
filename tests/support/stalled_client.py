"""A client that joins a document and then stops reading its socket.

Library clients keep reading into their own buffers; this one uses
websockets' sans-io protocol over a raw socket with a tiny receive buffer,
so the server really sees a reader that has stalled.
"""

from __future__ import annotations

import asyncio
import socket

from pycrdt import Doc
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

from tests.support.state import same_state
from trace_sync.contract import sync_protocol as p


class StalledClient:
    def __init__(self, url: str) -> None:
        self._protocol = ClientProtocol(parse_uri(url), max_size=None)
        self._url = url
        self.sock = socket.socket()
        self.doc = Doc()
        #: Document updates in the order they arrived.
        self.updates_received: list[bytes] = []

    async def join(self) -> None:
        """Handshake, send sync step 1 (joining broadcasts), then read nothing more."""
        host, port = self._url.split("//")[1].split("/")[0].split(":")
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        self.sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(self.sock, (host, int(port)))
        self._protocol.send_request(self._protocol.connect())
        await self._flush()
        while self._protocol.handshake_exc is None and not self._handshaken():
            self._protocol.receive_data(await loop.sock_recv(self.sock, 4096))
        self._protocol.send_binary(p.sync_step1(b"\x00"))
        await self._flush()

    def _handshaken(self) -> bool:
        return any(not isinstance(e, Frame) for e in self._protocol.events_received())

    async def catch_up(self, until: Doc, within: float = 200.0, silent: float = 30.0) -> None:
        """Read again until this replica equals ``until``; fail if the server closes
        the connection or is silent for ``silent`` s (stuck). ``within`` bounds the
        whole under pytest's 300 s: on a loaded machine 9 MB of backlog take minutes.
        The server must not ping it (``serve(..., keepalive=False)``): it answers
        nothing while it stalls."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not same_state(self.doc, until):
            if loop.time() > deadline:
                raise AssertionError(f"the stalled client never caught up in {within} s")
            data = await asyncio.wait_for(loop.sock_recv(self.sock, 1 << 20), silent)
            if not data:
                raise AssertionError("the server closed the stalled client's connection")
            self._protocol.receive_data(data)
            for event in self._protocol.events_received():
                if isinstance(event, Frame) and event.opcode is Opcode.BINARY:
                    self._apply(p.decode(event.data))

    def _apply(self, message: p.Message) -> None:
        if isinstance(message, p.SyncStep2 | p.Update):
            self.updates_received.append(message.update)
            self.doc.apply_update(message.update)

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        for data in self._protocol.data_to_send():
            await loop.sock_sendall(self.sock, data)

    def close(self) -> None:
        self.sock.close()

    async def __aenter__(self) -> StalledClient:
        await self.join()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.close()
