"""Turn a presented token into a :class:`Principal`, or refuse it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from trace_sync.auth.principal import Principal
from trace_sync.auth.tokens import parse_token, secret_matches
from trace_sync.contract.errors import Unauthorized
from trace_sync.store.records import TokenRecord, User

#: Record last use at most this often per token: a write per request would
#: turn every read into a database write.
TOUCH_INTERVAL = timedelta(seconds=60)


class Credentials(Protocol):
    """What authentication reads (the store's Accounts provides it)."""

    async def credentials(self, token_id: str) -> tuple[TokenRecord, bytes] | None: ...

    async def get_user(self, user_id: str) -> User: ...

    async def touch_token(self, token_id: str, when: datetime) -> None: ...


class Authenticator:
    def __init__(self, accounts: Credentials) -> None:
        self._accounts = accounts

    async def authenticate(self, token: str | None) -> Principal:
        """Return who holds ``token``; raise ``Unauthorized`` if missing, bad or revoked."""
        if not token:
            raise Unauthorized("no token: send 'Authorization: Bearer <token>' or ?token=")
        parsed = parse_token(token)
        found = await self._accounts.credentials(parsed.token_id) if parsed else None
        if parsed is None or found is None or not secret_matches(parsed.secret, found[1]):
            raise Unauthorized("unknown token")
        record = found[0]
        if record.revoked_at is not None:
            raise Unauthorized("token revoked")
        await self._touch(record)
        user = await self._accounts.get_user(record.user_id)
        return Principal(user.id, user.name, record.id, record.kind, record.runtime_id)

    async def _touch(self, record: TokenRecord) -> None:
        now = datetime.now(UTC)
        if record.last_used_at is None or now - record.last_used_at > TOUCH_INTERVAL:
            await self._accounts.touch_token(record.id, now)
