"""Sending frames to a client: framed once, written straight to the socket.

Why this reaches below ASGI: a room sends the same message to every receiver,
and a server-to-client websocket frame is unmasked, so its bytes are the same
for all of them. Through ASGI each receiver would pay for its own framing,
two middleware wrappers, uvicorn's state checks and an ``await`` (one task
switch per receiver and message). Here a :class:`Frame` is framed once and,
when uvicorn runs :class:`FramedWebSocketProtocol`, written to each
connection's transport with one synchronous call.

Fallback: under any other server or websocket implementation the connection
scope lacks :data:`DIRECT_SEND`, and :func:`sink_for` returns an
:class:`AsgiSink`, which sends through ``websocket.send_bytes`` as any ASGI
app would. Both sinks keep the same contract, so rooms and peers never know
which one they have.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Protocol
from urllib.parse import unquote

from starlette.websockets import WebSocket, WebSocketState
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.datastructures import Headers
from websockets.http11 import Response
from websockets.protocol import Protocol as SansIOProtocol

from trace_sync.contract.sync_protocol import close_reason

#: The ASGI scope extension under which our uvicorn protocol offers direct sends.
DIRECT_SEND = "trace.direct_send"
#: Where our uvicorn protocol logs: warnings and errors only, unless debugging.
#: uvicorn and websockets log a line at INFO for every socket opened and
#: closed; dropping them in the handler still built each record (2 per join,
#: ~5 % of a join's CPU), a logger above INFO does not.
_QUIET = logging.getLogger("uvicorn.error.sockets")
_QUIET.setLevel(logging.WARNING)
_FIN_BINARY = 0x82


class Frame:
    """One y-protocols message; its websocket framing is built once, when first needed."""

    __slots__ = ("_wire", "message")

    def __init__(self, message: bytes) -> None:
        self.message = message
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        """The message as one final, unmasked binary frame (RFC 6455 §5.2)."""
        if self._wire is None:
            self._wire = frame_header(len(self.message)) + self.message
        return self._wire


def frame_header(size: int) -> bytes:
    if size < 126:
        return bytes((_FIN_BINARY, size))
    if size < 1 << 16:
        return bytes((_FIN_BINARY, 126)) + size.to_bytes(2, "big")
    return bytes((_FIN_BINARY, 127)) + size.to_bytes(8, "big")


class ConnectionGone(Exception):
    """The client's connection closed under a send."""


class Sink(Protocol):
    """Where a peer's frames go."""

    def write_now(self, frame: Frame) -> bool:
        """Send ``frame`` without waiting if the connection can take it now;
        False (nothing sent) if it cannot."""
        ...

    async def send(self, frame: Frame) -> None:
        """Send ``frame``, waiting while the client reads slowly; raises
        :class:`ConnectionGone` if the connection closed."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """Close the connection with ``code`` unless it is closed already."""
        ...


class AsgiSink:
    """Sends through ASGI, as any server runs it (the fallback)."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket

    def write_now(self, frame: Frame) -> bool:
        return False  # an ASGI send is awaited, so the peer's queue always runs it

    async def send(self, frame: Frame) -> None:
        try:
            await self._websocket.send_bytes(frame.message)
        except (OSError, RuntimeError) as exc:
            raise ConnectionGone(str(exc)) from exc

    async def close(self, code: int, reason: str) -> None:
        if self._websocket.application_state == WebSocketState.CONNECTED:
            await close_quietly(self._websocket, code, reason)


class DirectSink(AsgiSink):
    """Writes frames to the transport of a :class:`FramedWebSocketProtocol`
    (closing, which is rare, still goes through ASGI)."""

    def __init__(self, websocket: WebSocket, protocol: FramedWebSocketProtocol) -> None:
        super().__init__(websocket)
        self._protocol = protocol

    def _open(self) -> bool:
        # Frames follow the accepted handshake; once a close frame went either
        # way, uvicorn has set close_sent (ours) or closed the transport
        # (theirs, answered in the same callback).
        protocol = self._protocol
        return (
            protocol.handshake_complete
            and not protocol.close_sent
            and not protocol.transport.is_closing()
        )

    def write_now(self, frame: Frame) -> bool:
        # ``writable`` is cleared by pause_writing once the transport holds more
        # than its high-water mark: then the peer's own queue takes over.
        if not self._protocol.writable.is_set() or not self._open():
            return False
        self._protocol.transport.write(frame.wire)
        return True

    async def send(self, frame: Frame) -> None:
        await self._protocol.writable.wait()  # also set when the connection is lost
        if not self._open():
            raise ConnectionGone("connection closed")
        self._protocol.transport.write(frame.wire)


def sink_for(websocket: WebSocket) -> Sink:
    """The fastest sink the server offers for ``websocket``."""
    protocol = websocket.scope.get("extensions", {}).get(DIRECT_SEND)
    return DirectSink(websocket, protocol) if protocol is not None else AsgiSink(websocket)


async def close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
    """Close with ``code``; a client that is already gone needs no telling."""
    with contextlib.suppress(OSError, RuntimeError):
        await websocket.close(code, close_reason(reason))


class FramedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, offering the app direct sends.

    Frames written directly go to the same transport as uvicorn's own (the
    handshake, pings, the close frame), each as one whole ``write``, so they
    never interleave. Pass it as ``uvicorn.Config(ws=FramedWebSocketProtocol)``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.logger.isEnabledFor(logging.DEBUG):
            self.logger = self.conn.logger = _QUIET

    def upgraded(
        self, raw_path: bytes, query: bytes, headers: list[tuple[bytes, bytes]], accept: str
    ) -> None:
        """Open on a request already checked (:mod:`trace_sync.sync.upgrade`), as
        uvicorn's ``handle_connect`` does after ``websockets`` parsed and accepted it."""
        self.handshake_initiated = True
        # ``send`` replaces the date (with the server's default headers) on accept.
        fields = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", accept),
            ("Date", ""),
        ]
        self.response = Response(101, "Switching Protocols", Headers(fields))
        # The request is read: the connection's parser starts at the first frame.
        self.conn.parser = SansIOProtocol.parse(self.conn)
        next(self.conn.parser)
        path = raw_path.decode("ascii")
        self.scope = {
            "type": "websocket",
            "asgi": {"version": self.asgi_version, "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": self.scheme,
            "server": self.server,
            "client": self.client,
            "root_path": self.root_path,
            "path": self.root_path + (unquote(path) if "%" in path else path),
            "raw_path": self.root_path.encode("ascii") + raw_path,
            "query_string": query,
            "headers": headers,
            "subprotocols": [],
            "state": self.app_state.copy(),
            "extensions": {"websocket.http.response": {}},
        }
        self.queue.put_nowait({"type": "websocket.connect"})
        task = self.loop.create_task(self.run_asgi())
        task.add_done_callback(self.on_task_complete)
        self.tasks.add(task)

    async def run_asgi(self) -> None:
        extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
        extensions[DIRECT_SEND] = self
        await super().run_asgi()
