"""Two Trace deployments on one Redis, told apart by ``TRACE_REDIS_PREFIX``:
what happens in one never reaches the other. Each deployment is a real server
process on a PostgreSQL schema of its own (or, for authority changes, objects
standing for its processes), all on one private redis-server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.cluster.conftest import server_on
from tests.cluster.test_authority import api, link_path
from tests.cluster.test_documents import make_session, notes_url
from tests.cluster.test_shared_redis import REVOKED, Heard
from tests.conftest import StoreTarget, eventually
from tests.support.py_client import PyClient
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess
from trace_sync.cluster.authority import RedisAuthority

A, B = "trace-a:", "trace-b:"


@pytest.fixture
async def deployments(
    postgres: StoreTarget,
    other_postgres: StoreTarget,
    redis_server: RedisServer,
    tmp_path: Path,
    servers: list[ServerProcess],
) -> tuple[ServerProcess, ServerProcess]:
    """A server of deployment A and one of B, on their own schemas, one Redis."""
    a = server_on(postgres, tmp_path / "a", redis_server.url, A)
    b = server_on(other_postgres, tmp_path / "b", redis_server.url, B)
    servers += [a, b]
    await asyncio.gather(*(asyncio.to_thread(server.start) for server in (a, b)))
    return a, b


def published(redis: RedisServer, prefix: str, name: str) -> bool:
    return bool(redis.client().xlen(f"{prefix}doc:{name}"))


def names_used(redis: RedisServer) -> set[str]:
    """Every key and pub/sub channel in Redis now."""
    client = redis.client()
    return {n.decode() for n in [*client.keys("*"), *client.pubsub_channels()]}


async def test_an_edit_in_one_deployment_never_reaches_the_other_on_the_same_redis(
    postgres: StoreTarget,
    other_postgres: StoreTarget,
    redis_server: RedisServer,
    deployments: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = deployments
    sid = await make_session(postgres)
    await make_session(other_postgres, sid)  # the same document name in both
    name = f"session/{sid}/notes"
    async with (
        PyClient(notes_url(a, sid), a.token) as on_a,
        PyClient(notes_url(b, sid), b.token) as on_b,
    ):
        await on_a.synced.wait()
        await on_b.synced.wait()
        on_b.edit(0, "b's notes")
        on_a.edit(0, "a's notes ")
        await eventually(lambda: published(redis_server, A, name))
        await eventually(lambda: published(redis_server, B, name))
        await asyncio.sleep(0.5)  # B's reader (100 ms reads) would have applied A's by now
        assert str(on_b.text) == "b's notes"
        assert str(on_a.text) == "a's notes "
        # Every key and channel, presence's for the open document included, is prefixed.
        used = names_used(redis_server)
    assert f"{B}presence:doc:{name}" in used
    assert all(n.startswith((A, B)) for n in used), used


async def test_a_sign_in_link_from_one_deployment_is_refused_by_the_other_and_left_unused(
    deployments: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = deployments
    async with api(a, a.token) as owner:
        link = link_path((await owner.post("/api/signin-links")).json()["url"])
    async with api(b) as browser_b, api(a) as browser_a:
        assert (await browser_b.get(link)).status_code == 401
        assert (await browser_a.get(link)).status_code == 303  # B did not use it up


async def test_an_authority_change_reaches_its_own_deployment_only(
    redis_server: RedisServer,
) -> None:
    async with (
        RedisAuthority(redis_server.link(A)) as a1,
        RedisAuthority(redis_server.link(A)) as a2,
        RedisAuthority(redis_server.link(B)) as b,
    ):
        on_a2, on_b = Heard(a2), Heard(b)
        await a1.publish(REVOKED)  # e.g. a token revoked through deployment A
        await eventually(lambda: on_a2.changes == [REVOKED])
        await asyncio.sleep(0.2)  # what B would hear arrives with A2's
        assert on_b.changes == []
