"""The sync endpoint's view of auth: who is this token, and what may it do here.

:class:`Gate` is what the endpoints ask; :class:`Gatekeeper` answers it with
tokens from the store and decisions from the one policy.
"""

from __future__ import annotations

from typing import Protocol

from trace_sync.auth.authenticator import Authenticator, Credentials
from trace_sync.auth.policy import Memberships, Policy, SessionFacts
from trace_sync.auth.principal import Access, Principal


class Gate(Protocol):
    async def authenticate(self, token: str | None) -> Principal:
        """Return the principal, or raise ``Unauthorized`` (missing, unknown or revoked)."""
        ...

    async def authorize(self, principal: Principal, doc_name: str) -> Access:
        """Return read/write access, or raise ``NotFound`` (no such document, or
        invisible to this principal) or ``Forbidden`` (visible but not readable)."""
        ...


class Gatekeeper:
    def __init__(
        self, accounts: Credentials, memberships: Memberships, sessions: SessionFacts
    ) -> None:
        self._authenticator = Authenticator(accounts)
        self.policy = Policy(memberships, sessions)

    async def authenticate(self, token: str | None) -> Principal:
        return await self._authenticator.authenticate(token)

    async def authorize(self, principal: Principal, doc_name: str) -> Access:
        return await self.policy.decide(principal, doc_name)
