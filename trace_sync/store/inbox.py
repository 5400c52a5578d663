"""The attention inbox: what needs each person, read or not, and the sessions they follow.

One row per person and thing; ``key`` names the thing, so deriving the same
item twice (a document loaded again after a restart) adds nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from trace_sync.store.database import Database, now, utc
from trace_sync.store.schema import follows, inbox_items


@dataclass(frozen=True)
class NewItem:
    """An item to put in a person's inbox (its id and times are the store's)."""

    user_id: str
    key: str
    kind: str
    workspace_id: str
    session_id: str
    title: str
    body: str
    request_id: str | None = None


@dataclass(frozen=True)
class InboxItem:
    id: int
    user_id: str
    key: str
    kind: str
    workspace_id: str
    session_id: str
    title: str
    body: str
    request_id: str | None
    created_at: datetime
    read_at: datetime | None
    resolved_at: datetime | None


class Inbox:
    """Reach it as ``store.inbox``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, items: Sequence[NewItem]) -> list[InboxItem]:
        """Put ``items`` in; return the ones that were not there yet."""
        insert = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
        added: list[InboxItem] = []
        async with self._db.begin() as conn:
            for item in items:
                values = {**vars(item), "created_at": now()}
                query = insert(inbox_items).values(values).on_conflict_do_nothing()
                row = (await conn.execute(query.returning(*inbox_items.c))).first()
                if row is not None:
                    added.append(_item(row))
        return added

    async def page(
        self,
        user_id: str,
        *,
        unread: bool = False,
        open_only: bool = True,
        before: int | None = None,
        limit: int = 50,
    ) -> list[InboxItem]:
        """A person's items, newest first."""
        where = [inbox_items.c.user_id == user_id]
        if unread:
            where.append(inbox_items.c.read_at.is_(None))
        if open_only:
            where.append(inbox_items.c.resolved_at.is_(None))
        if before is not None:
            where.append(inbox_items.c.id < before)
        query = select(inbox_items).where(and_(*where)).order_by(inbox_items.c.id.desc())
        async with self._db.begin() as conn:
            return [_item(row) for row in await conn.execute(query.limit(limit))]

    async def get(self, item_id: int) -> InboxItem | None:
        async with self._db.begin() as conn:
            row = (
                await conn.execute(select(inbox_items).where(inbox_items.c.id == item_id))
            ).first()
        return None if row is None else _item(row)

    async def unread(self, user_id: str) -> list[tuple[int, str]]:
        """(id, session id) of a person's unread open items."""
        query = select(inbox_items.c.id, inbox_items.c.session_id).where(
            inbox_items.c.user_id == user_id,
            inbox_items.c.read_at.is_(None),
            inbox_items.c.resolved_at.is_(None),
        )
        async with self._db.begin() as conn:
            return [(row.id, row.session_id) for row in await conn.execute(query)]

    async def mark_read(self, user_id: str, ids: Collection[int] | None) -> int:
        """Mark a person's items read (``None``: all of them); how many changed."""
        where = [inbox_items.c.user_id == user_id, inbox_items.c.read_at.is_(None)]
        if ids is not None:
            where.append(inbox_items.c.id.in_(list(ids)))
        async with self._db.begin() as conn:
            done = await conn.execute(update(inbox_items).where(*where).values(read_at=now()))
        return int(done.rowcount)

    async def resolve(self, keys: Collection[str]) -> set[str]:
        """Everyone's items for these things need nothing more; whose they were."""
        if not keys:
            return set()
        where = [inbox_items.c.key.in_(list(keys)), inbox_items.c.resolved_at.is_(None)]
        query = update(inbox_items).where(*where).values(resolved_at=now())
        async with self._db.begin() as conn:
            done = await conn.execute(query.returning(inbox_items.c.user_id))
            return {row.user_id for row in done}

    async def open_keys(self, session_id: str, prefix: str) -> set[str]:
        """Keys of the session's unresolved items that start with ``prefix``."""
        query = select(inbox_items.c.key).where(
            inbox_items.c.session_id == session_id,
            inbox_items.c.resolved_at.is_(None),
            inbox_items.c.key.startswith(prefix, autoescape=True),
        )
        async with self._db.begin() as conn:
            return {row.key for row in await conn.execute(query.distinct())}

    async def holders(self, session_id: str) -> set[str]:
        """Who has open items of the session."""
        query = select(inbox_items.c.user_id).where(
            inbox_items.c.session_id == session_id, inbox_items.c.resolved_at.is_(None)
        )
        async with self._db.begin() as conn:
            return {row.user_id for row in await conn.execute(query.distinct())}

    async def count(self, user_id: str) -> int:
        query = select(func.count()).where(inbox_items.c.user_id == user_id)
        async with self._db.begin() as conn:
            return int((await conn.execute(query)).scalar() or 0)

    # -- follows -------------------------------------------------------------------

    async def follow(self, user_id: str, session_id: str, on: bool) -> None:
        async with self._db.begin() as conn:
            await conn.execute(
                delete(follows).where(
                    follows.c.user_id == user_id, follows.c.session_id == session_id
                )
            )
            if on:
                await conn.execute(follows.insert().values(user_id=user_id, session_id=session_id))

    async def followers(self, session_id: str) -> set[str]:
        query = select(follows.c.user_id).where(follows.c.session_id == session_id)
        async with self._db.begin() as conn:
            return {row.user_id for row in await conn.execute(query)}


def _item(row: Row[Any]) -> InboxItem:
    fields = row._mapping
    return InboxItem(
        **{k: fields[k] for k in ("id", "user_id", "key", "kind", "workspace_id", "session_id")},
        title=fields["title"],
        body=fields["body"],
        request_id=fields["request_id"],
        created_at=utc(fields["created_at"]),
        read_at=utc(fields["read_at"]),
        resolved_at=utc(fields["resolved_at"]),
    )
