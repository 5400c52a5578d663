"""What processes share through Redis, each object standing for one process:
authority changes, one-time sign-in codes, failed sign-ins and the connection
rate (``trace_sync.cluster``), against a private redis-server."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aioredis

from tests.conftest import eventually
from tests.support.redis_server import RedisServer
from trace_sync.cluster.authority import SILENT_S, RedisAuthority
from trace_sync.cluster.open_documents import RedisOpenDocuments
from trace_sync.cluster.signin import RedisSignInCodes
from trace_sync.cluster.windows import RedisConnectionRate
from trace_sync.contract.errors import RateLimited, Unauthorized
from trace_sync.services.authority import AuthorityChanged, Reason
from trace_sync.services.signin import MAX_FAILURES, MAX_OPEN_CODES_PER_USER
from trace_sync.settings import DEFAULT_REDIS_PREFIX as PREFIX

REVOKED = AuthorityChanged(Reason.TOKEN, token_id="t_1")


@asynccontextmanager
async def client(redis: RedisServer) -> AsyncIterator[aioredis.Redis]:
    connection = aioredis.from_url(redis.url)
    try:
        yield connection
    finally:
        await connection.aclose()


class Heard:
    """A process's listener: what reached it, in order."""

    def __init__(self, authority: RedisAuthority) -> None:
        self.changes: list[AuthorityChanged] = []
        authority.subscribe(self.heard)

    async def heard(self, change: AuthorityChanged) -> None:
        self.changes.append(change)


async def test_a_change_published_by_one_process_reaches_the_others_once(
    redis_server: RedisServer,
) -> None:
    async with RedisAuthority(redis_server.link()) as a, RedisAuthority(redis_server.link()) as b:
        on_a, on_b = Heard(a), Heard(b)
        await a.publish(REVOKED)
        assert on_a.changes == [REVOKED]  # acted on before publish returned
        await eventually(lambda: on_b.changes == [REVOKED])
        await asyncio.sleep(0.2)  # and not again from its own echo
        assert on_a.changes == [REVOKED] and on_b.changes == [REVOKED]


async def test_what_was_missed_while_redis_was_down_is_checked_again(
    redis_server: RedisServer,
) -> None:
    async with RedisAuthority(redis_server.link()) as a, RedisAuthority(redis_server.link()) as b:
        on_b = Heard(b)
        assert a.listening and b.listening
        await asyncio.to_thread(redis_server.stop)
        await eventually(lambda: not b.listening)  # caches stop answering from memory
        await a.publish(REVOKED)  # stored, but Redis takes nothing: lost to b
        await asyncio.to_thread(redis_server.start)
        await eventually(lambda: b.listening)
        # b hears that it may have missed changes: its caches forget, its sockets re-check.
        await eventually(lambda: AuthorityChanged(Reason.MISSED) in on_b.changes)
        assert all(change.may_affect("u", "t_1", None) for change in on_b.changes)


async def test_a_subscription_that_hangs_is_given_up_and_resumed(
    redis_server: RedisServer,
) -> None:
    async with RedisAuthority(redis_server.link()) as b:
        on_b = Heard(b)
        await asyncio.sleep(SILENT_S + 2)  # idle but answering: kept
        assert b.listening and on_b.changes == []
        assert redis_server.process is not None
        redis_server.process.send_signal(signal.SIGSTOP)  # connections stay open, unanswered
        try:
            await eventually(lambda: not b.listening, within=SILENT_S + 5)
        finally:
            redis_server.process.send_signal(signal.SIGCONT)
        await eventually(lambda: b.listening)
        await eventually(lambda: on_b.changes == [AuthorityChanged(Reason.MISSED)])


async def test_a_sign_in_code_minted_on_one_process_works_once_on_any(
    redis_server: RedisServer,
) -> None:
    async with client(redis_server) as redis:
        a, b = RedisSignInCodes(redis, PREFIX), RedisSignInCodes(redis, PREFIX)
        code = await a.mint("u_ada")
        assert await b.redeem(code, "10.0.0.1") == "u_ada"
        for either in (a, b):
            with pytest.raises(Unauthorized):
                await either.redeem(code, "10.0.0.1")


async def test_two_processes_redeeming_one_code_at_once_sign_in_once(
    redis_server: RedisServer,
) -> None:
    async with client(redis_server) as redis:
        a, b = RedisSignInCodes(redis, PREFIX), RedisSignInCodes(redis, PREFIX)
        code = await a.mint("u_ada")
        tries = [either.redeem(code, "10.0.0.1") for either in (a, b) * 5]
        results = await asyncio.gather(*tries, return_exceptions=True)
        assert results.count("u_ada") == 1
        assert sum(isinstance(r, Unauthorized) for r in results) == 9


async def test_codes_expire_and_each_user_keeps_their_newest(redis_server: RedisServer) -> None:
    async with client(redis_server) as redis:
        short = RedisSignInCodes(redis, PREFIX, lifetime_s=0.2)
        soon_gone = await short.mint("u_ada")
        await asyncio.sleep(0.3)
        with pytest.raises(Unauthorized):
            await short.redeem(soon_gone, "10.0.0.1")
        a, b = RedisSignInCodes(redis, PREFIX), RedisSignInCodes(redis, PREFIX)
        owners = await a.mint("u_owner")
        members = [await (a, b)[n % 2].mint("u_member") for n in range(MAX_OPEN_CODES_PER_USER + 5)]
        assert await b.redeem(owners, "10.0.0.2") == "u_owner"
        with pytest.raises(Unauthorized):
            await b.redeem(members[0], "10.0.0.2")  # the member's oldest made room
        kept = members[-MAX_OPEN_CODES_PER_USER:]
        assert [await a.redeem(code, "10.0.0.2") for code in kept] == ["u_member"] * len(kept)


async def test_failed_sign_ins_add_up_across_processes(redis_server: RedisServer) -> None:
    async with client(redis_server) as redis:
        a, b = RedisSignInCodes(redis, PREFIX), RedisSignInCodes(redis, PREFIX)
        good = await a.mint("u_ada")
        for n in range(MAX_FAILURES):
            with pytest.raises(Unauthorized):
                await (a, b)[n % 2].redeem(f"guess{n}", "10.0.0.1")
        for either in (a, b):
            with pytest.raises(RateLimited, match="try again in 60 s"):
                await either.redeem(good, "10.0.0.1")
        assert await b.redeem(good, "10.0.0.2") == "u_ada"  # other addresses are not held


async def test_the_connection_rate_is_one_for_all_processes(redis_server: RedisServer) -> None:
    async with client(redis_server) as redis:
        a, b = RedisConnectionRate(redis, 10, PREFIX), RedisConnectionRate(redis, 10, PREFIX)
        for n in range(10):
            await (a, b)[n % 2].check("t_1")
        for either in (a, b):
            with pytest.raises(RateLimited):
                await either.check("t_1")
        await a.check("t_2")  # per token
        await asyncio.to_thread(redis_server.stop)
        await b.check("t_1")  # Redis down: admitted rather than everyone locked out


async def test_documents_open_per_token_add_up_across_processes(
    redis_server: RedisServer,
) -> None:
    async with (
        client(redis_server) as redis,
        RedisOpenDocuments(redis, 2, PREFIX) as a,
        RedisOpenDocuments(redis, 2, PREFIX) as b,
    ):
        async with a.hold("t_1"), b.hold("t_1"):
            for either in (a, b):
                with pytest.raises(RateLimited):
                    async with either.hold("t_1"):
                        pass
            async with a.hold("t_2"):  # per token
                pass
        async with a.hold("t_1"), b.hold("t_1"):  # closed ones are given back
            pass


async def test_a_dead_process_s_documents_stop_counting(redis_server: RedisServer) -> None:
    async with client(redis_server) as redis, RedisOpenDocuments(redis, 2, PREFIX) as a:
        dying = RedisOpenDocuments(redis, 2, PREFIX)
        await dying.__aenter__()
        async with dying.hold("t_1"), dying.hold("t_1"):
            with pytest.raises(RateLimited):
                async with a.hold("t_1"):
                    pass
            # Killed: it never gives them back, and its liveness key expires.
            await redis.delete(dying.alive_key)
            async with a.hold("t_1"), a.hold("t_1"):
                pass
        await dying.__aexit__()
