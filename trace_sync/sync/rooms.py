"""Loaded rooms: de-duplicated loads, reference counts, unloading when idle.

In-process observers (the services' io observer) subscribe with
:meth:`Rooms.on_change`, Hocuspocus-style: a typed hook, one payload each.
A hook sees the changes that entered through this process (and each load),
never those another cluster member stored and passed on: that member's hooks
took them in, and taking them in here too would write their effects twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from pycrdt import Doc

from trace_sync.contract.errors import CLOSE_CODE, TraceError, lookup
from trace_sync.contract.sync_protocol import KEEPALIVE
from trace_sync.metrics import Metrics
from trace_sync.settings import Limits
from trace_sync.sync.awareness import PresenceSharing
from trace_sync.sync.room import Room
from trace_sync.sync.store import DocumentStore, Replication
from trace_sync.sync.wire import Frame

log = logging.getLogger(__name__)

#: A connection sent nothing for this long gets a keepalive frame
#: (y-websocket closes a socket that is silent for 30 s).
KEEPALIVE_AFTER_S = 15.0
_KEEPALIVE = Frame(KEEPALIVE)


@dataclass(frozen=True)
class DocumentChanged:
    """Payload of the ``on_change`` hook: a loaded document changed."""

    name: str
    doc: Doc[Any]
    #: True for the one call made right after the document was loaded from the store.
    loaded: bool = False


class ChangeHook(Protocol):
    def __call__(self, change: DocumentChanged) -> None:
        """Called inside the change's transaction: read, schedule work, never block."""
        ...


class Rooms:
    """``async with Rooms(...) as rooms``; leaving closes every connection (1001)."""

    def __init__(
        self, store: DocumentStore, metrics: Metrics, grace_s: float, limits: Limits | None = None
    ) -> None:
        self._store = store
        self._limits = limits
        self._metrics = metrics
        self._grace_s = grace_s
        self._rooms: dict[str, Room] = {}
        self._loading: dict[str, asyncio.Task[Room]] = {}
        self._users: dict[str, int] = {}
        self._unload_timers: dict[str, asyncio.TimerHandle] = {}
        self._keepalive: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._hooks: list[ChangeHook] = []
        self._hooked: dict[str, Any] = {}
        self._replication: Replication | None = None
        self._presence: PresenceSharing | None = None

    def replicate(self, replication: Replication) -> None:
        """Share rooms opened from now on with other server processes (cluster mode)."""
        self._replication = replication

    def share_presence(self, presence: PresenceSharing) -> None:
        """Share presence in rooms opened from now on with other server processes."""
        self._presence = presence

    def on_change(self, hook: ChangeHook) -> None:
        """Call ``hook`` whenever a document loaded from now on changes (and once on load)."""
        self._hooks.append(hook)

    async def __aenter__(self) -> Rooms:
        self._keepalive = asyncio.create_task(self._keep_alive(), name="sync-keepalive")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._keepalive:
            self._keepalive.cancel()
        for timer in self._unload_timers.values():
            timer.cancel()
        for room in list(self._rooms.values()):
            await asyncio.gather(*(p.close(1001, "server shutting down") for p in room.connections))
            self._drop(room)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def get(self, name: str) -> Room | None:
        return self._rooms.get(name)

    async def acquire(self, name: str) -> Room:
        """The loaded room for ``name`` (loading it once however many ask at once)."""
        self._users[name] = self._users.get(name, 0) + 1
        timer = self._unload_timers.pop(name, None)
        if timer:
            timer.cancel()
        try:
            return self._rooms.get(name) or await self._load(name)
        except BaseException:
            self.release(name)
            raise

    def release(self, name: str) -> None:
        self._users[name] -= 1
        if self._users[name] == 0:
            del self._users[name]
            loop = asyncio.get_running_loop()
            self._unload_timers[name] = loop.call_later(self._grace_s, self._unload, name)

    @asynccontextmanager
    async def open(self, name: str) -> AsyncIterator[Room]:
        """Hold a room for an in-process writer (a service)."""
        room = await self.acquire(name)
        try:
            yield room
        finally:
            self.release(name)

    @asynccontextmanager
    async def document(self, name: str) -> AsyncIterator[Doc[Any]]:
        """The room's document, for services (``services.documents.Documents``)."""
        async with self.open(name) as room:
            yield room.doc

    async def _load(self, name: str) -> Room:
        task = self._loading.get(name)
        if task is None:
            task = asyncio.create_task(self._create(name))
            self._loading[name] = task
            task.add_done_callback(lambda _: self._loading.pop(name, None))
        return await asyncio.shield(task)

    async def _create(self, name: str) -> Room:
        replication = self._replication
        committed = replication.committed if replication else None
        room = Room(
            name, self._store, self._metrics, self._fail, self._limits, committed, self._presence
        )
        # Marked before loading: what lands in between comes twice, harmlessly.
        since = await replication.mark(name) if replication else ""
        await room.load()
        if replication:
            replication.follow(room, since)
        if self._presence:
            self._presence.follow(room)
        self._rooms[name] = room
        if self._hooks:
            self._hooked[name] = room.doc.observe(lambda _: self._changed(room))
            self._notify(room, loaded=True)
        self._metrics.rooms.set(len(self._rooms))
        return room

    def _unload(self, name: str) -> None:
        self._unload_timers.pop(name, None)
        room = self._rooms.get(name)
        if room is not None and name not in self._users:
            self._drop(room)

    def _changed(self, room: Room) -> None:
        if not room.applying_remote:  # another process's hooks took it in
            self._notify(room, loaded=False)

    def _notify(self, room: Room, *, loaded: bool) -> None:
        change = DocumentChanged(room.name, room.doc, loaded)
        for hook in self._hooks:
            try:
                hook(change)
            except Exception:  # a broken observer must not break syncing; it is logged
                log.exception("change hook failed", extra={"doc": room.name})

    def _drop(self, room: Room) -> None:
        if self._rooms.get(room.name) is room:
            del self._rooms[room.name]
            if self._replication:
                self._replication.unfollow(room.name)
            if self._presence:
                self._presence.unfollow(room.name)
            subscription = self._hooked.pop(room.name, None)
            if subscription is not None:
                room.doc.unobserve(subscription)
        room.close()
        self._metrics.rooms.set(len(self._rooms))

    def _fail(self, room: Room, error: TraceError) -> None:
        """The store refused a write: drop the room and close its clients, who
        keep their state and resync on reconnect against what the store holds."""
        self._drop(room)
        code = lookup(CLOSE_CODE, error, 1011)
        for peer in list(room.connections):
            task = asyncio.create_task(peer.close(code, "store unavailable; reconnect"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_AFTER_S / 3)
            now = asyncio.get_running_loop().time()
            for room in self._rooms.values():
                for peer in room.connections:
                    if now - peer.last_sent > KEEPALIVE_AFTER_S:
                        peer.send(_KEEPALIVE)
