"""Sliding-window limits kept in Redis, so every process of a cluster counts
into the same window: N processes do not allow N times as much.

A window is a sorted set of event times (Redis's own clock, so hosts whose
clocks differ still agree); one Lua script prunes, counts and adds at once,
so two processes admitting at the same moment cannot both pass the limit.
"""

from __future__ import annotations

import logging
import math
import secrets
from typing import Any

from redis.exceptions import RedisError

from trace_sync.sync.limits import WINDOW_S, too_many_connections

log = logging.getLogger(__name__)

# KEYS[1]: the window; ARGV: window ms, limit, mode, a unique member.
# Modes: "take" adds if under the limit; "check" only looks; "add" always adds.
# Returns -1 when under the limit (or added), else ms until the oldest leaves.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window, limit, mode = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if mode ~= 'add' then
  if redis.call('ZCARD', KEYS[1]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return tonumber(oldest[2]) + window - now
  end
  if mode == 'check' then return -1 end
end
redis.call('ZADD', KEYS[1], now, now .. '-' .. ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return -1
"""


class RedisWindow:
    """At most ``limit`` events per key within ``window_s``, counted in Redis.

    The methods return None when under the limit, else the seconds until
    the oldest event leaves the window; they raise ``RedisError``."""

    def __init__(self, redis: Any, prefix: str, limit: int, window_s: float) -> None:
        self._script = redis.register_script(_SCRIPT)
        self._prefix = prefix
        self._limit = limit
        self._window_ms = int(window_s * 1000)

    async def take(self, key: str) -> float | None:
        """Count one event if under the limit."""
        return await self._run(key, "take")

    async def held(self, key: str) -> float | None:
        """Whether the limit is reached, counting nothing."""
        return await self._run(key, "check")

    async def add(self, key: str) -> None:
        """Count one event, whatever the limit."""
        await self._run(key, "add")

    async def _run(self, key: str, mode: str) -> float | None:
        args = [self._window_ms, self._limit, mode, secrets.token_hex(4)]
        wait_ms = int(await self._script(keys=[self._prefix + key], args=args))
        return None if wait_ms < 0 else wait_ms / 1000


class RedisConnectionRate:
    """``ConnectionLimit`` for a cluster: new connections per token per minute,
    across all processes. With Redis out of reach it admits (and says so):
    sync goes on without Redis, and an outage must not lock everyone out."""

    def __init__(self, redis: Any, per_minute: int, prefix: str) -> None:
        self._per_minute = per_minute
        self._window = RedisWindow(redis, prefix + "rate:connect:", per_minute, WINDOW_S)

    async def check(self, token_id: str) -> None:
        try:
            wait = await self._window.take(token_id)
        except RedisError as exc:
            log.warning("Redis unreachable: connection rate not counted: %s", exc)
            return
        if wait is not None:
            raise too_many_connections(self._per_minute)


def whole_seconds(wait_s: float) -> int:
    """A wait as told to a person: at least one second."""
    return max(1, math.ceil(wait_s))
