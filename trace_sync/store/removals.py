"""Removals owed to a bridge: what deleted sessions left on it while it was away."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select

from trace_sync.store.database import Database, now
from trace_sync.store.schema import session_removals


class Removals:
    """Reach it as ``store.removals``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, runtime_id: str, session_id: str, spec: dict[str, Any]) -> None:
        """Owe ``runtime_id`` the removal of ``session_id`` (``spec``: what to remove)."""
        row = {
            "session_id": session_id,
            "runtime_id": runtime_id,
            "spec": json.dumps(spec),
            "requested_at": now(),
        }
        async with self._db.begin() as conn:
            await conn.execute(delete(session_removals).where(_of(session_id)))
            await conn.execute(session_removals.insert().values(row))

    async def owed(self, runtime_id: str) -> list[dict[str, Any]]:
        query = select(session_removals.c.spec).where(session_removals.c.runtime_id == runtime_id)
        async with self._db.begin() as conn:
            rows = (await conn.execute(query.order_by(session_removals.c.requested_at))).all()
        return [json.loads(row.spec) for row in rows]

    async def done(self, session_ids: list[str]) -> None:
        if session_ids:
            async with self._db.begin() as conn:
                condition = session_removals.c.session_id.in_(session_ids)
                await conn.execute(delete(session_removals).where(condition))


def _of(session_id: str) -> Any:
    return session_removals.c.session_id == session_id
