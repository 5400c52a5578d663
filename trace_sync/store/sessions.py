"""Session rows: access facts, what a session runs, and where it stands.

The documents hold everything a person sees; these rows hold what must be
queried (lists, pages, filters) or changed atomically (status moves are
compare-and-set, so two people's commands never both win).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, or_, select

from trace_sync.contract.errors import Conflict, NotFound
from trace_sync.contract.tools import Location, PermissionMode, Tool
from trace_sync.store.database import Database, now, utc
from trace_sync.store.ids import check_id, new_id
from trace_sync.store.records import SessionAccess, SessionRow
from trace_sync.store.schema import sessions

_FIELDS = [f.name for f in fields(SessionRow)]


@dataclass(frozen=True)
class PageAfter:
    """Where a page of sessions (newest activity first) continues."""

    last_activity_at: datetime
    session_id: str


@dataclass(frozen=True)
class Viewer:
    """Whose list it is: private sessions show only to those :func:`can_see` allows."""

    user_id: str
    is_admin: bool


class Sessions:
    """Reach it as ``store.sessions``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        workspace_id: str,
        creator_id: str,
        *,
        session_id: str | None = None,
        private: bool = False,
        title: str = "",
        tool: Tool = "shell",
        model: str | None = None,
        repo_id: str | None = None,
        base_branch: str | None = None,
        branch: str | None = None,
        status: str = "created",
        location: Location = "local",
        parent_id: str | None = None,
        parent_checkpoint: int | None = None,
        permission_mode: PermissionMode = "ask",
    ) -> SessionRow:
        """Record a session (``Conflict`` if ``session_id`` is taken, ``NotFound``
        for an unknown workspace, creator or repo)."""
        sid = new_id("s") if session_id is None else check_id(session_id, "session id")
        created = now()
        row = SessionRow(
            id=sid,
            workspace_id=workspace_id,
            creator_id=creator_id,
            owner_id=creator_id,
            private=private,
            runtime_id=None,
            title=title,
            tool=tool,
            model=model,
            repo_id=repo_id,
            base_branch=base_branch,
            branch=branch,
            status=status,
            location=location,
            parent_id=parent_id,
            parent_checkpoint=parent_checkpoint,
            created_at=created,
            last_activity_at=created,
            cost_usd=0.0,
            permission_mode=permission_mode,
        )
        try:
            async with self._db.begin() as conn:
                await conn.execute(sessions.insert().values(vars(row)))
        except NotFound as exc:
            raise NotFound(f"no workspace {workspace_id}, user {creator_id} or repo") from exc
        return row

    async def get(self, session_id: str) -> SessionRow:
        found = await self.find(session_id)
        if found is None:
            raise NotFound(f"no session {session_id}")
        return found

    async def find(self, session_id: str) -> SessionRow | None:
        async with self._db.begin() as conn:
            row = (await conn.execute(select(sessions).where(sessions.c.id == session_id))).first()
        return None if row is None else _session(row)

    async def find_many(self, session_ids: Collection[str]) -> list[SessionRow]:
        """Those of ``session_ids`` that exist, in one query."""
        if not session_ids:
            return []
        query = select(sessions).where(sessions.c.id.in_(list(session_ids)))
        async with self._db.begin() as conn:
            return [_session(row) for row in await conn.execute(query)]

    async def access(self, session_id: str) -> SessionAccess | None:
        """What the permission policy needs about a session, or ``None``."""
        found = await self.find(session_id)
        return None if found is None else found.access

    async def update(
        self, session_id: str, *, expect: Mapping[str, Any] | None = None, **values: Any
    ) -> SessionRow:
        """Change fields of a session and return it as stored now.

        With ``expect`` (field: value, such as the status) the change applies
        only if the row still holds those values; otherwise ``Conflict`` names
        the status found, so a command decided on a stale row never overwrites
        a newer one.
        """
        expect = expect or {}
        unknown = (set(values) | set(expect)) - set(_FIELDS)
        if unknown:
            raise ValueError(f"no such session fields: {sorted(unknown)}")
        condition = sessions.c.id == session_id
        for name, value in expect.items():  # a None compares as IS NULL
            condition = and_(condition, sessions.c[name] == value)
        async with self._db.begin() as conn:
            changed = await conn.execute(sessions.update().where(condition).values(values))
            row = (await conn.execute(select(sessions).where(sessions.c.id == session_id))).first()
        if row is None:
            raise NotFound(f"no session {session_id}")
        if changed.rowcount == 0:
            raise Conflict(f"session {session_id} changed meanwhile ({row.status} now); try again")
        return _session(row)

    async def touch(self, session_id: str, **values: Any) -> SessionRow:
        """:meth:`update` that also records activity now."""
        return await self.update(session_id, last_activity_at=now(), **values)

    async def assign_runtime(self, session_id: str, runtime_id: str | None) -> None:
        """Set (or clear, with ``None``) the runtime hosting a session."""
        await self.update(session_id, runtime_id=runtime_id)

    async def on_runtime(self, runtime_id: str, statuses: Collection[str] = ()) -> list[SessionRow]:
        """Sessions placed on a runtime (only those in ``statuses``, when given)."""
        query = select(sessions).where(sessions.c.runtime_id == runtime_id)
        if statuses:
            query = query.where(sessions.c.status.in_(list(statuses)))
        async with self._db.begin() as conn:
            return [_session(row) for row in await conn.execute(query.order_by(sessions.c.id))]

    async def awaiting_runtime(self, owner_id: str, status: str) -> list[SessionRow]:
        """Local sessions of ``owner_id`` in ``status`` that no runtime hosts yet."""
        query = select(sessions).where(
            sessions.c.owner_id == owner_id,
            sessions.c.runtime_id.is_(None),
            sessions.c.location == "local",
            sessions.c.status == status,
        )
        async with self._db.begin() as conn:
            return [_session(row) for row in await conn.execute(query.order_by(sessions.c.id))]

    async def runtimes_hosting(self, statuses: Collection[str]) -> set[str]:
        """Runtimes that hold at least one session in ``statuses``."""
        query = (
            select(sessions.c.runtime_id)
            .where(sessions.c.runtime_id.is_not(None), sessions.c.status.in_(list(statuses)))
            .distinct()
        )
        async with self._db.begin() as conn:
            return {str(rid) for rid in (await conn.execute(query)).scalars()}

    async def page(
        self,
        workspace_id: str,
        viewer: Viewer,
        *,
        statuses: Collection[str] = (),
        after: PageAfter | None = None,
        limit: int = 50,
    ) -> list[SessionRow]:
        """Sessions of a workspace the viewer may see, most recent activity first."""
        query = select(sessions).where(sessions.c.workspace_id == workspace_id)
        if not viewer.is_admin:
            mine = or_(
                sessions.c.creator_id == viewer.user_id, sessions.c.owner_id == viewer.user_id
            )
            query = query.where(or_(sessions.c.private.is_(False), mine))
        if statuses:
            query = query.where(sessions.c.status.in_(list(statuses)))
        if after is not None:
            older = sessions.c.last_activity_at < after.last_activity_at
            same_time = and_(
                sessions.c.last_activity_at == after.last_activity_at,
                sessions.c.id < after.session_id,
            )
            query = query.where(or_(older, same_time))
        query = query.order_by(sessions.c.last_activity_at.desc(), sessions.c.id.desc())
        async with self._db.begin() as conn:
            return [_session(row) for row in await conn.execute(query.limit(limit))]

    async def count_using_repo(self, repo_id: str) -> int:
        query = select(func.count()).select_from(sessions).where(sessions.c.repo_id == repo_id)
        async with self._db.begin() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def delete(self, session_id: str) -> None:
        """Delete the row; its search entries go with it (``ON DELETE CASCADE``)."""
        # The cascade reaches SQLite's FTS5 index, which reads before it writes:
        # take the write lock up front (see trace_sync.store.search).
        async with self._db.begin(exclusive=True) as conn:
            removed = await conn.execute(sessions.delete().where(sessions.c.id == session_id))
        if removed.rowcount == 0:
            raise NotFound(f"no session {session_id}")


def _session(row: Row[Any]) -> SessionRow:
    values = {name: getattr(row, name) for name in _FIELDS}
    found = SessionRow(**values)
    return replace(
        found,
        owner_id=found.owner_id or found.creator_id,
        created_at=utc(found.created_at),
        last_activity_at=utc(found.last_activity_at or found.created_at),
        heartbeat_at=utc(found.heartbeat_at),
    )
