"""The production :class:`Gate`: tokens from the store, decisions from the policy."""

from __future__ import annotations

from trace_sync.auth.authenticator import Authenticator, Credentials
from trace_sync.auth.policy import Memberships, Policy, SessionFacts
from trace_sync.auth.principal import Access, Principal


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
