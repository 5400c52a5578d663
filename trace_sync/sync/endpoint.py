"""``/sync/<document name>``: authenticate, authorize, then speak y-protocols.

Refusals accept the websocket and close it with a 44xx code: y-websocket
stops reconnecting on those, but retries forever after a refused upgrade.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from starlette.websockets import WebSocket, WebSocketDisconnect

from trace_sync.auth.bearer import presented_token
from trace_sync.auth.gate import Gate
from trace_sync.auth.principal import Access, Principal
from trace_sync.errors import CLOSE_CODE, TooLarge, TraceError, lookup
from trace_sync.metrics import Metrics
from trace_sync.settings import Limits
from trace_sync.sync.limits import ConnectionRate, OpenDocuments
from trace_sync.sync.peer import Peer
from trace_sync.sync.protocol import ProtocolError, decode
from trace_sync.sync.room import Room
from trace_sync.sync.rooms import Rooms
from trace_sync.sync.store import DocumentStore
from trace_sync.sync.wire import close_quietly, sink_for

log = logging.getLogger(__name__)


class SyncServer:
    """``async with SyncServer(...) as sync``; mount ``sync.handle`` as a websocket route."""

    def __init__(
        self,
        store: DocumentStore,
        gate: Gate,
        limits: Limits,
        metrics: Metrics,
        room_grace_s: float,
    ) -> None:
        self.rooms = Rooms(store, metrics, room_grace_s)
        self._gate = gate
        self._limits = limits
        self._metrics = metrics
        self._rate = ConnectionRate(limits.connections_per_minute)
        self._open = OpenDocuments(limits.max_documents_per_token)

    async def __aenter__(self) -> SyncServer:
        await self.rooms.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rooms.__aexit__(exc_type, exc, tb)

    async def handle(self, websocket: WebSocket) -> None:
        name: str = websocket.path_params["name"]
        await websocket.accept()
        principal: Principal | None = None
        try:
            principal = await self._gate.authenticate(presented_token(websocket))
            self._rate.check(principal.token_id)
            access = await self._gate.authorize(principal, name)
            with self._open.hold(principal.token_id):
                room = await self.rooms.acquire(name)
                try:
                    await self._serve(websocket, room, access)
                finally:
                    self.rooms.release(name)
        except TraceError as exc:
            await self._refuse(websocket, exc, name, principal)

    async def _serve(self, websocket: WebSocket, room: Room, access: Access) -> None:
        peer = Peer(
            sink_for(websocket),
            max_queued=self._limits.max_queued_frames,
            metrics=self._metrics,
            catch_up=room.catch_up,
        )
        sender = asyncio.create_task(peer.run())
        room.connect(peer)
        self._metrics.connections.inc()
        try:
            await self._receive(websocket, room, peer, access)
        finally:
            self._metrics.connections.dec()
            room.disconnect(peer)
            peer.discard()
            sender.cancel()

    async def _receive(self, websocket: WebSocket, room: Room, peer: Peer, access: Access) -> None:
        limit = self._limits.max_frame_bytes
        while not peer.closed:
            try:
                message = await websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            frame = message.get("bytes")
            if frame is None:
                raise ProtocolError("text frames are not y-protocols messages")
            if len(frame) > limit:
                raise TooLarge(f"frame of {len(frame)} bytes is over the {limit}-byte limit")
            self._metrics.bytes_in.inc(len(frame))
            room.receive(peer, decode(frame), frame, writable=access.write)

    async def _refuse(
        self, websocket: WebSocket, error: TraceError, name: str, principal: Principal | None
    ) -> None:
        code = lookup(CLOSE_CODE, error, 1011)
        self._metrics.refusals.labels(code=str(code)).inc()
        who = principal.user_name if principal else None
        log.warning(
            "sync connection refused",
            extra={"doc": name, "user": who, "code": code, "reason": str(error)},
        )
        await close_quietly(websocket, code, str(error))
