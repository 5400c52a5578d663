"""Live previews: a session's dev server, reached through Trace over its bridge.

A writer declares the port (``session/<sid>`` root ``preview``); anyone who
may read the session asks for its URL, ``<base>/preview/<sid>/<grant>/``, where
the grant is signed by the server for that reader and session and expires.
Previewed pages run on Trace's own origin, so the grant in the path, not the
sign-in cookie, admits their requests: the proxy answers with a CSP sandbox
that gives the page an opaque origin, and the cookie (SameSite=Strict,
HttpOnly) never reaches the page or the app. Every request re-checks that the
reader still sees the session and that it is not archived; the bridge then
connects only to a loopback port a process of the session listens on.

Websockets are channels: frames from the browser go as ``preview_ws_send``
requests, frames from the app come back as ``preview.ws_frame`` events to
the channel's queue here. In a cluster the browser's process may not be the
bridge's: a channel's id names the process that opened it, and the bridge's
process hands it the events of that channel, in order (the broker's
:meth:`~trace_sync.services.bridges.broker.Broker.hand_over`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from datetime import UTC, datetime
from typing import Any

from trace_sync.auth.principal import Principal
from trace_sync.contract.bridge_protocol import Event
from trace_sync.contract.errors import Conflict, InvalidInput, NotFound
from trace_sync.contract.session_status import SessionStatus
from trace_sync.docs import typed
from trace_sync.docs.entries import PreviewEntry
from trace_sync.docs.layouts import SESSION
from trace_sync.services.access import require_writer, visible_session
from trace_sync.services.bridges.broker import Broker
from trace_sync.services.documents import SERVICES, Documents, event, session_doc
from trace_sync.services.server_secret import ServerSecret
from trace_sync.store import Store
from trace_sync.store.ids import new_id
from trace_sync.store.records import SessionRow, TokenKind

#: How long a preview URL admits its reader (they ask again for a new one).
GRANT_S = 12 * 3600
#: Frames from the app waiting for a slow browser before the channel closes.
MAX_QUEUED = 256


#: How often a channel waiting for the app checks that its bridge is still connected
#: somewhere (the process holding it ends its own channels when it goes).
CHECK_S = 5.0


class PreviewSocket:
    """One proxied websocket: the app's frames, then ``None`` when it closed."""

    def __init__(self, runtime_id: str, session_id: str, process: str = "") -> None:
        self.id = new_id("pw") + (f"@{process}" if process else "")
        self.runtime_id = runtime_id
        self.session_id = session_id
        self.frames: asyncio.Queue[str | bytes | None] = asyncio.Queue(MAX_QUEUED)


class PreviewService:
    def __init__(
        self,
        store: Store,
        documents: Documents,
        broker: Broker,
        secret: ServerSecret,
        base: str,
        request_s: float,
    ) -> None:
        #: The bridge gives up on the app first, so the browser gets a 504, not a 502.
        self._app_s = max(request_s * 0.75, 0.5)
        self._store = store
        self._documents = documents
        self._broker = broker
        self._secret = secret
        self._base = base.rstrip("/")
        self._channels: dict[str, PreviewSocket] = {}

    # -- declaring and showing ---------------------------------------------------------

    async def declare(self, actor: Principal, session_id: str, port: int) -> dict[str, Any]:
        session, role = await visible_session(self._store, session_id, actor)
        require_writer(role, "declaring a preview")
        if not 1 <= port <= 65535:
            raise InvalidInput("a port is 1-65535")
        entry = PreviewEntry(port=port, declared_by=actor.user_id, declared_at=_now())
        async with self._documents.document(session_doc(session.id)) as doc:
            typed.put_fields(doc, SESSION, "preview", entry, origin=SERVICES)
            change = event(actor.user_id, "preview.declared", port=port)
            typed.append(doc, SESSION, "timeline", change, origin=SERVICES)
        return self._shown(session.id, entry, actor.user_id)

    async def show(self, actor: Principal, session_id: str) -> dict[str, Any]:
        """The declared port and the caller's own URL for it."""
        session, _ = await visible_session(self._store, session_id, actor)
        entry = await self._declared(session.id)
        if entry is None:
            raise NotFound(f"session {session_id} has no preview; declare its port first")
        return self._shown(session.id, entry, actor.user_id)

    async def ports(self, actor: Principal, session_id: str) -> list[int]:
        """The ports the session's processes listen on now (on loopback or all addresses)."""
        session, _ = await visible_session(self._store, session_id, actor)
        found = await self._ask(session, "preview_ports")
        return [int(p) for p in found.get("ports", [])] if isinstance(found, dict) else []

    def _shown(self, session_id: str, entry: PreviewEntry, user_id: str) -> dict[str, Any]:
        expires = int(time.time()) + GRANT_S
        url = f"{self._base}/preview/{session_id}/{self._grant(session_id, user_id, expires)}/"
        return {
            "port": entry.port,
            "url": url,
            "expires_at": datetime.fromtimestamp(expires, UTC).isoformat(),
            "declared_by": entry.declared_by,
        }

    async def _declared(self, session_id: str) -> PreviewEntry | None:
        async with self._documents.document(session_doc(session_id)) as doc:
            found = typed.read_fields(doc, SESSION, "preview", PreviewEntry)
        return found if isinstance(found, PreviewEntry) else None

    # -- admitting a proxied request ---------------------------------------------------

    def _grant(self, session_id: str, user_id: str, expires: int) -> str:
        signature = self._secret.sign(f"preview|{session_id}|{user_id}|{expires}")
        return f"{user_id}.{expires}.{signature}"

    async def admit(self, session_id: str, grant: str) -> tuple[SessionRow, int]:
        """The session and its preview port, if ``grant`` admits its reader now;
        ``NotFound`` otherwise (a stranger learns nothing), ``Conflict`` if it ended."""
        user_id, _, rest = grant.partition(".")
        expires, _, signature = rest.partition(".")
        signed = expires.isdigit() and self._secret.verify(
            f"preview|{session_id}|{user_id}|{expires}", signature
        )
        if not signed or int(expires) < time.time():
            raise NotFound("no such preview (the link is wrong or expired; ask for it again)")
        reader = Principal(user_id=user_id, user_name="", token_id="", kind=TokenKind.USER)
        session, _ = await visible_session(self._store, session_id, reader)
        if session.status == SessionStatus.ARCHIVED.value:
            raise Conflict(f"session {session_id} has ended; its preview with it")
        entry = await self._declared(session.id)
        if entry is None:
            raise NotFound(f"session {session_id} has no preview")
        return session, entry.port

    # -- proxying ----------------------------------------------------------------------

    async def http(self, session: SessionRow, port: int, **args: Any) -> dict[str, Any]:
        answer = await self._ask(session, "preview_http", port=port, timeout=self._app_s, **args)
        return answer if isinstance(answer, dict) else {}

    async def open(self, session: SessionRow, port: int, **args: Any) -> tuple[PreviewSocket, Any]:
        """A websocket to the app; ``(channel, the bridge's answer)`` (a ``failure`` in
        the answer means none opened)."""
        if session.runtime_id is None:
            raise Conflict(f"runtime unavailable: no runtime hosts session {session.id}")
        channel = PreviewSocket(session.runtime_id, session.id, self._broker.process)
        self._channels[channel.id] = channel
        try:
            answer = await self._ask(
                session,
                "preview_ws_open",
                port=port,
                channel=channel.id,
                timeout=self._app_s,
                **args,
            )
        except BaseException:
            self._channels.pop(channel.id, None)
            raise
        if not isinstance(answer, dict) or "failure" in answer:
            self._channels.pop(channel.id, None)
        return channel, answer

    async def send(self, channel: PreviewSocket, frame: str | bytes) -> None:
        args: dict[str, Any] = {"channel": channel.id}
        if isinstance(frame, str):
            args["text"] = frame
        else:
            args["data"] = base64.b64encode(frame).decode()
        await self._broker.request(channel.runtime_id, "preview_ws_send", channel.session_id, args)

    async def next_frame(self, channel: PreviewSocket) -> str | bytes | None:
        """The app's next frame; None once the channel ended, or its bridge is
        connected nowhere (it went while connected to another process)."""
        while True:
            try:
                return await asyncio.wait_for(channel.frames.get(), CHECK_S)
            except TimeoutError:
                if not await self._broker.connected(channel.runtime_id):
                    self._end(channel)

    async def close(self, channel: PreviewSocket) -> None:
        """The browser left: the bridge closes the app's side."""
        if self._channels.pop(channel.id, None) is None:
            return
        with contextlib.suppress(Conflict):  # the bridge is gone, and the app's socket with it
            await self._broker.request(
                channel.runtime_id, "preview_ws_close", channel.session_id, {"channel": channel.id}
            )

    def event(self, runtime_id: str, message: Event) -> None:
        """A ``preview.*`` event from a bridge: a frame for a channel, or its end."""
        channel_id = str(message.payload.get("channel", ""))
        channel = self._channels.get(channel_id)
        if channel is None:  # opened through another process: handed to it
            self._broker.hand_over(channel_id.partition("@")[2], runtime_id, message)
            return
        if (channel.runtime_id, channel.session_id) != (
            runtime_id,
            message.session_id,
        ):
            return
        if message.kind == "preview.ws_closed":
            self._end(channel)
            return
        frame = _frame(message.payload)
        if frame is None:
            return
        try:
            channel.frames.put_nowait(frame)
        except asyncio.QueueFull:  # the browser does not keep up: it gets a close
            self._end(channel)

    def forget(self, runtime_id: str) -> None:
        """The runtime's connection closed: its channels end (browsers see a close)."""
        for channel in [c for c in self._channels.values() if c.runtime_id == runtime_id]:
            self._end(channel)

    def _end(self, channel: PreviewSocket) -> None:
        self._channels.pop(channel.id, None)
        while channel.frames.full():
            channel.frames.get_nowait()
        channel.frames.put_nowait(None)

    async def _ask(self, session: SessionRow, op: str, **args: Any) -> Any:
        if session.runtime_id is None:
            raise Conflict(f"runtime unavailable: no runtime hosts session {session.id}")
        return await self._broker.request(session.runtime_id, op, session.id, args)


def _frame(payload: dict[str, Any]) -> str | bytes | None:
    if isinstance(payload.get("text"), str):
        return str(payload["text"])
    if isinstance(payload.get("data"), str):
        try:
            return base64.b64decode(payload["data"])
        except ValueError:
            return None
    return None


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
