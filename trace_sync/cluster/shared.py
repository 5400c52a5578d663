"""What server processes share: in a cluster through Redis, else in memory.

Authority changes, one-time sign-in codes (with their failure limit), the
rate of new connections and the documents open per token. Each has one
interface and two implementations; this chooses by ``settings.cluster``, so
no call site needs to know.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as aioredis

from trace_sync.cluster.authority import RedisAuthority
from trace_sync.cluster.open_documents import RedisOpenDocuments
from trace_sync.cluster.signin import RedisSignInCodes
from trace_sync.cluster.windows import RedisConnectionRate
from trace_sync.services.authority import Authority, LocalAuthority
from trace_sync.services.signin import SignInCodes, SignInCodeStore
from trace_sync.settings import Settings
from trace_sync.sync.limits import ConnectionLimit, ConnectionRate, DocumentLimit, OpenDocuments


@dataclass
class Shared:
    authority: Authority
    signin: SignInCodeStore
    connections: ConnectionLimit
    open_documents: DocumentLimit


@asynccontextmanager
async def shared_state(settings: Settings) -> AsyncIterator[Shared]:
    per_minute = settings.limits.connections_per_minute
    per_token = settings.limits.max_documents_per_token
    if not (settings.cluster and settings.redis_url):
        local = (ConnectionRate(per_minute), OpenDocuments(per_token))
        yield Shared(LocalAuthority(), SignInCodes(), *local)
        return
    redis = aioredis.from_url(settings.redis_url, socket_connect_timeout=5, socket_timeout=10)
    try:
        async with (
            RedisAuthority(settings.redis_url) as authority,
            RedisOpenDocuments(redis, per_token) as open_documents,
        ):
            signin, rate = RedisSignInCodes(redis), RedisConnectionRate(redis, per_minute)
            yield Shared(authority, signin, rate, open_documents)
    finally:
        await redis.aclose()
