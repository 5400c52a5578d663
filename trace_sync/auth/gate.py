"""The sync endpoint's view of auth: who is this token, and what may it do here."""

from __future__ import annotations

from typing import Protocol

from trace_sync.auth.principal import Access, Principal


class Gate(Protocol):
    async def authenticate(self, token: str | None) -> Principal:
        """Return the principal, or raise ``Unauthorized`` (missing, unknown or revoked)."""
        ...

    async def authorize(self, principal: Principal, doc_name: str) -> Access:
        """Return read/write access, or raise ``NotFound`` (no such document, or
        invisible to this principal) or ``Forbidden`` (visible but not readable)."""
        ...
