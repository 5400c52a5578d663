"""Per-token limits on new connections and open documents.

:class:`ConnectionLimit` and :class:`DocumentLimit` are their interfaces;
:class:`ConnectionRate` and :class:`OpenDocuments` count in this process's
memory, :class:`trace_sync.cluster.windows.RedisConnectionRate` and
:class:`trace_sync.cluster.open_documents.RedisOpenDocuments` in Redis,
shared by the processes of a cluster (so N processes do not allow N times as many).
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from trace_sync.contract.errors import RateLimited

WINDOW_S = 60.0


class ConnectionLimit(Protocol):
    async def check(self, token_id: str) -> None:
        """Count a new connection with this token, or raise :class:`RateLimited`."""
        ...


class ConnectionRate:
    """At most ``per_minute`` new connections per token in any 60-second window."""

    def __init__(self, per_minute: int) -> None:
        self._per_minute = per_minute
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    async def check(self, token_id: str) -> None:
        now = time.monotonic()
        seen = self._seen[token_id]
        while seen and now - seen[0] > WINDOW_S:
            seen.popleft()
        if len(seen) >= self._per_minute:
            raise too_many_connections(self._per_minute)
        seen.append(now)


def too_many_connections(per_minute: int) -> RateLimited:
    return RateLimited(f"more than {per_minute} connections a minute with this token")


class DocumentLimit(Protocol):
    def hold(self, token_id: str) -> AbstractAsyncContextManager[None]:
        """Count one open document with this token while inside, or raise
        :class:`RateLimited`."""
        ...


def too_many_documents(limit: int) -> RateLimited:
    return RateLimited(f"more than {limit} documents open with this token")


class OpenDocuments:
    """At most ``limit`` documents open at once per token."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: dict[str, int] = defaultdict(int)

    @asynccontextmanager
    async def hold(self, token_id: str) -> AsyncIterator[None]:
        if self._open[token_id] >= self._limit:
            raise too_many_documents(self._limit)
        self._open[token_id] += 1
        try:
            yield
        finally:
            self._open[token_id] -= 1
            if not self._open[token_id]:
                del self._open[token_id]
