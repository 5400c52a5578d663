"""Which server process runs the background jobs of the whole cluster.

Jobs that act on everybody's data — ending expired grants, losing runtimes no
process hears from — run on one process at a time, the leader: the one that
holds a PostgreSQL advisory lock (``trace-leader:<schema>``) on a connection
of its own. The others try for it every :data:`RETRY_S`; PostgreSQL drops the
lock with its connection, so when the leader dies (even by SIGKILL) another
takes over within seconds. The leader checks its connection as often; if the
connection breaks, it stops leading at once and tries again like the others.

A handover may leave two processes believing they lead for up to
:data:`RETRY_S` (an old leader whose connection broke without it noticing
yet): the jobs' outputs are idempotent (compare-and-set rows), so that costs
nothing but a repeated check.

Without a cluster (SQLite, or PostgreSQL without Redis) one process serves
the data and always leads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from trace_sync.contract.errors import TraceError
from trace_sync.store.database import Database

log = logging.getLogger(__name__)

_LEADER_LOCK = "trace-leader:{schema}"
#: How often a follower tries for the lock, and the leader checks its connection.
RETRY_S = 2.0


class Leadership:
    """``async with Leadership(db) as leader``; jobs run while ``leader.leading``.

    ``db`` None: the only process, always leading. ``on_change(leading)`` is
    told every change (the ``trace_leader`` metric)."""

    def __init__(
        self,
        db: Database | None,
        *,
        retry_s: float = RETRY_S,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self._db = db
        self._retry_s = retry_s
        self._on_change = on_change
        self._leading = db is None
        self._since = datetime.now(UTC)
        self._task: asyncio.Task[None] | None = None

    @property
    def leading(self) -> bool:
        return self._leading

    @property
    def since(self) -> datetime:
        """When this process last began to lead (or to follow)."""
        return self._since

    async def __aenter__(self) -> Leadership:
        if self._db is not None:
            self._task = asyncio.create_task(self._campaign(self._db), name="cluster-leader")
        self._tell()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._set(False)

    async def _campaign(self, db: Database) -> None:
        while True:
            try:
                async with db.connection() as conn:
                    try:
                        await self._lead_while_held(
                            conn, _LEADER_LOCK.format(schema=db.schema or "public")
                        )
                    finally:
                        self._set(False)
                        # Closed, not pooled: the lock ends with the connection.
                        await conn.invalidate()
            except (TraceError, OSError) as exc:  # PostgreSQL away: try again
                log.warning("leader election: %s", exc)
            except Exception:  # whatever broke, this process must keep asking
                log.exception("leader election failed; trying again")
            await asyncio.sleep(self._retry_s)

    async def _lead_while_held(self, conn: AsyncConnection, scope: str) -> None:
        lock = text("SELECT pg_try_advisory_lock(hashtextextended(:scope, 0))")
        while True:  # another process leads: ask again
            if await conn.scalar(lock, {"scope": scope}):
                break
            await asyncio.sleep(self._retry_s)
        self._set(True)
        while True:  # a broken connection raises here: the lock is gone with it
            await asyncio.sleep(self._retry_s)
            await conn.scalar(text("SELECT 1"))

    def _set(self, leading: bool) -> None:
        if leading != self._leading:
            self._leading, self._since = leading, datetime.now(UTC)
            if self._db is not None:  # news only where there is an election
                says = "leads" if leading else "no longer leads"
                log.info("this process %s the cluster's background jobs", says)
            self._tell()

    def _tell(self) -> None:
        if self._on_change is not None:
            self._on_change(self._leading)
