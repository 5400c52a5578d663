"""Tokens: issuing, listing and revoking them, with the role checks that guard them."""

from __future__ import annotations

from dataclasses import dataclass

from trace_sync.auth.principal import Principal
from trace_sync.auth.tokens import format_token, hash_secret, new_secret
from trace_sync.contract.errors import NotFound
from trace_sync.services.authority import Authority, AuthorityChanged, LocalAuthority, Reason
from trace_sync.store import Store
from trace_sync.store.records import TokenKind, TokenRecord


@dataclass(frozen=True)
class IssuedToken:
    """A freshly made token: the only moment its secret is known to anyone."""

    record: TokenRecord
    token: str


class AccountService:
    def __init__(self, store: Store, *, authority: Authority | None = None) -> None:
        self._store = store
        self._authority = authority or LocalAuthority()

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
        """Revoke one of the actor's own tokens; an instance admin may revoke
        anyone's. A workspace role gives no power over a person's tokens: an
        owner could otherwise lock out anyone they added."""
        found = await self._store.accounts.credentials(token_id)
        owner = found[0].user_id if found else None
        if owner is None or (owner != actor.user_id and not await self._instance_admin(actor)):
            raise NotFound(f"no token {token_id}")
        return await self.retire_token(token_id)

    async def retire_token(self, token_id: str) -> TokenRecord:
        """Revoke a token with no actor (a runtime's old token when it gets a new
        one): it stops working at once, on open sockets and cached joins alike."""
        revoked = await self._store.accounts.revoke_token(token_id)
        await self._authority.publish(AuthorityChanged(Reason.TOKEN, token_id=token_id))
        return revoked

    async def _instance_admin(self, actor: Principal) -> bool:
        return (await self._store.accounts.get_user(actor.user_id)).instance_admin
