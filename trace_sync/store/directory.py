"""Workspaces and their members: with sessions, the facts the permission policy reads."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from trace_sync.contract.errors import InvalidInput, NotFound
from trace_sync.store.database import Database, now, utc
from trace_sync.store.ids import new_id
from trace_sync.store.records import Member, Role, Workspace
from trace_sync.store.schema import members, workspaces

MAX_NAME = 200


class Directory:
    """Who belongs where; reach it as ``store.directory``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_workspace(self, name: str, owner_id: str) -> Workspace:
        """Create a workspace with ``owner_id`` as its owner, in one transaction."""
        workspace = Workspace(new_id("w"), _workspace_name(name), now())
        owner = {"workspace_id": workspace.id, "user_id": owner_id, "role": Role.OWNER.value}
        try:
            async with self._db.begin() as conn:
                await conn.execute(workspaces.insert().values(vars(workspace)))
                await conn.execute(members.insert().values(owner))
        except NotFound as exc:
            raise NotFound(f"no user {owner_id}") from exc
        return workspace

    async def rename_workspace(self, workspace_id: str, name: str) -> Workspace:
        name = _workspace_name(name)
        query = workspaces.update().where(workspaces.c.id == workspace_id).values(name=name)
        async with self._db.begin() as conn:
            changed = await conn.execute(query)
        if changed.rowcount == 0:
            raise NotFound(f"no workspace {workspace_id}")
        return await self.get_workspace(workspace_id)

    async def get_workspace(self, workspace_id: str) -> Workspace:
        """The workspace with this id, or ``NotFound``."""
        query = select(workspaces).where(workspaces.c.id == workspace_id)
        async with self._db.begin() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"no workspace {workspace_id}")
        return _workspace(row)

    async def list_workspaces(self, user_id: str | None = None) -> list[Workspace]:
        """Every workspace, or those ``user_id`` is a member of; oldest first."""
        query = select(workspaces).order_by(workspaces.c.created_at, workspaces.c.id)
        if user_id is not None:
            query = query.join(members).where(members.c.user_id == user_id)
        async with self._db.begin() as conn:
            return [_workspace(row) for row in await conn.execute(query)]

    async def set_member(self, workspace_id: str, user_id: str, role: Role) -> Member:
        """Add ``user_id`` to the workspace with ``role``, or change their role."""
        insert = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
        values = {"workspace_id": workspace_id, "user_id": user_id, "role": role.value}
        upsert = insert(members).values(values)
        upsert = upsert.on_conflict_do_update(
            index_elements=[members.c.workspace_id, members.c.user_id],
            set_={"role": upsert.excluded.role},
        )
        try:
            async with self._db.begin() as conn:
                await conn.execute(upsert)
        except NotFound as exc:
            raise NotFound(f"no workspace {workspace_id} or no user {user_id}") from exc
        return Member(workspace_id, user_id, role)

    async def remove_member(self, workspace_id: str, user_id: str) -> None:
        """Remove ``user_id`` from the workspace (``NotFound`` if not a member)."""
        query = members.delete().where(
            members.c.workspace_id == workspace_id, members.c.user_id == user_id
        )
        async with self._db.begin() as conn:
            removed = await conn.execute(query)
        if removed.rowcount == 0:
            raise NotFound(f"{user_id} is not a member of {workspace_id}")

    async def role_of(self, workspace_id: str, user_id: str) -> Role | None:
        """The member's role, or ``None`` for a non-member."""
        query = select(members.c.role).where(
            members.c.workspace_id == workspace_id, members.c.user_id == user_id
        )
        async with self._db.begin() as conn:
            role = (await conn.execute(query)).scalar()
        return None if role is None else Role(role)

    async def roles_of(self, user_id: str, workspace_ids: Collection[str]) -> dict[str, Role]:
        """The user's role in each of ``workspace_ids`` they are a member of, in one query."""
        if not workspace_ids:
            return {}
        query = select(members.c.workspace_id, members.c.role).where(
            members.c.user_id == user_id, members.c.workspace_id.in_(list(workspace_ids))
        )
        async with self._db.begin() as conn:
            return {row.workspace_id: Role(row.role) for row in await conn.execute(query)}

    async def members(self, workspace_id: str) -> list[Member]:
        """The workspace's members, strongest role first."""
        query = select(members).where(members.c.workspace_id == workspace_id)
        async with self._db.begin() as conn:
            found = [
                Member(r.workspace_id, r.user_id, Role(r.role)) for r in await conn.execute(query)
            ]
        order = list(Role)
        return sorted(found, key=lambda m: (order.index(m.role), m.user_id))


def _workspace_name(name: str) -> str:
    name = name.strip()
    if not 0 < len(name) <= MAX_NAME:
        raise InvalidInput(f"workspace names are 1-{MAX_NAME} characters")
    return name


def _workspace(row: Row[Any]) -> Workspace:
    return Workspace(id=row.id, name=row.name, created_at=utc(row.created_at))
