"""Where each person's notifications go, sealed; and action links already used."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, delete, select

from trace_sync.contract.errors import Conflict, NotFound
from trace_sync.store.database import Database, now, utc
from trace_sync.store.ids import new_id
from trace_sync.store.schema import action_uses, notify_destinations


@dataclass(frozen=True)
class Destination:
    id: str
    user_id: str
    #: The Apprise URL, encrypted with the server's key (never shown).
    url_sealed: bytes
    #: What people see of it: the scheme and host, tokens left out.
    hint: str
    #: Inbox kinds it receives; empty: all.
    events: frozenset[str]
    #: "HH:MM-HH:MM" in ``timezone``, or None.
    quiet: str | None
    timezone: str
    created_at: datetime


class Destinations:
    """Reach it as ``store.destinations``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        user_id: str,
        url_sealed: bytes,
        hint: str,
        events: frozenset[str],
        quiet: str | None,
        timezone: str,
    ) -> Destination:
        found = Destination(new_id("nd"), user_id, url_sealed, hint, events, quiet, timezone, now())
        values = {**vars(found), "events": ",".join(sorted(events))}
        async with self._db.begin() as conn:
            await conn.execute(notify_destinations.insert().values(values))
        return found

    async def of_user(self, user_id: str) -> list[Destination]:
        query = (
            select(notify_destinations)
            .where(notify_destinations.c.user_id == user_id)
            .order_by(notify_destinations.c.created_at, notify_destinations.c.id)
        )
        async with self._db.begin() as conn:
            return [_destination(row) for row in await conn.execute(query)]

    async def remove(self, user_id: str, destination_id: str) -> None:
        where = (notify_destinations.c.id == destination_id) & (
            notify_destinations.c.user_id == user_id
        )
        async with self._db.begin() as conn:
            done = await conn.execute(delete(notify_destinations).where(where))
        if done.rowcount == 0:
            raise NotFound(f"no notification destination {destination_id}")

    async def use_once(self, nonce: str) -> None:
        """Record an action link's use; ``Conflict`` if it was used before. Uses
        older than a day are forgotten: their links expired long before."""
        try:
            async with self._db.begin() as conn:
                stale = action_uses.c.used_at < now() - timedelta(days=1)
                await conn.execute(delete(action_uses).where(stale))
                await conn.execute(action_uses.insert().values(nonce=nonce, used_at=now()))
        except Conflict as exc:
            raise Conflict("this action link was used already") from exc


def _destination(row: Row[Any]) -> Destination:
    return Destination(
        id=row.id,
        user_id=row.user_id,
        url_sealed=bytes(row.url_sealed),
        hint=row.hint,
        events=frozenset(e for e in row.events.split(",") if e),
        quiet=row.quiet,
        timezone=row.timezone,
        created_at=utc(row.created_at),
    )
