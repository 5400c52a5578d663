"""``/sync/<document name>``: authenticate, authorize, then speak y-protocols.

Refusals accept the websocket and close it with a 44xx code: y-websocket
stops reconnecting on those, but retries forever after a refused upgrade.

``/sync/<document name>?watch=1`` is an access watch: the same decision,
told with one "granted" message (y-protocols' auth message type, as
Hocuspocus sends it), then nothing: no content travels either way. It lets a
client that reads a document through a connection of someone else's (the web
app's tabs share one replica per document in their process) know, per
person, whether they may still read it: it is closed exactly when their join
would be.

Access is decided again whenever a service publishes an authority change
that may affect an open connection (see :mod:`trace_sync.services.authority`):
a connection that lost its access is closed (4401 for a revoked token, 4403
otherwise), one that lost its write access keeps reading.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from types import TracebackType

from starlette.websockets import WebSocket, WebSocketDisconnect

from trace_sync.auth.bearer import presented_token
from trace_sync.auth.gate import Gate
from trace_sync.auth.principal import Access, Principal
from trace_sync.contract.errors import CLOSE_CODE, Forbidden, NotFound, TooLarge, TraceError, lookup
from trace_sync.contract.sync_protocol import SyncProtocolError, auth_granted, decode
from trace_sync.docs.names import parse_doc_name
from trace_sync.metrics import Metrics
from trace_sync.services.authority import Authority, AuthorityChanged
from trace_sync.settings import Limits
from trace_sync.sync.awareness import Identity
from trace_sync.sync.limits import (
    ConnectionLimit,
    ConnectionRate,
    DocumentLimit,
    OpenDocuments,
)
from trace_sync.sync.peer import Peer
from trace_sync.sync.room import Room
from trace_sync.sync.rooms import Rooms
from trace_sync.sync.store import DocumentStore
from trace_sync.sync.wire import Frame, close_quietly, sink_for

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Connection:
    """One open socket on one document, and what it may do there now."""

    name: str
    token: str | None
    principal: Principal
    access: Access
    peer: Peer | None = None

    @property
    def session_id(self) -> str | None:
        return parse_doc_name(self.name).session_id


class SyncServer:
    """``async with SyncServer(...) as sync``; mount ``sync.handle`` as a websocket route."""

    def __init__(
        self,
        store: DocumentStore,
        gate: Gate,
        limits: Limits,
        metrics: Metrics,
        room_grace_s: float,
        authority: Authority,
        rate: ConnectionLimit | None = None,
        open_documents: DocumentLimit | None = None,
    ) -> None:
        """``rate`` and ``open_documents``: the limits per token (by default
        counted by this process alone)."""
        self.rooms = Rooms(store, metrics, room_grace_s, limits)
        self._gate = gate
        self._limits = limits
        self._metrics = metrics
        self._rate = rate or ConnectionRate(limits.connections_per_minute)
        self._open = open_documents or OpenDocuments(limits.max_documents_per_token)
        self._connections: set[Connection] = set()
        #: Authority changes seen so far: a join decided before one and open
        #: only after it is decided again (the re-check could not see it).
        self._changes = 0
        self._unsubscribe = authority.subscribe(self.recheck)

    async def __aenter__(self) -> SyncServer:
        await self.rooms.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._unsubscribe()
        await self.rooms.__aexit__(exc_type, exc, tb)

    async def recheck(self, change: AuthorityChanged) -> None:
        """Decide again the access of every open connection ``change`` may affect."""
        self._changes += 1
        affected = [
            c
            for c in self._connections
            if change.may_affect(c.principal.user_id, c.principal.token_id, c.session_id)
        ]
        await asyncio.gather(*(self._reauthorize(c) for c in affected))

    async def _reauthorize(self, connection: Connection) -> None:
        try:
            principal = await self._gate.authenticate(connection.token)
            connection.access = await self._gate.authorize(principal, connection.name)
        except NotFound as exc:  # they knew the document: saying so leaks nothing
            await self._close(connection, Forbidden(f"you no longer have access: {exc}"))
        except TraceError as exc:
            await self._close(connection, exc)

    async def _close(self, connection: Connection, error: TraceError) -> None:
        code = lookup(CLOSE_CODE, error, 1011)
        self._metrics.refusals.labels(code=str(code)).inc()
        who = connection.principal.user_name
        log.warning(
            "sync connection closed: access changed",
            extra={"doc": connection.name, "user": who, "code": code, "reason": str(error)},
        )
        self._connections.discard(connection)
        if connection.peer is not None:
            await connection.peer.close(code, str(error))

    async def handle(self, websocket: WebSocket) -> None:
        name: str = websocket.path_params["name"]
        watch = websocket.query_params.get("watch") == "1"
        await websocket.accept()
        principal: Principal | None = None
        token = presented_token(websocket)
        decided_at = self._changes
        try:
            principal = await self._gate.authenticate(token)
            await self._rate.check(principal.token_id)
            access = await self._gate.authorize(principal, name)
            connection = Connection(name, token, principal, access)
            async with self._open.hold(principal.token_id):
                if watch:
                    await self._watch(websocket, connection, decided_at)
                    return
                room = await self.rooms.acquire(name)
                try:
                    await self._serve(websocket, room, connection, decided_at)
                finally:
                    self.rooms.release(name)
        except TraceError as exc:
            await self._refuse(websocket, exc, name, principal)

    async def _serve(
        self, websocket: WebSocket, room: Room, connection: Connection, decided_at: int
    ) -> None:
        peer = Peer(
            sink_for(websocket),
            max_queued=self._limits.max_queued_frames,
            metrics=self._metrics,
            catch_up=room.catch_up,
        )
        connection.peer = peer
        principal = connection.principal
        room.connect(peer, Identity(principal.user_id, principal.user_name))
        self._connections.add(connection)
        self._metrics.connections.inc()
        try:
            if self._changes != decided_at:
                await self._reauthorize(connection)
            await self._receive(websocket, room, connection, peer)
        finally:
            self._connections.discard(connection)
            self._metrics.connections.dec()
            room.disconnect(peer)
            peer.discard()

    async def _watch(self, websocket: WebSocket, connection: Connection, decided_at: int) -> None:
        """Say "granted" once, then hold the socket until the client goes or the
        access ends (:meth:`recheck` closes it as it closes a join)."""
        peer = connection.peer = Peer(
            sink_for(websocket),
            max_queued=1,
            metrics=self._metrics,
            catch_up=lambda _state: [],  # it is sent nothing to fall behind on
        )
        self._connections.add(connection)
        try:
            if self._changes != decided_at:
                await self._reauthorize(connection)
            if not peer.closed:
                peer.send(Frame(auth_granted(connection.access.write)))
            await self._receive(websocket, None, connection, peer)
        finally:
            self._connections.discard(connection)
            peer.discard()

    async def _receive(
        self, websocket: WebSocket, room: Room | None, connection: Connection, peer: Peer
    ) -> None:
        """Frames into ``room``, until the client goes (a watch has none: it sends nothing)."""
        limit = self._limits.max_frame_bytes
        while not peer.closed:
            try:
                message = await websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect" or peer.closed:
                return  # closed while this frame waited: it is not applied
            frame = message.get("bytes")
            if room is None:
                raise SyncProtocolError("an access watch sends nothing")
            if frame is None:
                raise SyncProtocolError("text frames are not y-protocols messages")
            if len(frame) > limit:
                raise TooLarge(f"frame of {len(frame)} bytes is over the {limit}-byte limit")
            self._metrics.bytes_in.inc(len(frame))
            room.receive(peer, decode(frame), writable=connection.access.write)

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
