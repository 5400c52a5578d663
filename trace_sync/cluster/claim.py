"""A server process claims its data for as long as it runs.

One process serves SQLite or PostgreSQL alone: an exclusive lock (``flock`` on a
file beside the SQLite database; a session advisory lock on PostgreSQL). Cluster
members (PostgreSQL and Redis) share a shared advisory lock instead, so they
admit each other but refuse a lone server, and a lone server refuses them. The
operating system or PostgreSQL drops a lock when its process dies: a crash
never leaves the data claimed.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from trace_sync.contract.errors import StoreError
from trace_sync.settings import Settings
from trace_sync.store import Store
from trace_sync.store.database import Database

#: Names the advisory lock of one schema's data (the same in every Trace process).
_SERVER_LOCK = "trace-server:{schema}"
_HINT = (
    "one process serves SQLite, or PostgreSQL without Redis; to run several, "
    "use PostgreSQL and set TRACE_REDIS_URL on every process (cluster mode)"
)


class AlreadyServed(StoreError):
    """Another server process holds this data in a way that excludes this one."""


@asynccontextmanager
async def claimed(store: Store, settings: Settings) -> AsyncIterator[Store]:
    """Open ``store`` with its data claimed; raise :class:`AlreadyServed` if
    another process has it. SQLite is claimed before it is opened, so a refused
    process never touches a database another one serves."""
    db = store.db
    if db.dialect == "sqlite":
        with _FileLock(db.url.database or "", db.where):
            async with store:
                yield store
        return
    async with store, _advisory_lock(db, shared=settings.cluster):
        yield store


class _FileLock:
    def __init__(self, database: str, where: str) -> None:
        self._path = os.path.expanduser(database) + ".server-lock"
        self._where = where
        self._fd = -1

    def __enter__(self) -> None:
        os.makedirs(os.path.dirname(self._path) or ".", exist_ok=True)  # a first start
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            served = f"another Trace server serves the database {self._where}"
            raise AlreadyServed(f"{served}: {_HINT}") from None

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)  # releases the lock


@asynccontextmanager
async def _advisory_lock(db: Database, *, shared: bool) -> AsyncIterator[None]:
    scope = _SERVER_LOCK.format(schema=db.schema or "public")
    how = "_shared" if shared else ""
    # A connection of its own, held while serving: the lock lives with its session.
    async with db.connection() as conn:
        got = await conn.scalar(
            text(f"SELECT pg_try_advisory_lock{how}(hashtextextended(:scope, 0))"),
            {"scope": scope},
        )
        if not got:
            served_by = "a single (non-cluster) Trace server" if shared else "another Trace server"
            raise AlreadyServed(f"{served_by} serves the database {db.where}: {_HINT}")
        yield
