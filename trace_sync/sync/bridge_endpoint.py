"""``/bridge``: the control socket of bridges, a thin shell over :class:`BridgeControl`.

Only runtime tokens connect (4401 for a missing or bad token, 4403 for any
other token). The first message must be ``hello``; the server answers
``welcome``. Refusals send an ``error`` message, then close with its code:
4400 malformed frame, 4408 silent past the lease, 4409 taken over by a newer
connection of the same runtime. A bridge that closes with 1000 is leaving on
purpose (its sessions stop with it); any other loss waits for the lease.
A runtime whose token is revoked while connected is closed with 4401 (an
authority change, see :mod:`trace_sync.services.authority`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect

from trace_sync.auth.bearer import presented_token
from trace_sync.auth.gate import Gate
from trace_sync.auth.principal import Principal
from trace_sync.contract.bridge_protocol import (
    PROTOCOL,
    BridgeProtocolError,
    ErrorMessage,
    Event,
    Heartbeat,
    Hello,
    Reply,
    ServerMessage,
    Unknown,
    encode,
    parse_bridge_message,
)
from trace_sync.contract.errors import (
    CLOSE_CODE,
    Forbidden,
    InvalidInput,
    TooLarge,
    TraceError,
    lookup,
)
from trace_sync.contract.sync_protocol import close_reason
from trace_sync.services.authority import Authority, AuthorityChanged
from trace_sync.services.bridges.broker import Link
from trace_sync.services.bridges.control import BridgeControl
from trace_sync.store.records import TokenKind

log = logging.getLogger(__name__)

NORMAL_CLOSURE = 1000


class WebSocketChannel:
    """A :class:`trace_sync.services.bridges.broker.Channel` over a Starlette websocket."""

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
        self,
        gate: Gate,
        control: BridgeControl,
        *,
        max_frame_bytes: int,
        hello_within_s: float,
        authority: Authority,
    ) -> None:
        self._gate = gate
        self._control = control
        self._limit = max_frame_bytes
        self._hello_within_s = hello_within_s
        self._authority = authority

    async def handle(self, websocket: WebSocket) -> None:
        await websocket.accept()
        channel = WebSocketChannel(websocket)
        token = presented_token(websocket)
        try:
            principal = await self._gate.authenticate(token)
            link = await self._open(websocket, principal, channel)
        except TraceError as exc:
            await self._refuse(channel, exc)
            return

        async def recheck(change: AuthorityChanged) -> None:
            if change.may_affect(principal.user_id, principal.token_id, None):
                try:
                    await self._gate.authenticate(token)
                except TraceError as exc:
                    await self._refuse(channel, exc)

        unsubscribe = self._authority.subscribe(recheck)
        on_purpose = False
        try:
            on_purpose = await self._receive(websocket, link)
        except TraceError as exc:
            await self._refuse(channel, exc)
        finally:
            unsubscribe()
            await self._control.closed(link, on_purpose=on_purpose)

    async def _open(
        self, websocket: WebSocket, principal: Principal, channel: WebSocketChannel
    ) -> Link:
        if principal.kind is not TokenKind.RUNTIME:
            raise Forbidden("only runtime tokens connect here: register with POST /api/runtimes")
        try:
            hello = await asyncio.wait_for(self._frame(websocket), self._hello_within_s)
        except TimeoutError as exc:
            raise InvalidInput(f"no hello within {self._hello_within_s:g} s") from exc
        if not isinstance(hello, Hello):
            raise BridgeProtocolError("the first message must be hello")
        if hello.protocol != PROTOCOL:
            raise BridgeProtocolError(
                f"protocol {hello.protocol} is not spoken here (only {PROTOCOL})"
            )
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
            raise BridgeProtocolError("control messages are JSON text frames")
        if len(text) > self._limit:
            raise TooLarge(f"frame of {len(text)} characters is over the {self._limit} limit")
        return parse_bridge_message(text)

    async def _refuse(self, channel: WebSocketChannel, error: TraceError) -> None:
        code = lookup(CLOSE_CODE, error, 1011)
        log.warning("bridge connection refused", extra={"code": code, "reason": str(error)})
        await channel.close(code, str(error))
