"""Access grants: a runtime's owner lets someone else run sessions or type in terminals."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, select

from trace_sync.contract.errors import Conflict, NotFound
from trace_sync.store.database import Database, now, to_utc, utc
from trace_sync.store.ids import new_id
from trace_sync.store.records import Capability, Grant, GrantState
from trace_sync.store.schema import grants


class Grants:
    """Reach it as ``store.grants``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        runtime_id: str,
        grantee_id: str,
        capabilities: Collection[Capability],
        *,
        session_id: str | None = None,
        expires_at: datetime | None = None,
    ) -> Grant:
        """A pending request (``NotFound`` for an unknown runtime, user or session)."""
        grant = Grant(
            id=new_id("g"),
            runtime_id=runtime_id,
            grantee_id=grantee_id,
            capabilities=frozenset(capabilities),
            session_id=session_id,
            expires_at=None if expires_at is None else to_utc(expires_at),
            state=GrantState.PENDING,
            created_at=now(),
            decided_at=None,
            decided_by=None,
        )
        values = {
            **vars(grant),
            "capabilities": ",".join(sorted(grant.capabilities)),
            "state": grant.state.value,
        }
        try:
            async with self._db.begin() as conn:
                await conn.execute(grants.insert().values(values))
        except NotFound as exc:
            raise NotFound("no such runtime, user or session") from exc
        return grant

    async def get(self, grant_id: str) -> Grant:
        async with self._db.begin() as conn:
            row = (await conn.execute(select(grants).where(grants.c.id == grant_id))).first()
        if row is None:
            raise NotFound(f"no grant {grant_id}")
        return _grant(row)

    async def decide(
        self,
        grant_id: str,
        state: GrantState,
        *,
        by: str | None,
        expect: Collection[GrantState],
    ) -> Grant:
        """Move a grant to ``state`` if it is in one of ``expect`` (compare-and-set);
        otherwise ``Conflict`` names the state it is in."""
        condition = and_(grants.c.id == grant_id, grants.c.state.in_([s.value for s in expect]))
        values = {"state": state.value, "decided_at": now(), "decided_by": by}
        async with self._db.begin() as conn:
            changed = await conn.execute(grants.update().where(condition).values(values))
            row = (await conn.execute(select(grants).where(grants.c.id == grant_id))).first()
        if row is None:
            raise NotFound(f"no grant {grant_id}")
        if changed.rowcount == 0:
            raise Conflict(f"grant {grant_id} is {row.state}; cannot make it {state.value}")
        return _grant(row)

    async def of_runtime(self, runtime_id: str) -> list[Grant]:
        return await self._where(grants.c.runtime_id == runtime_id)

    async def of_grantee(self, grantee_id: str) -> list[Grant]:
        return await self._where(grants.c.grantee_id == grantee_id)

    async def held(self, runtime_id: str, grantee_id: str) -> list[Grant]:
        """The approved grants ``grantee_id`` holds on ``runtime_id`` (expired or not)."""
        return await self._where(
            and_(
                grants.c.runtime_id == runtime_id,
                grants.c.grantee_id == grantee_id,
                grants.c.state == GrantState.APPROVED.value,
            )
        )

    async def due(self, at: datetime) -> list[Grant]:
        """Pending or approved grants whose expiry has passed at ``at``."""
        live = [GrantState.PENDING.value, GrantState.APPROVED.value]
        return await self._where(and_(grants.c.state.in_(live), grants.c.expires_at <= to_utc(at)))

    async def _where(self, condition: Any) -> list[Grant]:
        query = select(grants).where(condition).order_by(grants.c.created_at, grants.c.id)
        async with self._db.begin() as conn:
            return [_grant(row) for row in await conn.execute(query)]


def _grant(row: Row[Any]) -> Grant:
    return Grant(
        id=row.id,
        runtime_id=row.runtime_id,
        grantee_id=row.grantee_id,
        capabilities=frozenset(Capability(c) for c in row.capabilities.split(",") if c),
        session_id=row.session_id,
        expires_at=utc(row.expires_at),
        state=GrantState(row.state),
        created_at=utc(row.created_at),
        decided_at=utc(row.decided_at),
        decided_by=row.decided_by,
    )
