"""Documents open per token, counted across the processes of a cluster.

Each token has a Redis hash ``<prefix>open:<token>``: one field per process,
holding how many documents that process has open with the token. A process
that dies cannot take its counts back, so each process keeps a liveness key
``<prefix>process:<id>`` alive (:data:`ALIVE_S`, renewed every :data:`BEAT_S`);
counting skips, and deletes, the fields of processes whose key has gone. A
dead process's documents are counted for at most :data:`ALIVE_S`.

Redis out of reach: documents open uncounted (sync goes on without Redis). Redis
flushed or restarted: what was open before is no longer counted until it closes,
so the limit is loose for a while, never tighter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.exceptions import RedisError

from trace_sync.cluster.cancelling import stop_if_cancelled
from trace_sync.sync.limits import too_many_documents

log = logging.getLogger(__name__)

ALIVE_S = 15
BEAT_S = 5.0

# KEYS[1]: the token's hash; ARGV: this process's id, the limit, the prefix of
# liveness keys. Returns 1 when counted, 0 at the limit.
_TAKE = """
local total = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if redis.call('EXISTS', ARGV[3] .. fields[i]) == 1 then
    total = total + tonumber(fields[i + 1])
  else
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
if total >= tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
return 1
"""

# KEYS[1]: the token's hash; ARGV[1]: this process's id.
_GIVE_BACK = """
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
"""


class RedisOpenDocuments:
    """``async with RedisOpenDocuments(redis, limit) as open_documents``: a
    ``DocumentLimit`` shared by the processes of a cluster."""

    def __init__(self, redis: Any, limit: int, prefix: str) -> None:
        self._redis = redis
        self._limit = limit
        self._id = secrets.token_hex(8)
        self._tokens = prefix + "open:"
        self._processes = prefix + "process:"
        #: This process's liveness key: while it exists, its counts count.
        self.alive_key = self._processes + self._id
        self._take = redis.register_script(_TAKE)
        self._give_back = redis.register_script(_GIVE_BACK)
        self._beat: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RedisOpenDocuments:
        await self._alive()
        self._beat = asyncio.create_task(self._beating(), name="open-documents-alive")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._beat is not None:
            self._beat.cancel()
            await asyncio.gather(self._beat, return_exceptions=True)
        with contextlib.suppress(RedisError):  # else they go when the key expires
            await self._redis.delete(self.alive_key)  # its counts go at once

    @asynccontextmanager
    async def hold(self, token_id: str) -> AsyncIterator[None]:
        key = self._tokens + token_id
        try:
            counted = await self._take(keys=[key], args=[self._id, self._limit, self._processes])
        except RedisError as exc:
            log.warning("Redis unreachable: open document not counted: %s", exc)
            counted = None
        if counted == 0:
            raise too_many_documents(self._limit)
        try:
            yield
        finally:
            if counted:
                await self._release(key)

    async def _release(self, key: str) -> None:
        try:
            await self._give_back(keys=[key], args=[self._id])
        except RedisError as exc:
            log.warning("Redis unreachable: open document not uncounted: %s", exc)

    async def _alive(self) -> None:
        await self._redis.set(self.alive_key, 1, ex=ALIVE_S)

    async def _beating(self) -> None:
        while True:
            stop_if_cancelled()
            await asyncio.sleep(BEAT_S)
            try:
                await self._alive()
            except RedisError as exc:
                log.warning("Redis unreachable: liveness not renewed: %s", exc)
