"""``/bridge``: the control socket of bridges, a thin shell over :class:`ControlService`.

Only runtime tokens connect (4401 for a missing or bad token, 4403 for any
other token). The first message must be ``hello``; the server answers
``welcome``. Refusals send an ``error`` message, then close with its code:
4400 malformed frame, 4408 silent past the lease, 4409 taken over by a newer
connection of the same runtime. A bridge that closes with 1000 is leaving on
purpose (its sessions stop with it); any other loss waits for the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect

from trace_sync.auth.bearer import presented_token
from trace_sync.auth.gate import Gate
from trace_sync.errors import CLOSE_CODE, Forbidden, InvalidInput, TooLarge, TraceError, lookup
from trace_sync.runtime.protocol import (
    PROTOCOL,
    ErrorMessage,
    Event,
    Heartbeat,
    Hello,
    ProtocolError,
    Reply,
    ServerMessage,
    Unknown,
    encode,
    parse_bridge_message,
)
from trace_sync.services.bridge_control import ControlService
from trace_sync.services.broker import Link
from trace_sync.store.records import TokenKind
from trace_sync.sync.protocol import close_reason

log = logging.getLogger(__name__)

NORMAL_CLOSURE = 1000


class WebSocketChannel:
    """A :class:`trace_sync.services.broker.Channel` over a Starlette websocket."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket
        self._lock = asyncio.Lock()  # one frame at a time, whoever sends

    async def send(self, message: ServerMessage) -> None:
        async with self._lock:
            try:
                await self._websocket.send_text(encode(message))
            except WebSocketDisconnect as exc:
                raise ConnectionError("the bridge disconnected") from exc

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            await self.send(ErrorMessage(code=code, message=reason))
        with contextlib.suppress(OSError, RuntimeError):
            await self._websocket.close(code, close_reason(reason))


class BridgeSocket:
    def __init__(
        self, gate: Gate, control: ControlService, *, max_frame_bytes: int, hello_within_s: float
    ) -> None:
        self._gate = gate
        self._control = control
        self._limit = max_frame_bytes
        self._hello_within_s = hello_within_s

    async def handle(self, websocket: WebSocket) -> None:
        await websocket.accept()
        channel = WebSocketChannel(websocket)
        try:
            link = await self._open(websocket, channel)
        except TraceError as exc:
            await self._refuse(channel, exc)
            return
        on_purpose = False
        try:
            on_purpose = await self._receive(websocket, link)
        except TraceError as exc:
            await self._refuse(channel, exc)
        finally:
            await self._control.closed(link, on_purpose=on_purpose)

    async def _open(self, websocket: WebSocket, channel: WebSocketChannel) -> Link:
        principal = await self._gate.authenticate(presented_token(websocket))
        if principal.kind is not TokenKind.RUNTIME:
            raise Forbidden("only runtime tokens connect here: register with POST /api/runtimes")
        try:
            hello = await asyncio.wait_for(self._frame(websocket), self._hello_within_s)
        except TimeoutError as exc:
            raise InvalidInput(f"no hello within {self._hello_within_s:g} s") from exc
        if not isinstance(hello, Hello):
            raise ProtocolError("the first message must be hello")
        if hello.protocol != PROTOCOL:
            raise ProtocolError(f"protocol {hello.protocol} is not spoken here (only {PROTOCOL})")
        return await self._control.hello(principal.runtime_id, hello, channel)

    async def _receive(self, websocket: WebSocket, link: Link) -> bool:
        """Dispatch messages until the socket closes; True if the bridge closed it on purpose."""
        while True:
            try:
                message = await self._frame(websocket)
            except WebSocketDisconnect as exc:
                return exc.code == NORMAL_CLOSURE
            if isinstance(message, Heartbeat):
                await self._control.heartbeat(link, message)
            elif isinstance(message, Reply):
                self._control.reply(link, message)
            elif isinstance(message, Event):
                self._control.event(link, message)
            else:
                kind = message.type if isinstance(message, Unknown) else "hello"
                log.info("ignored bridge message", extra={"type": kind})

    async def _frame(self, websocket: WebSocket) -> Hello | Heartbeat | Reply | Event | Unknown:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        text = message.get("text")
        if text is None:
            raise ProtocolError("control messages are JSON text frames")
        if len(text) > self._limit:
            raise TooLarge(f"frame of {len(text)} characters is over the {self._limit} limit")
        return parse_bridge_message(text)

    async def _refuse(self, channel: WebSocketChannel, error: TraceError) -> None:
        code = lookup(CLOSE_CODE, error, 1011)
        log.warning("bridge connection refused", extra={"code": code, "reason": str(error)})
        await channel.close(code, str(error))
