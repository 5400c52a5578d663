"""Tokens: issuing, listing and revoking them, with the role checks that guard them."""

from __future__ import annotations

from dataclasses import dataclass

from trace_sync.auth.principal import Principal
from trace_sync.auth.tokens import format_token, hash_secret, new_secret
from trace_sync.errors import NotFound
from trace_sync.store import Store
from trace_sync.store.records import TokenKind, TokenRecord


@dataclass(frozen=True)
class IssuedToken:
    """A freshly made token: the only moment its secret is known to anyone."""

    record: TokenRecord
    token: str


class AccountService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def issue_token(
        self,
        user_id: str,
        label: str,
        kind: TokenKind = TokenKind.USER,
        runtime_id: str | None = None,
    ) -> IssuedToken:
        secret = new_secret()
        record = await self._store.accounts.add_token(
            user_id, hash_secret(secret), label=label, kind=kind, runtime_id=runtime_id
        )
        return IssuedToken(record, format_token(record.id, secret))

    async def tokens(self, actor: Principal) -> list[TokenRecord]:
        return await self._store.accounts.list_tokens(actor.user_id)

    async def revoke_token(self, actor: Principal, token_id: str) -> TokenRecord:
        """Revoke one of the actor's own tokens, or any token of a member of a
        workspace the actor administers."""
        found = await self._store.accounts.credentials(token_id)
        owner = found[0].user_id if found else None
        if owner is None or (owner != actor.user_id and not await self._administers(actor, owner)):
            raise NotFound(f"no token {token_id}")
        return await self._store.accounts.revoke_token(token_id)

    async def _administers(self, actor: Principal, user_id: str) -> bool:
        directory = self._store.directory
        for workspace in await directory.list_workspaces(actor.user_id):
            role = await directory.role_of(workspace.id, actor.user_id)
            if role and role.is_admin and await directory.role_of(workspace.id, user_id):
                return True
        return False
