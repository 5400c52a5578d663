"""Invitations to join a workspace: made by its admins, accepted once by the invitee.

The store keeps only a hash of each code, as it does for tokens.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select

from trace_sync.store.database import Database, now, to_utc, utc
from trace_sync.store.ids import new_id
from trace_sync.store.records import Invitation, Role
from trace_sync.store.schema import invitations


class Invitations:
    """Open and accepted invitations; reach it as ``store.invitations``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        workspace_id: str,
        code_hash: bytes,
        *,
        role: Role,
        created_by: str,
        expires_at: datetime,
    ) -> Invitation:
        invitation = Invitation(
            new_id("i"), workspace_id, role, created_by, now(), to_utc(expires_at)
        )
        values = {**vars(invitation), "role": role.value, "code_hash": code_hash}
        async with self._db.begin() as conn:
            await conn.execute(invitations.insert().values(values))
        return invitation

    async def find_open(self, code_hash: bytes) -> Invitation | None:
        """The open, unexpired invitation with this code, or ``None``."""
        query = select(invitations).where(
            invitations.c.code_hash == code_hash,
            invitations.c.accepted_by.is_(None),
            invitations.c.expires_at > now(),
        )
        async with self._db.begin() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _invitation(row)

    async def accept(self, code_hash: bytes, user_id: str) -> Invitation | None:
        """Mark the open, unexpired invitation with this code as taken by
        ``user_id`` and return it; ``None`` if there is none. Of two people
        racing for one code, one gets it."""
        when = now()
        open_one = (
            invitations.c.code_hash == code_hash,
            invitations.c.accepted_by.is_(None),
            invitations.c.expires_at > when,
        )
        take = invitations.update().where(*open_one).values(accepted_by=user_id, accepted_at=when)
        async with self._db.begin() as conn:
            if (await conn.execute(take)).rowcount != 1:
                return None
            query = select(invitations).where(invitations.c.code_hash == code_hash)
            return _invitation((await conn.execute(query)).one())

    async def count_open(self, workspace_id: str) -> int:
        query = (
            select(func.count())
            .select_from(invitations)
            .where(
                invitations.c.workspace_id == workspace_id,
                invitations.c.accepted_by.is_(None),
                invitations.c.expires_at > now(),
            )
        )
        async with self._db.begin() as conn:
            return int((await conn.execute(query)).scalar_one())


def _invitation(row: Row[Any]) -> Invitation:
    return Invitation(
        id=row.id,
        workspace_id=row.workspace_id,
        role=Role(row.role),
        created_by=row.created_by,
        created_at=utc(row.created_at),
        expires_at=utc(row.expires_at),
        accepted_by=row.accepted_by,
    )
