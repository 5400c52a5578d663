"""The bridge registry on a real (private) Redis: the newest claim wins, a dead
holder's entry goes within seconds, and what a flush loses is written again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.conftest import eventually
from tests.support.redis_server import RedisServer
from trace_sync.cluster import registry
from trace_sync.cluster.registry import Holder, Registry
from trace_sync.settings import DEFAULT_REDIS_PREFIX as PREFIX


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_server.url)
    yield client
    await client.aclose()


async def test_the_newest_claim_wins_and_the_former_holder_learns_it(
    redis: aioredis.Redis,
) -> None:
    one, two = Registry(redis, "one", PREFIX), Registry(redis, "two", PREFIX)
    first, former = await one.claim("rt_1")
    assert former is None
    second, former = await two.claim("rt_1")
    assert former == first and second.epoch > first.epoch
    assert await one.holder("rt_1") == second
    assert await one.renew({"rt_1": first.epoch}) == {"rt_1": second.epoch}
    await one.release("rt_1", first.epoch)  # too late: not its entry any more
    assert await one.holder("rt_1") == second
    await two.release("rt_1", second.epoch)
    assert await one.holder("rt_1") is None


async def test_an_entry_no_one_renews_goes(
    redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "TTL_S", 0.3)
    dead = Registry(redis, "dead", PREFIX)
    await dead.claim("rt_1")
    await eventually(lambda: _gone(dead, "rt_1"), within=5)


async def _gone(reader: Registry, runtime_id: str) -> bool:
    return await reader.holder(runtime_id) is None


async def test_after_a_flush_the_holder_writes_its_entry_again(redis: aioredis.Redis) -> None:
    one, two = Registry(redis, "one", PREFIX), Registry(redis, "two", PREFIX)
    held, _ = await one.claim("rt_1")
    await redis.flushall()
    assert await one.renew({"rt_1": held.epoch}) == {}
    assert await two.holder("rt_1") == held


async def test_a_claim_after_a_flush_still_beats_the_older_one(redis: aioredis.Redis) -> None:
    one, two = Registry(redis, "one", PREFIX), Registry(redis, "two", PREFIX)
    held, _ = await one.claim("rt_1")
    await asyncio.sleep(0.002)  # the newer connection comes at least a millisecond later
    await redis.flushall()  # the entry and the epoch counter are gone
    newer, former = await two.claim("rt_1")
    assert former is None and newer.epoch > held.epoch
    assert await one.renew({"rt_1": held.epoch}) == {"rt_1": newer.epoch}
    assert await one.holder("rt_1") == newer


def test_an_entry_reads_back_as_written() -> None:
    holder = Holder("host:12:ab", 1764870000123)
    assert Holder.parse(str(holder)) == holder and Holder.parse(str(holder).encode()) == holder
