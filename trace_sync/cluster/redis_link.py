"""Where a cluster's processes meet: one Redis, and the prefix that keeps this
deployment's keys and pub/sub channels apart from another's on the same Redis.

Every key and channel in :mod:`trace_sync.cluster` starts with
:attr:`RedisLink.prefix` (``TRACE_REDIS_PREFIX``, by default
:data:`~trace_sync.settings.DEFAULT_REDIS_PREFIX`). A database number in the
URL (``/1``) would separate keys only: pub/sub channels are shared by all
databases of a Redis, so one deployment's authority changes and presence would
reach another's processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from trace_sync.settings import DEFAULT_REDIS_PREFIX, Settings

#: Longest one Redis call may take, unless a module bounds its own: a wedged
#: connection fails and is made again instead of stalling its caller.
CALL_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class RedisLink:
    """``link.open()`` for a client; ``link.name("epoch")`` for a key or channel."""

    url: str
    prefix: str = DEFAULT_REDIS_PREFIX

    @classmethod
    def of(cls, settings: Settings) -> RedisLink | None:
        """The cluster's link; None when ``settings`` serve one process alone."""
        if not (settings.cluster and settings.redis_url):
            return None
        return cls(settings.redis_url, settings.redis_prefix)

    def name(self, suffix: str) -> str:
        return self.prefix + suffix

    def open(
        self,
        *,
        call_timeout_s: float = CALL_TIMEOUT_S,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        **options: Any,
    ) -> aioredis.Redis:
        """A new client with bounded calls; the caller closes it (``aclose()``)."""
        return aioredis.from_url(
            self.url,
            socket_timeout=call_timeout_s,
            socket_connect_timeout=connect_timeout_s,
            **options,
        )
