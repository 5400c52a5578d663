"""One-time sign-in codes in Redis, for a cluster: a link minted by one process
works on any, once (``GETDEL`` takes a code atomically, whichever process asks
first), and the failed sign-ins of an address add up across processes.

A code is a key holding its user's id (its digest names it, as in memory),
expiring with the code; each user's open codes are a sorted set by expiry, so
minting beyond the cap drops that user's oldest. Needs Redis 6.2 or newer.
"""

from __future__ import annotations

import time
from typing import Any

from redis.exceptions import RedisError

from trace_sync.auth.tokens import new_code
from trace_sync.cluster.windows import RedisWindow, whole_seconds
from trace_sync.contract.errors import StoreError, Unauthorized
from trace_sync.services.signin import (
    CODE_LIFETIME_S,
    FAILURE_WINDOW_S,
    MAX_FAILURES,
    MAX_OPEN_CODES_PER_USER,
    USED_OR_EXPIRED,
    digest,
    held_off,
)


class RedisSignInCodes:
    """``SignInCodeStore`` in Redis."""

    def __init__(self, redis: Any, prefix: str, lifetime_s: float = CODE_LIFETIME_S) -> None:
        self._redis = redis
        self._codes = prefix + "signin:code:"
        self._users = prefix + "signin:user:"
        self._lifetime_ms = int(lifetime_s * 1000)
        failed = prefix + "signin:failed:"
        self._failures = RedisWindow(redis, failed, MAX_FAILURES, FAILURE_WINDOW_S)

    async def mint(self, user_id: str) -> str:
        code = new_code()
        key = digest(code).hex()
        mine = self._users + user_id
        # Scored by expiry in microseconds: codes minted one after another never
        # tie, so the oldest is the one dropped (ties would order by name).
        now_us = time.time_ns() // 1000
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(self._codes + key, user_id, px=self._lifetime_ms)
                pipe.zremrangebyscore(mine, "-inf", now_us)
                pipe.zadd(mine, {key: now_us + self._lifetime_ms * 1000})
                pipe.pexpire(mine, self._lifetime_ms)
                pipe.zrange(mine, 0, -(MAX_OPEN_CODES_PER_USER + 1))  # beyond the cap
                *_, beyond = await pipe.execute()
            if beyond:
                await self._redis.delete(*(self._codes + old.decode() for old in beyond))
                await self._redis.zrem(mine, *beyond)
        except RedisError as exc:
            raise _unreachable(exc) from exc
        return code

    async def redeem(self, code: str, client: str) -> str:
        try:
            wait = await self._failures.held(client)
            if wait is not None:
                raise held_off(whole_seconds(wait))
            key = digest(code).hex()
            found: bytes | None = await self._redis.getdel(self._codes + key)
            if found is None:
                await self._failures.add(client)
                raise Unauthorized(USED_OR_EXPIRED)
            user_id = found.decode()
            await self._redis.zrem(self._users + user_id, key)  # no longer open: not in the cap
        except RedisError as exc:
            raise _unreachable(exc) from exc
        return user_id


def _unreachable(exc: RedisError) -> StoreError:
    return StoreError(f"cannot reach Redis for sign-in links: {exc}")
