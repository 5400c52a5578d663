"""A process that falls behind a document stream's trim reloads from the store
instead of silently missing updates (``trace_sync.cluster.documents``)."""

from __future__ import annotations

import asyncio

import pytest
from pycrdt import Array, Doc

from tests.conftest import eventually
from tests.support.redis_server import RedisServer
from trace_sync.cluster import documents
from trace_sync.cluster.documents import DocumentStreams


class Recorder:
    """A room as replication sees it: its document, how often it was given
    updates and how often it reloaded."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.doc: Doc = Doc()
        self.items = self.doc.get("items", type=Array)
        self.applications = 0
        self.reloads = 0

    def apply_remote(self, update: bytes) -> None:
        self.applications += 1
        self.doc.apply_update(update)

    async def reload(self) -> None:
        self.reloads += 1


def publish(redis: RedisServer, name: str, count: int, keep: int | None = None) -> None:
    """Another process's updates (appending 0..count-1 to ``items``), added (and
    trimmed to ``keep``) in one go."""
    writer: Doc = Doc()
    items = writer.get("items", type=Array)
    client = redis.client()
    for i in range(count):
        before = writer.get_state()
        items.append(i)
        fields = {"u": writer.get_update(before), "p": b"other"}
        client.xadd(f"trace:doc:{name}", fields, maxlen=keep, approximate=False)  # type: ignore[arg-type]


async def test_a_follower_gets_every_update_in_order(redis_server: RedisServer) -> None:
    async with DocumentStreams(redis_server.link()) as streams:
        room = Recorder("doc")
        streams.follow(room, await streams.mark("doc"))
        publish(redis_server, "doc", 50)
        await eventually(lambda: len(room.items) == 50)
        assert list(room.items) == list(range(50)) and room.reloads == 0
        # The publisher blocked the loop, so the reader finds them together (a read
        # already waiting in Redis returns with the first): merged, not 50 changes.
        assert room.applications <= 2


async def test_a_follower_behind_the_trim_reloads(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "MAX_LEN", 5)  # publishers trim streams to MAX_LEN
    publish(redis_server, "doc", 3)
    async with DocumentStreams(redis_server.link()) as streams:
        room = Recorder("doc")
        streams.follow(room, await streams.mark("doc"))
        # Blocks the event loop: the reader cannot run until all are added and trimmed.
        publish(redis_server, "doc", 20, keep=5)
        await eventually(lambda: room.reloads == 1)
        await asyncio.sleep(0.3)  # then it follows from the new mark, without reloading again
        assert room.reloads == 1
