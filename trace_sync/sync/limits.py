"""Per-token limits on new connections and open documents."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager

from trace_sync.errors import RateLimited

WINDOW_S = 60.0


class ConnectionRate:
    """At most ``per_minute`` new connections per token in any 60-second window."""

    def __init__(self, per_minute: int) -> None:
        self._per_minute = per_minute
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def check(self, token_id: str) -> None:
        now = time.monotonic()
        seen = self._seen[token_id]
        while seen and now - seen[0] > WINDOW_S:
            seen.popleft()
        if len(seen) >= self._per_minute:
            raise RateLimited(f"more than {self._per_minute} connections a minute with this token")
        seen.append(now)


class OpenDocuments:
    """At most ``limit`` documents open at once per token."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: dict[str, int] = defaultdict(int)

    @contextmanager
    def hold(self, token_id: str) -> Iterator[None]:
        if self._open[token_id] >= self._limit:
            raise RateLimited(f"more than {self._limit} documents open with this token")
        self._open[token_id] += 1
        try:
            yield
        finally:
            self._open[token_id] -= 1
            if not self._open[token_id]:
                del self._open[token_id]
