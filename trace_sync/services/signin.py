"""One-time sign-in codes for the links the server prints (held in memory).

A code is good once, for a limited time; redeeming it yields a fresh token
for its user, so the printed link is useless after the first click.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from trace_sync.errors import Unauthorized

CODE_LIFETIME_S = 24 * 3600
MAX_OPEN_CODES = 100


@dataclass
class _Code:
    user_id: str
    expires_at: float


class SignInCodes:
    def __init__(self, lifetime_s: float = CODE_LIFETIME_S) -> None:
        self._codes: dict[bytes, _Code] = {}
        self._lifetime_s = lifetime_s

    def mint(self, user_id: str) -> str:
        self._forget_expired()
        if len(self._codes) >= MAX_OPEN_CODES:
            oldest = min(self._codes, key=lambda k: self._codes[k].expires_at)
            del self._codes[oldest]
        code = secrets.token_urlsafe(24)
        self._codes[_digest(code)] = _Code(user_id, time.monotonic() + self._lifetime_s)
        return code

    def redeem(self, code: str) -> str:
        """Return the user id behind ``code`` and forget the code."""
        entry = self._codes.pop(_digest(code), None)
        if entry is None or entry.expires_at < time.monotonic():
            raise Unauthorized("this sign-in link was already used or has expired")
        return entry.user_id

    def _forget_expired(self) -> None:
        now = time.monotonic()
        for key in [k for k, c in self._codes.items() if c.expires_at < now]:
            del self._codes[key]


def _digest(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()
