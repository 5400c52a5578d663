"""The bridge relay between two processes on a real (private) Redis, each with
a stand-in for its broker: commands reach the holder and its answers (results
and errors) come back; a runtime no live process holds fails at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.conftest import eventually
from tests.support.redis_server import RedisServer
from trace_sync.cluster import registry
from trace_sync.cluster.registry import Registry
from trace_sync.cluster.relay import BridgeRelay
from trace_sync.contract.bridge_protocol import ServerMessage, TerminalInput
from trace_sync.contract.errors import Conflict, NotFound
from trace_sync.settings import DEFAULT_REDIS_PREFIX as PREFIX


class Links:
    """What a process's broker does for the others, recorded."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, ServerMessage]] = []
        self.taken: list[tuple[str, int]] = []

    async def send_here(self, runtime_id: str, message: ServerMessage) -> None:
        self.sent.append((runtime_id, message))

    async def request_here(
        self, runtime_id: str, op: str, session_id: str, args: dict[str, Any]
    ) -> Any:
        if args.get("path") == "missing.txt":
            raise NotFound("no file missing.txt in the worktree")
        return {"op": op, "session": session_id, "args": args}

    def taken_over(self, runtime_id: str, epoch: int) -> None:
        self.taken.append((runtime_id, epoch))


@pytest.fixture
async def pair(redis_server: RedisServer) -> AsyncIterator[tuple[BridgeRelay, Links]]:
    """A relay asking (here) and one holding runtimes (elsewhere), with its links."""
    links = Links()
    async with (
        BridgeRelay(redis_server.link()) as asker,
        BridgeRelay(redis_server.link()) as holder,
    ):
        asker.serve(Links())
        holder.serve(links)
        await holder.claim("rt_1")
        yield asker, links


def keys(message: str) -> TerminalInput:
    return TerminalInput(session_id="se_1", terminal_id="tool", data=message)


async def test_commands_are_done_by_the_holder_and_answered(
    pair: tuple[BridgeRelay, Links],
) -> None:
    asker, links = pair
    assert await asker.holds("rt_1")
    await asker.send("rt_1", keys("ls\r"))
    assert links.sent == [("rt_1", keys("ls\r"))]
    read = await asker.request("rt_1", "read_file", "se_1", {"path": "x.txt"}, 5)
    assert read == {"op": "read_file", "session": "se_1", "args": {"path": "x.txt"}}
    with pytest.raises(NotFound, match="missing.txt"):
        await asker.request("rt_1", "read_file", "se_1", {"path": "missing.txt"}, 5)


async def test_a_runtime_no_process_holds_is_unavailable_at_once(
    pair: tuple[BridgeRelay, Links],
) -> None:
    asker, _ = pair
    assert not await asker.holds("rt_2")
    with pytest.raises(Conflict, match="runtime unavailable: rt_2 is not connected"):
        await asker.send("rt_2", keys("ls\r"))


async def test_a_newer_claim_closes_the_holders_link(pair: tuple[BridgeRelay, Links]) -> None:
    asker, links = pair
    epoch = await asker.claim("rt_1")
    await eventually(lambda: links.taken == [("rt_1", epoch)])
    assert not await asker.holds("rt_1")  # it is the asker's own now


async def test_a_holder_whose_takeover_message_was_lost_learns_it_when_renewing(
    pair: tuple[BridgeRelay, Links], redis_server: RedisServer
) -> None:
    _, links = pair
    client = aioredis.from_url(redis_server.url)
    try:  # a claim that posts no takeover, as when Redis failed right after it
        newer, _ = await Registry(client, "elsewhere", PREFIX).claim("rt_1")
    finally:
        await client.aclose()
    await eventually(lambda: links.taken == [("rt_1", newer.epoch)], within=5)


async def test_a_holder_that_dies_mid_request_fails_it_within_seconds(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "TTL_S", 0.5)
    client = aioredis.from_url(redis_server.url)
    try:
        await Registry(client, "dead-process", PREFIX).claim("rt_1")  # it never reads nor renews
        async with BridgeRelay(redis_server.link()) as asker:
            began = asyncio.get_running_loop().time()
            with pytest.raises(Conflict, match="let it go"):
                await asker.request("rt_1", "read_file", "se_1", {"path": "x.txt"}, 30)
            assert asyncio.get_running_loop().time() - began < 5
    finally:
        await client.aclose()
