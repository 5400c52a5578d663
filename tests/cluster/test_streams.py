"""A process that falls behind a document stream's trim reloads from the store
instead of silently missing updates (``trace_sync.cluster.documents``)."""

from __future__ import annotations

import asyncio

from tests.conftest import eventually
from tests.support.redis_server import RedisServer
from trace_sync.cluster.documents import DocumentStreams


class Recorder:
    """A room as replication sees it: what it was given, how often it reloaded."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.applied: list[bytes] = []
        self.reloads = 0

    def apply_remote(self, update: bytes) -> None:
        self.applied.append(update)

    async def reload(self) -> None:
        self.reloads += 1


def publish(redis: RedisServer, name: str, count: int, keep: int | None = None) -> None:
    """Another process's updates, added (and trimmed to ``keep``) in one go."""
    client = redis.client()
    for i in range(count):
        fields = {"u": f"u{i}".encode(), "p": b"other"}
        client.xadd(f"trace:doc:{name}", fields, maxlen=keep, approximate=False)  # type: ignore[arg-type]


async def test_a_follower_gets_every_update_in_order(redis_server: RedisServer) -> None:
    async with DocumentStreams(redis_server.url) as streams:
        room = Recorder("doc")
        streams.follow(room, await streams.mark("doc"))
        publish(redis_server, "doc", 50)
        await eventually(lambda: len(room.applied) == 50)
        assert room.applied == [f"u{i}".encode() for i in range(50)] and room.reloads == 0


async def test_a_follower_behind_the_trim_reloads(redis_server: RedisServer) -> None:
    publish(redis_server, "doc", 3)
    async with DocumentStreams(redis_server.url) as streams:
        room = Recorder("doc")
        streams.follow(room, await streams.mark("doc"))
        # Blocks the event loop: the reader cannot run until all are added and trimmed.
        publish(redis_server, "doc", 20, keep=5)
        await eventually(lambda: room.reloads == 1)
        await asyncio.sleep(0.3)  # then it follows from the new mark, without reloading again
        assert room.reloads == 1
