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

from trace_sync.cluster.authority import RedisAuthority
from trace_sync.cluster.open_documents import RedisOpenDocuments
from trace_sync.cluster.redis_link import RedisLink
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
    link = RedisLink.of(settings)
    if link is None:
        local = (ConnectionRate(per_minute), OpenDocuments(per_token))
        yield Shared(LocalAuthority(), SignInCodes(), *local)
        return
    redis, prefix = link.open(), link.prefix
    try:
        async with (
            RedisAuthority(link) as authority,
            RedisOpenDocuments(redis, per_token, prefix) as open_documents,
        ):
            signin = RedisSignInCodes(redis, prefix)
            rate = RedisConnectionRate(redis, per_minute, prefix)
            yield Shared(authority, signin, rate, open_documents)
    finally:
        await redis.aclose()
