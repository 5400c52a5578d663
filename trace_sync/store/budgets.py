"""Spending caps (USD and tokens) of sessions and workspaces, and what they spent."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from trace_sync.store.database import Database
from trace_sync.store.schema import budgets, sessions


@dataclass(frozen=True)
class Cap:
    """A cap; ``None`` in a field: no cap on that."""

    usd: float | None = None
    tokens: int | None = None

    @property
    def empty(self) -> bool:
        return self.usd is None and self.tokens is None


def session_scope(session_id: str) -> str:
    return f"session:{session_id}"


def workspace_scope(workspace_id: str) -> str:
    return f"workspace:{workspace_id}"


def default_scope(workspace_id: str) -> str:
    """The cap every new session of the workspace starts with."""
    return f"default:{workspace_id}"


class Budgets:
    """Reach it as ``store.budgets``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, scope: str) -> Cap:
        query = select(budgets).where(budgets.c.scope == scope)
        async with self._db.begin() as conn:
            row = (await conn.execute(query)).first()
        return Cap() if row is None else Cap(row.usd, row.tokens)

    async def set(self, scope: str, cap: Cap) -> None:
        """Set (or, with an empty cap, remove) the cap of ``scope``."""
        async with self._db.begin() as conn:
            if cap.empty:
                await conn.execute(delete(budgets).where(budgets.c.scope == scope))
                return
            insert = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
            values = {"scope": scope, "usd": cap.usd, "tokens": cap.tokens}
            upsert = insert(budgets).values(values)
            upsert = upsert.on_conflict_do_update(
                index_elements=[budgets.c.scope],
                set_={"usd": upsert.excluded.usd, "tokens": upsert.excluded.tokens},
            )
            await conn.execute(upsert)

    async def start_session(self, workspace_id: str, session_id: str) -> None:
        """A new session starts with its workspace's default cap."""
        default = await self.get(default_scope(workspace_id))
        if not default.empty:
            await self.set(session_scope(session_id), default)

    async def spent(self, workspace_id: str) -> tuple[float, int]:
        """(USD, tokens) the workspace's sessions have spent so far."""
        query = select(
            func.coalesce(func.sum(sessions.c.cost_usd), 0.0),
            func.coalesce(func.sum(sessions.c.tokens), 0),
        ).where(sessions.c.workspace_id == workspace_id)
        async with self._db.begin() as conn:
            usd, tokens = (await conn.execute(query)).one()
        return float(usd), int(tokens)
