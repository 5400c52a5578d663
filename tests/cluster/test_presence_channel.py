"""Presence between processes through Redis pub/sub (``trace_sync.cluster.presence``),
two channels standing in for two processes on a private ``redis-server``."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Hashable
from typing import Any

from redis.client import PubSub

from tests.conftest import eventually
from tests.support.redis_server import RedisServer
from trace_sync.cluster.presence import LAPSE_S, PresenceChannel
from trace_sync.contract import sync_protocol as p
from trace_sync.sync.awareness import AwarenessStates, Identity

ANN = Identity("u_ann", "ann")


class Connection:
    """A local connection's key (sync.peer.Peer in the server)."""


class FakeRoom:
    """A room as presence sharing sees it, under the real awareness rules."""

    def __init__(self, name: str, channel: PresenceChannel) -> None:
        self.name = name
        self.awareness = AwarenessStates()
        self._channel = channel
        self._local: dict[Hashable, Identity] = {}
        channel.follow(self)

    def set(self, who: Connection, identity: Identity, client_id: int, clock: int) -> None:
        """A local connection sets its presence, as sync.room.Room relays it."""
        self._local[who] = identity
        self.awareness.join(who, identity)
        entry = p.AwarenessEntry(client_id, clock, json.dumps({"cursor": clock}))
        relayed = self.awareness.apply(who, (entry,))
        assert relayed is not None
        self._channel.changed(self.name, who, identity, relayed)

    def leave(self, who: Connection) -> None:
        del self._local[who]
        if self.awareness.remove_owner(who):
            self._channel.gone(self.name, who)

    def shown(self) -> dict[int, str]:
        """Client id -> name of everyone shown in this room."""
        full = self.awareness.full_message()
        entries = p.decode(full).entries if full else ()  # type: ignore[union-attr]
        return {e.client_id: json.loads(e.state)["name"] for e in entries}

    def apply_remote_presence(
        self, owner: Hashable, identity: Identity, entries: tuple[p.AwarenessEntry, ...]
    ) -> None:
        self.awareness.join(owner, identity)
        self.awareness.apply(owner, entries)

    def remove_remote_presence(self, owner: Hashable) -> None:
        self.awareness.remove_owner(owner)

    def local_presence(self) -> list[tuple[Hashable, Identity, bytes]]:
        owned = [(o, i, self.awareness.states_of(o)) for o, i in self._local.items()]
        return [(o, i, p.awareness_message(states)) for o, i, states in owned if states]


def foreign_set(redis: RedisServer, name: str, origin: str, client_id: int) -> None:
    """Presence published by a process that never beats (as if killed right after)."""
    entry = p.AwarenessEntry(client_id, 1, json.dumps({"cursor": 0}))
    message = base64.b64encode(p.awareness_message([entry])).decode()
    body = {"p": origin, "k": "set", "c": 1, "u": "u_gus", "n": "gus", "m": message}
    redis.client().publish(f"trace:presence:doc:{name}", json.dumps(body))


def listeners(redis: RedisServer, name: str) -> int:
    [(_, count)] = redis.client().pubsub_numsub(f"trace:presence:doc:{name}")
    return int(count)


def next_message(watcher: PubSub, within: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        message = watcher.get_message(timeout=0.1)  # None for a subscription's confirmation
        if message is not None:
            return message
    raise AssertionError(f"nothing published within {within} s")


async def test_presence_set_on_one_process_shows_on_the_other_until_it_leaves(
    redis_server: RedisServer,
) -> None:
    async with PresenceChannel(redis_server.link()) as a, PresenceChannel(redis_server.link()) as b:
        on_a, on_b = FakeRoom("doc", a), FakeRoom("doc", b)
        ann = Connection()
        on_a.set(ann, ANN, 7, 1)
        await eventually(lambda: on_b.shown() == {7: "ann"})
        on_a.set(ann, ANN, 7, 2)
        await eventually(lambda: _clock(on_b) == 2)
        on_a.leave(ann)
        await eventually(lambda: on_b.shown() == {}, within=1.0)


async def test_a_room_opened_later_is_shown_what_the_others_have(
    redis_server: RedisServer,
) -> None:
    async with PresenceChannel(redis_server.link()) as a, PresenceChannel(redis_server.link()) as b:
        on_a = FakeRoom("doc", a)
        on_a.set(Connection(), ANN, 7, 1)
        late = FakeRoom("doc", b)
        await eventually(lambda: late.shown() == {7: "ann"})
        b.unfollow("doc")  # closed and reopened: asks again
        reopened = FakeRoom("doc", b)
        await eventually(lambda: reopened.shown() == {7: "ann"})


async def test_a_silent_process_loses_its_presence_and_a_closed_one_at_once(
    redis_server: RedisServer,
) -> None:
    async with PresenceChannel(redis_server.link()) as a:
        room = FakeRoom("doc", a)
        await eventually(lambda: listeners(redis_server, "doc") == 1)
        foreign_set(redis_server, "doc", "killed", 9)
        await eventually(lambda: room.shown() == {9: "gus"})
        started = asyncio.get_running_loop().time()
        await eventually(lambda: room.shown() == {}, within=LAPSE_S + 3)
        assert asyncio.get_running_loop().time() - started >= LAPSE_S - 1.5

        async with PresenceChannel(redis_server.link()) as b:
            FakeRoom("doc", b).set(Connection(), ANN, 7, 1)
            await eventually(lambda: room.shown() == {7: "ann"})
        await eventually(lambda: room.shown() == {}, within=1.0)  # its goodbye, not a lapse


async def test_a_process_heard_again_after_its_lapse_is_asked_for_its_presence(
    redis_server: RedisServer,
) -> None:
    async with PresenceChannel(redis_server.link()) as a:
        room = FakeRoom("doc", a)
        await eventually(lambda: listeners(redis_server, "doc") == 1)
        foreign_set(redis_server, "doc", "stalled", 9)
        await eventually(lambda: room.shown() == {9: "gus"})
        await eventually(lambda: room.shown() == {}, within=LAPSE_S + 3)

        watcher = redis_server.client().pubsub(ignore_subscribe_messages=True)
        watcher.subscribe("trace:presence:doc:doc")
        beat = json.dumps({"p": "stalled", "k": "beat"})
        redis_server.client().publish("trace:presence:beats", beat)
        asked = await asyncio.to_thread(next_message, watcher)
        watcher.close()
        assert json.loads(asked["data"])["ask"] is True


async def test_garbage_and_claims_on_held_ids_change_nothing(redis_server: RedisServer) -> None:
    async with PresenceChannel(redis_server.link()) as a:
        room = FakeRoom("doc", a)
        room.set(Connection(), ANN, 7, 1)
        await eventually(lambda: listeners(redis_server, "doc") == 1)
        redis_server.client().publish("trace:presence:doc:doc", b"\xff not json")
        redis_server.client().publish("trace:presence:doc:doc", json.dumps({"p": "x", "k": "set"}))
        foreign_set(redis_server, "doc", "other", 7)  # gus claims ann's client id
        foreign_set(redis_server, "doc", "other", 8)
        await eventually(lambda: room.shown() == {7: "ann", 8: "gus"})


async def test_presence_crosses_again_after_redis_is_flushed_and_restarted(
    redis_server: RedisServer,
) -> None:
    async with PresenceChannel(redis_server.link()) as a, PresenceChannel(redis_server.link()) as b:
        on_a, on_b = FakeRoom("doc", a), FakeRoom("doc", b)
        ann, bob = Connection(), Connection()
        redis_server.client().flushall()
        on_a.set(ann, ANN, 7, 1)
        await eventually(lambda: on_b.shown() == {7: "ann"})

        await asyncio.to_thread(redis_server.stop)
        on_a.set(bob, Identity("u_bob", "bob"), 8, 1)  # lost with Redis down
        await asyncio.sleep(0.5)
        await asyncio.to_thread(redis_server.start)
        await eventually(lambda: on_b.shown() == {7: "ann", 8: "bob"}, within=15)
        on_a.leave(ann)
        await eventually(lambda: on_b.shown() == {8: "bob"})


def _clock(room: FakeRoom) -> int:
    full = room.awareness.full_message()
    assert full is not None
    return p.decode(full).entries[0].clock  # type: ignore[union-attr]
