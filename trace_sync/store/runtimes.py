"""Runtimes: the bridges that host sessions, one row per (owner, instance)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select

from trace_sync.contract.errors import Conflict, NotFound, TooLarge
from trace_sync.store.database import Database, now, to_utc, utc
from trace_sync.store.ids import new_id
from trace_sync.store.records import RuntimeRecord
from trace_sync.store.schema import runtimes

#: Largest capabilities document kept (tools and their versions).
MAX_CAPABILITIES = 64 * 1024


class Runtimes:
    """Reach it as ``store.runtimes``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def register(
        self, owner_id: str, instance_id: str, name: str, kind: str
    ) -> RuntimeRecord:
        """The owner's runtime for ``instance_id``: created once, renamed on later calls."""
        found = await self._by_instance(owner_id, instance_id)
        if found is None:
            record = RuntimeRecord(
                new_id("rt"), owner_id, instance_id, name, kind, "", {}, now(), None
            )
            try:
                async with self._db.begin() as conn:
                    await conn.execute(runtimes.insert().values(_values(record)))
                return record
            except Conflict:  # registered concurrently: fall through to the update
                found = await self._by_instance(owner_id, instance_id)
            except NotFound as exc:
                raise NotFound(f"no user {owner_id}") from exc
        if found is None:
            raise Conflict(f"runtime {instance_id} changed while registering; try again")
        return await self.update(found.id, name=name, kind=kind)

    async def get(self, runtime_id: str) -> RuntimeRecord:
        found = await self.find(runtime_id)
        if found is None:
            raise NotFound(f"no runtime {runtime_id}")
        return found

    async def find(self, runtime_id: str) -> RuntimeRecord | None:
        async with self._db.begin() as conn:
            row = (await conn.execute(select(runtimes).where(runtimes.c.id == runtime_id))).first()
        return None if row is None else _runtime(row)

    async def of_owners(self, owner_ids: list[str]) -> list[RuntimeRecord]:
        """The runtimes of these users, most recently seen first."""
        query = (
            select(runtimes)
            .where(runtimes.c.owner_id.in_(owner_ids))
            .order_by(runtimes.c.last_seen_at.desc(), runtimes.c.id)
        )
        async with self._db.begin() as conn:
            rows = list(await conn.execute(query))
        # NULLs sort differently per database: never-seen runtimes go last everywhere.
        found = [_runtime(row) for row in rows]
        return [r for r in found if r.last_seen_at] + [r for r in found if not r.last_seen_at]

    async def of_ids(self, runtime_ids: list[str]) -> list[RuntimeRecord]:
        query = select(runtimes).where(runtimes.c.id.in_(runtime_ids)).order_by(runtimes.c.id)
        async with self._db.begin() as conn:
            return [_runtime(row) for row in await conn.execute(query)]

    async def update(
        self,
        runtime_id: str,
        *,
        name: str | None = None,
        kind: str | None = None,
        version: str | None = None,
        capabilities: dict[str, Any] | None = None,
        last_seen_at: datetime | None = None,
    ) -> RuntimeRecord:
        """Change the given fields and return the runtime as stored now."""
        values: dict[str, Any] = {"name": name, "kind": kind, "version": version}
        if capabilities is not None:
            values["capabilities"] = _capabilities(capabilities)
        if last_seen_at is not None:
            values["last_seen_at"] = to_utc(last_seen_at)
        values = {k: v for k, v in values.items() if v is not None}
        async with self._db.begin() as conn:
            if values:
                await conn.execute(
                    runtimes.update().where(runtimes.c.id == runtime_id).values(values)
                )
            row = (await conn.execute(select(runtimes).where(runtimes.c.id == runtime_id))).first()
        if row is None:
            raise NotFound(f"no runtime {runtime_id}")
        return _runtime(row)

    async def _by_instance(self, owner_id: str, instance_id: str) -> RuntimeRecord | None:
        query = select(runtimes).where(
            runtimes.c.owner_id == owner_id, runtimes.c.instance_id == instance_id
        )
        async with self._db.begin() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _runtime(row)


def _capabilities(value: dict[str, Any]) -> str:
    encoded = json.dumps(value, separators=(",", ":"))
    if len(encoded) > MAX_CAPABILITIES:
        raise TooLarge(f"runtime capabilities are over {MAX_CAPABILITIES} bytes")
    return encoded


def _values(record: RuntimeRecord) -> dict[str, Any]:
    return {**vars(record), "capabilities": _capabilities(record.capabilities)}


def _runtime(row: Row[Any]) -> RuntimeRecord:
    return RuntimeRecord(
        id=row.id,
        owner_id=row.owner_id,
        instance_id=row.instance_id,
        name=row.name,
        kind=row.kind,
        version=row.version,
        capabilities=json.loads(row.capabilities or "{}"),
        created_at=utc(row.created_at),
        last_seen_at=utc(row.last_seen_at),
    )
