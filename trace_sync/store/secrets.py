"""A workspace's secrets, by name (a forge's API token, say)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select

from trace_sync.store.database import Database, now, utc
from trace_sync.store.errors import NotFound
from trace_sync.store.schema import workspace_secrets as table


@dataclass(frozen=True)
class SecretInfo:
    """What may be shown of a secret: never its value."""

    name: str
    set_by: str
    set_at: datetime


class Secrets:
    """Reach it as ``store.secrets``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, workspace_id: str, name: str, sealed: bytes, set_by: str) -> SecretInfo:
        row = {"workspace_id": workspace_id, "name": name, "value_sealed": sealed}
        at = now()
        async with self._db.begin() as conn:
            await conn.execute(delete(table).where(_of(workspace_id, name)))
            await conn.execute(table.insert().values(row | {"set_by": set_by, "set_at": at}))
        return SecretInfo(name, set_by, at)

    async def sealed(self, workspace_id: str, name: str) -> bytes:
        """The secret's sealed value; :class:`NotFound` naming it when it is not set."""
        query = select(table.c.value_sealed).where(_of(workspace_id, name))
        async with self._db.begin() as conn:
            found = (await conn.execute(query)).first()
        if found is None:
            raise NotFound(f"no secret {name!r} in this workspace: an admin sets it")
        return bytes(found.value_sealed)

    async def listed(self, workspace_id: str) -> list[SecretInfo]:
        query = select(table.c.name, table.c.set_by, table.c.set_at)
        async with self._db.begin() as conn:
            rows = (await conn.execute(query.where(table.c.workspace_id == workspace_id))).all()
        return sorted((SecretInfo(r.name, r.set_by, utc(r.set_at)) for r in rows), key=_name)

    async def remove(self, workspace_id: str, name: str) -> None:
        async with self._db.begin() as conn:
            await conn.execute(delete(table).where(_of(workspace_id, name)))


def _name(info: SecretInfo) -> str:
    return info.name


def _of(workspace_id: str, name: str) -> Any:
    return and_(table.c.workspace_id == workspace_id, table.c.name == name)
