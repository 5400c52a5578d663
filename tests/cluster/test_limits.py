"""Per-token limits of /sync counted once for a whole cluster: two servers (in
this process, with low limits) on one PostgreSQL schema and a private Redis
allow a token no more than one server would."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.conftest import StoreTarget
from tests.support.live import LiveServer, serve
from tests.support.py_client import PyClient
from tests.support.redis_server import RedisServer
from tests.sync.conftest import new_session
from trace_sync.settings import Limits, Settings


@asynccontextmanager
async def two_servers(
    target: StoreTarget, redis: RedisServer, tmp_path: Path, **limits: int
) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    def settings(name: str) -> Settings:
        return Settings(
            data_dir=tmp_path / name,
            database_url=target.url,
            database_schema=target.schema,
            redis_url=redis.url,
            limits=dataclasses.replace(Limits(), **limits),
        )

    async with serve(settings("a")) as a, serve(settings("b")) as b:
        yield a, b


async def joined(url: str, token: str) -> int | None:
    """Join, and leave once synced; the close code if refused instead."""
    async with PyClient(url, token) as client:
        await client.wait_for(lambda: client.synced.is_set() or client.close_code is not None)
        return client.close_code


async def test_new_connections_per_token_are_counted_across_servers(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path
) -> None:
    async with two_servers(postgres, redis_server, tmp_path, connections_per_minute=3) as (a, b):
        sid = await new_session(a)
        on_a, on_b = (f"{s.ws_url}/sync/session/{sid}/notes" for s in (a, b))
        codes = [await joined(url, a.token) for url in (on_a, on_b, on_a, on_b)]
        assert codes == [None, None, None, 4429]
        assert await joined(on_a, a.token) == 4429


async def test_documents_open_per_token_are_counted_across_servers(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path
) -> None:
    async with two_servers(postgres, redis_server, tmp_path, max_documents_per_token=2) as (a, b):
        urls = [f"{s.ws_url}/sync/session/{await new_session(a)}/notes" for s in (a, b, b)]
        async with PyClient(urls[0], a.token) as first, PyClient(urls[1], a.token) as second:
            await first.synced.wait()
            await second.synced.wait()
            assert await joined(urls[2], a.token) == 4429
        assert await joined(urls[2], a.token) is None  # closed ones no longer count
