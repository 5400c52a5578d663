"""Cluster tests: real server processes on a PostgreSQL schema of their own."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL, StoreTarget, _drop_schema, _postgres_reachable

# Shells and tools of the bridges here get a home of their own too (a machine's slow
# rc files held a session's first prompt: its bash took 61 s to start here).
from tests.hosting.conftest import own_home as own_home  # noqa: F401, PLC0414
from tests.support.parts import missing
from tests.support.redis_server import RedisServer, private_redis
from tests.support.server_process import ServerProcess

#: The secret every member of a test cluster shares (cluster mode needs one).
CLUSTER_KEY = "cluster-test-key-" + "k" * 32


@asynccontextmanager
async def own_schema() -> AsyncIterator[StoreTarget]:
    if not await _postgres_reachable():
        missing(f"PostgreSQL not reachable at {POSTGRES_URL}: install/start postgresql")
    schema = f"test_{secrets.token_hex(6)}"
    try:
        yield StoreTarget(POSTGRES_URL, schema)
    finally:
        await _drop_schema(schema)


@pytest.fixture
async def postgres() -> AsyncIterator[StoreTarget]:
    async with own_schema() as target:
        yield target


@pytest.fixture
async def other_postgres() -> AsyncIterator[StoreTarget]:
    """A second deployment's data, beside ``postgres``."""
    async with own_schema() as target:
        yield target


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with private_redis() as server:
        yield server


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Servers a test starts; all killed at its end."""
    started: list[ServerProcess] = []
    try:
        yield started
    finally:
        for server in started:
            server.close()


def server_on(
    target: StoreTarget,
    data_dir: Path,
    redis_url: str | None = None,
    redis_prefix: str | None = None,
) -> ServerProcess:
    """A server process on ``target``; with ``redis_url``, a cluster member
    (of the deployment whose keys start with ``redis_prefix``, if given)."""
    env = {"TRACE_DATABASE_URL": target.url}
    if target.schema:
        env["TRACE_DATABASE_SCHEMA"] = target.schema
    if redis_url:
        env |= {"TRACE_REDIS_URL": redis_url, "TRACE_SECRET_KEY": CLUSTER_KEY}
    if redis_prefix:
        env["TRACE_REDIS_PREFIX"] = redis_prefix
    return ServerProcess(data_dir, extra_env=env)
