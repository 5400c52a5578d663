"""Replies remembered per (user, idempotency key), so a retried command runs once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from trace_sync.contract.errors import Conflict
from trace_sync.store.database import Database, now
from trace_sync.store.records import StoredReply
from trace_sync.store.schema import idempotency

#: How long a key is remembered (clients retry within minutes, outboxes within days).
KEEP_FOR = timedelta(days=7)
#: A claim still "in progress" after this long was left by a server that died
#: mid-command (no command runs this long): a retry may take it over.
ABANDONED_AFTER = timedelta(minutes=2)


class IdempotencyKeys:
    """Reach it as ``store.idempotency``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, user_id: str, key: str, fingerprint: str) -> StoredReply | None:
        """Claim ``key`` for a new command (``None``), or return what an earlier
        request with this key got. ``status`` is ``None`` while it still runs."""
        row = {
            "user_id": user_id,
            "key": key,
            "fingerprint": fingerprint,
            "status": None,
            "body": b"",
            "created_at": now(),
        }
        try:
            async with self._db.begin() as conn:
                await conn.execute(
                    idempotency.delete().where(idempotency.c.created_at < now() - KEEP_FOR)
                )
                await conn.execute(idempotency.insert().values(row))
            return None
        except Conflict:
            if await self._take_over(user_id, key, fingerprint):
                return None
            return await self._stored(user_id, key)

    async def complete(self, user_id: str, key: str, status: int, body: bytes) -> None:
        query = (
            idempotency.update()
            .where(idempotency.c.user_id == user_id, idempotency.c.key == key)
            .values(status=status, body=body)
        )
        async with self._db.begin() as conn:
            await conn.execute(query)

    async def release(self, user_id: str, key: str) -> None:
        """Forget a claim whose command failed before it changed anything."""
        query = idempotency.delete().where(
            idempotency.c.user_id == user_id, idempotency.c.key == key
        )
        async with self._db.begin() as conn:
            await conn.execute(query)

    async def _take_over(self, user_id: str, key: str, fingerprint: str) -> bool:
        """Claim ``key`` if its earlier claim for this same request was abandoned."""
        query = (
            idempotency.update()
            .where(
                idempotency.c.user_id == user_id,
                idempotency.c.key == key,
                idempotency.c.fingerprint == fingerprint,
                idempotency.c.status.is_(None),
                idempotency.c.created_at < now() - ABANDONED_AFTER,
            )
            .values(created_at=now())
        )
        async with self._db.begin() as conn:
            return (await conn.execute(query)).rowcount == 1

    async def _stored(self, user_id: str, key: str) -> StoredReply:
        query = select(idempotency).where(
            idempotency.c.user_id == user_id, idempotency.c.key == key
        )
        async with self._db.begin() as conn:
            row = (await conn.execute(query)).one()
        return StoredReply(row.fingerprint, row.status, bytes(row.body))
