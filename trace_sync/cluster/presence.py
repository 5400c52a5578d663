"""Presence (awareness) between server processes: Redis pub/sub, nothing stored.

Each open room listens on ``<prefix>presence:doc:<name>``. What a local
connection's presence relays is published there (``set``), and so is its
leaving (``gone``); the other processes apply it as the presence of a
connection of theirs, under the same rules, keyed by (process, connection).
Once a subscription is confirmed (a room opened, or Redis came back) the
process publishes all of its presence in the room and asks for the others'
(``all`` with ``ask``); every process with the room open answers with all of
its own (``all``), which also drops what the receiver shows of it that is gone.
Whichever of two processes subscribes last, one of them hears the other ask.

Liveness: every process beats on ``<prefix>presence:beats`` each :data:`BEAT_S`
and says ``bye`` when it shuts down. A process whose beats lapse for
:data:`LAPSE_S` (killed, hung, or cut off from Redis) loses its presence on
the others (and ``on_lapse`` is told: the documents reload what it may have
committed and not published); when it is heard again they ask for it. Lapses are measured
against this process hearing its own beats, so a listener that is itself
cut off or stalled shows nothing new rather than dropping everyone; a
subscription that brings no beat of its own back for :data:`SILENT_S` (a
connection that hangs without closing) is given up and made again.

Nothing is stored in Redis, so a flush changes nothing and a restart only
drops messages; the pub/sub client resubscribes, and every resubscription
asks again. A publish that failed is made good by publishing all of this
process's presence once Redis answers.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import secrets
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any

from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as ConnectionLost
from redis.exceptions import RedisError

from trace_sync.cluster.cancelling import stop_if_cancelled
from trace_sync.cluster.redis_link import RedisLink
from trace_sync.contract import sync_protocol as p
from trace_sync.contract.errors import TraceError
from trace_sync.sync.awareness import Identity, PresenceReplica

log = logging.getLogger(__name__)

#: How often each process says it is alive.
BEAT_S = 1.0
#: Silence after which a process's presence is dropped (three beats missed).
LAPSE_S = 3.0
#: Longest a listen waits; a room opened meanwhile subscribes after at most this.
POLL_S = 0.1
#: A subscription that has not brought this process's own beat back for this
#: long is given up and made again (a connection that hangs without closing).
SILENT_S = 5.0
#: Longest one Redis call may take (connecting, or a publish to a wedged Redis).
CALL_TIMEOUT_S = 5.0
#: Pause before listening again after an error.
RETRY_S = 0.5
#: Messages waiting to be published; beyond it they are dropped, and all of
#: this process's presence is published again once Redis takes messages.
MAX_OUTBOX = 10_000

#: A connection on another process: (its process's origin, its number there).
Owner = tuple[str, int]


class PresenceChannel:
    """``async with PresenceChannel(link) as presence``; give it to ``Rooms.share_presence``.
    ``on_lapse`` is told whenever another process lapses (killed, hung or cut off)."""

    def __init__(self, link: RedisLink, on_lapse: Callable[[], None] = lambda: None) -> None:
        # No retries inside the client: a failed publish is made good by the next
        # announcement, a failed listen by resubscribing, both without waiting.
        self._redis = link.open(
            call_timeout_s=CALL_TIMEOUT_S,
            connect_timeout_s=CALL_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),
        )
        #: Each room's channel is this and its name.
        self._rooms_channel = link.name("presence:doc:")
        self._beats = link.name("presence:beats")
        self._origin = secrets.token_hex(8)
        self._rooms: dict[str, PresenceReplica] = {}
        #: Rooms whose subscription changed since the listener last looked.
        self._rooms_changed = True
        #: Rooms that ask for the others' presence once their subscription is confirmed.
        self._asking: set[str] = set()
        #: Other processes' connections with presence here, per room.
        self._remote: dict[str, set[Owner]] = {}
        #: When each other process was last heard (``time.monotonic()``).
        self._heard: dict[str, float] = {}
        self._lapsed: set[str] = set()
        self._on_lapse = on_lapse
        #: When this process last heard its own beat.
        self._echo = time.monotonic()
        self._numbers: weakref.WeakKeyDictionary[Hashable, int] = weakref.WeakKeyDictionary()
        self._count = itertools.count(1)
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(MAX_OUTBOX)
        self._lost = False
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> PresenceChannel:
        self._tasks = [
            asyncio.create_task(self._listen(), name="presence-listen"),
            asyncio.create_task(self._publish(), name="presence-publish"),
            asyncio.create_task(self._beat(), name="presence-beat"),
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:  # the others drop our presence now rather than after a lapse
            await asyncio.wait_for(self._redis.publish(self._beats, self._body("bye")), RETRY_S)
        except (RedisError, TimeoutError):
            log.warning("Redis unreachable at shutdown: presence lapses on the others")
        await self._redis.aclose()

    # -- sharing (called by sync.rooms and sync.room) ---------------------------

    def follow(self, room: PresenceReplica) -> None:
        self._rooms[room.name] = room
        self._remote[room.name] = set()
        self._asking.add(room.name)
        self._rooms_changed = True

    def unfollow(self, name: str) -> None:
        self._rooms.pop(name, None)
        self._remote.pop(name, None)
        self._asking.discard(name)
        self._rooms_changed = True

    def changed(self, name: str, owner: Hashable, identity: Identity, message: bytes) -> None:
        self._send(self._key(name), self._body("set", **self._part(owner, identity, message)))

    def gone(self, name: str, owner: Hashable) -> None:
        self._send(self._key(name), self._body("gone", c=self._number(owner)))

    def _announce(self, name: str, *, ask: bool = False) -> None:
        """Publish all of this process's presence in ``name``; ``ask`` for the others'."""
        room = self._rooms.get(name)
        if room is not None:
            parts = [self._part(*local) for local in room.local_presence()]
            self._send(self._key(name), self._body("all", o=parts, ask=ask))

    def _ask(self, name: str) -> None:
        self._asking.discard(name)
        self._announce(name, ask=True)

    def _part(self, owner: Hashable, identity: Identity, message: bytes) -> dict[str, Any]:
        encoded = base64.b64encode(message).decode()
        return {"c": self._number(owner), "u": identity.user_id, "n": identity.name, "m": encoded}

    def _number(self, owner: Hashable) -> int:
        """A number for a local connection, never reused while this process runs."""
        number = self._numbers.get(owner)
        if number is None:
            number = self._numbers[owner] = next(self._count)
        return number

    def _body(self, kind: str, **fields: Any) -> bytes:
        return json.dumps({"p": self._origin, "k": kind, **fields}).encode()

    def _send(self, channel: str, body: bytes) -> None:
        try:
            self._outbox.put_nowait((channel, body))
        except asyncio.QueueFull:
            self._lost = True

    # -- publishing and beating -------------------------------------------------

    async def _publish(self) -> None:
        while True:
            stop_if_cancelled()
            channel, body = await self._outbox.get()
            try:
                await self._redis.publish(channel, body)
            except RedisError:
                log.warning("Redis unreachable: presence not published")
                self._lost = True
                continue
            if self._lost:  # what the others missed: all of ours, room by room
                self._lost = False
                for name in list(self._rooms):
                    self._announce(name)

    async def _beat(self) -> None:
        while True:
            self._send(self._beats, self._body("beat"))
            self._drop_lapsed()
            await asyncio.sleep(BEAT_S)

    def _drop_lapsed(self) -> None:
        for origin, heard in list(self._heard.items()):
            if self._echo - heard > LAPSE_S:
                log.info("process %s not heard for %.0f s: its presence dropped", origin, LAPSE_S)
                del self._heard[origin]
                self._lapsed.add(origin)
                self._forget(origin)
                self._on_lapse()

    def _forget(self, origin: str) -> None:
        for name, owners in self._remote.items():
            for owner in [owner for owner in owners if owner[0] == origin]:
                self._remove(name, owner)

    # -- listening --------------------------------------------------------------

    async def _listen(self) -> None:
        while True:
            stop_if_cancelled()
            try:
                async with self._redis.pubsub() as pubsub:
                    await self._listen_on(pubsub)
            except RedisError as exc:
                log.warning("Redis unreachable: %s", exc)
                await asyncio.sleep(RETRY_S)
            except Exception:  # a bug here must not end sharing: subscribe again, ask again
                log.exception("listening for presence failed; subscribing again")
                await asyncio.sleep(RETRY_S)

    async def _listen_on(self, pubsub: PubSub) -> None:
        self._rooms_changed = True
        subscribed: set[str] = set()
        started = time.monotonic()
        while True:
            stop_if_cancelled()
            if self._rooms_changed:
                self._rooms_changed = False
                subscribed = await self._subscribe(pubsub, subscribed)
            message: Any = await pubsub.get_message(timeout=POLL_S)
            if time.monotonic() - max(self._echo, started) > SILENT_S:
                raise ConnectionLost(f"own beats unheard for {SILENT_S:g} s")
            if message is None:
                continue
            channel = message["channel"].decode()
            if message["type"] == "subscribe":
                self._subscribed(channel)
            elif message["type"] == "message":
                self._receive(channel, message["data"])

    async def _subscribe(self, pubsub: PubSub, subscribed: set[str]) -> set[str]:
        wanted = {self._key(name) for name in self._rooms} | {self._beats}
        if wanted - subscribed:
            await pubsub.subscribe(*(wanted - subscribed))
        if subscribed - wanted:
            await pubsub.unsubscribe(*(subscribed - wanted))
        for name in list(self._asking):  # reopened while still subscribed
            if self._key(name) in subscribed & wanted:
                self._ask(name)
        return wanted

    def _subscribed(self, channel: str) -> None:
        """Asks only now: answers to an earlier ask could pass the subscription."""
        name = self._name(channel)
        if name is not None and name in self._rooms:
            self._ask(name)

    def _receive(self, channel: str, data: bytes) -> None:
        try:
            body = json.loads(data)
            origin, kind = str(body["p"]), body["k"]
            if origin == self._origin:
                if kind == "beat":
                    self._echo = time.monotonic()
                return
            self._hear(origin)
            name = self._name(channel)
            if name is None:
                if kind == "bye":
                    self._heard.pop(origin, None)
                    self._forget(origin)
            elif name in self._rooms:
                self._on_room(name, origin, kind, body)
        except (ValueError, KeyError, TypeError, p.SyncProtocolError):
            log.warning("undecodable presence message on %s", channel, exc_info=True)

    def _hear(self, origin: str) -> None:
        self._heard[origin] = time.monotonic()
        if origin in self._lapsed:  # back after we dropped its presence: ask again
            self._lapsed.discard(origin)
            for name in list(self._rooms):
                self._ask(name)

    def _on_room(self, name: str, origin: str, kind: str, body: dict[str, Any]) -> None:
        if kind == "set":
            self._apply(name, origin, body)
        elif kind == "gone":
            self._remove(name, (origin, int(body["c"])))
        elif kind == "all":
            listed = {(origin, int(part["c"])) for part in body["o"]}
            for owner in [o for o in self._remote[name] if o[0] == origin and o not in listed]:
                self._remove(name, owner)
            for part in body["o"]:
                self._apply(name, origin, part)
            if body["ask"]:
                self._announce(name)

    def _apply(self, name: str, origin: str, part: dict[str, Any]) -> None:
        owner = (origin, int(part["c"]))
        message = p.decode(base64.b64decode(part["m"]))
        if not isinstance(message, p.Awareness):
            raise ValueError("a presence message that is not awareness")
        self._remote[name].add(owner)
        try:
            identity = Identity(str(part["u"]), str(part["n"]))
            self._rooms[name].apply_remote_presence(owner, identity, message.entries)
        except TraceError as exc:  # over this process's limits, or another's client id
            log.warning("presence from another process refused: %s", exc)

    def _remove(self, name: str, owner: Owner) -> None:
        self._remote[name].discard(owner)
        self._rooms[name].remove_remote_presence(owner)

    def _key(self, name: str) -> str:
        return self._rooms_channel + name

    def _name(self, channel: str) -> str | None:
        prefix = self._rooms_channel
        return channel.removeprefix(prefix) if channel.startswith(prefix) else None
