"""One-time sign-in codes for the links the server prints.

A code is good once, for a limited time; redeeming it yields a fresh token
for its user, so the printed link is useless after the first click. Each
user has a few open codes of their own (minting more drops their oldest, never
someone else's), and an address that keeps presenting bad codes is held off.

:class:`SignInCodeStore` is the interface; :class:`SignInCodes` keeps codes
and failures in this process's memory, :class:`trace_sync.cluster.signin.RedisSignInCodes`
in Redis, so that in a cluster a link minted by one process works once on any
and the failures of an address add up across processes.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from trace_sync.auth.tokens import new_code
from trace_sync.contract.errors import RateLimited, Unauthorized

CODE_LIFETIME_S = 24 * 3600
#: Open codes per user: a few browsers' worth.
MAX_OPEN_CODES_PER_USER = 10
#: Failed redemptions one client address may make per window before a 429.
MAX_FAILURES = 10
FAILURE_WINDOW_S = 60.0
#: Addresses remembered at once; beyond it the quietest are forgotten.
MAX_TRACKED_ADDRESSES = 10_000


@dataclass
class _Code:
    user_id: str
    expires_at: float


class SignInCodeStore(Protocol):
    async def mint(self, user_id: str) -> str:
        """A new code for ``user_id`` (dropping their oldest beyond the cap)."""
        ...

    async def redeem(self, code: str, client: str) -> str:
        """Return the user id behind ``code`` and forget the code; ``client``
        (the caller's address) is held off after repeated failures."""
        ...


class SignInCodes:
    """Codes and failures in this process's memory."""

    def __init__(
        self, lifetime_s: float = CODE_LIFETIME_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._codes: dict[bytes, _Code] = {}
        self._lifetime_s = lifetime_s
        self._clock = clock
        self._failures = FailureWindow(MAX_FAILURES, FAILURE_WINDOW_S, clock)

    async def mint(self, user_id: str) -> str:
        self._forget_expired()
        mine = [k for k, c in self._codes.items() if c.user_id == user_id]
        if len(mine) >= MAX_OPEN_CODES_PER_USER:
            del self._codes[min(mine, key=lambda k: self._codes[k].expires_at)]
        code = new_code()
        self._codes[digest(code)] = _Code(user_id, self._clock() + self._lifetime_s)
        return code

    async def redeem(self, code: str, client: str) -> str:
        self._failures.check(client)
        entry = self._codes.pop(digest(code), None)
        if entry is None or entry.expires_at < self._clock():
            self._failures.add(client)
            raise Unauthorized(USED_OR_EXPIRED)
        return entry.user_id

    def _forget_expired(self) -> None:
        now = self._clock()
        for key in [k for k, c in self._codes.items() if c.expires_at < now]:
            del self._codes[key]


class FailureWindow:
    """At most ``limit`` failures per key within ``window_s`` (a sliding window)."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float]) -> None:
        self._limit = limit
        self._window_s = window_s
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}

    def check(self, key: str) -> None:
        recent = self._recent(key)
        if len(recent) >= self._limit:
            wait = max(1, math.ceil(recent[0] + self._window_s - self._clock()))
            raise held_off(wait)

    def add(self, key: str) -> None:
        if key not in self._seen and len(self._seen) >= MAX_TRACKED_ADDRESSES:
            quietest = min(self._seen, key=lambda k: self._seen[k][-1] if self._seen[k] else 0.0)
            del self._seen[quietest]
        self._seen.setdefault(key, deque()).append(self._clock())

    def _recent(self, key: str) -> deque[float]:
        recent = self._seen.get(key, deque())
        while recent and recent[0] <= self._clock() - self._window_s:
            recent.popleft()
        if not recent:
            self._seen.pop(key, None)
        return recent


USED_OR_EXPIRED = "this sign-in link was already used or has expired"


def held_off(wait_s: int) -> RateLimited:
    return RateLimited(f"too many failed sign-ins from your address; try again in {wait_s} s")


def digest(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()
