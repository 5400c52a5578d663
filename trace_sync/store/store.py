"""The store: one database, its update log, accounts, directory, repos and sessions."""

from __future__ import annotations

from types import TracebackType

from trace_sync.metrics import Metrics
from trace_sync.store.accounts import Accounts
from trace_sync.store.budgets import Budgets
from trace_sync.store.database import Database
from trace_sync.store.destinations import Destinations
from trace_sync.store.directory import Directory
from trace_sync.store.grants import Grants
from trace_sync.store.idempotency import IdempotencyKeys
from trace_sync.store.inbox import Inbox
from trace_sync.store.invitations import Invitations
from trace_sync.store.removals import Removals
from trace_sync.store.repos import Repos
from trace_sync.store.runtimes import Runtimes
from trace_sync.store.search import SearchIndex
from trace_sync.store.secrets import Secrets
from trace_sync.store.sessions import Sessions
from trace_sync.store.updates import UpdateLog


class Store:
    """Persistence for one server, ``async with`` only::

        async with Store("sqlite+aiosqlite:///trace.db") as store:
            await store.updates.append("session/s_1/notes", update)
            user = await store.accounts.create_user("ada")

    Entering opens the database, applies migrations and starts the
    group-commit writer; leaving commits every pending update (raising
    ``StoreError`` if that fails), waits for running compactions and closes
    the database. ``schema`` (PostgreSQL only) keeps the tables in a schema of
    their own, created if missing.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        commit_delay_s: float = 0.0,
        compact_after_updates: int = 2000,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = Database(url, schema)
        self.updates = UpdateLog(
            self.db,
            commit_delay_s=commit_delay_s,
            compact_after_updates=compact_after_updates,
            metrics=metrics,
        )
        self.accounts = Accounts(self.db)
        self.directory = Directory(self.db)
        self.invitations = Invitations(self.db)
        self.repos = Repos(self.db)
        self.sessions = Sessions(self.db)
        self.idempotency = IdempotencyKeys(self.db)
        self.search = SearchIndex(self.db)
        self.runtimes = Runtimes(self.db)
        self.grants = Grants(self.db)
        self.removals = Removals(self.db)
        self.inbox = Inbox(self.db)
        self.destinations = Destinations(self.db)
        self.budgets = Budgets(self.db)
        self.secrets = Secrets(self.db)

    async def __aenter__(self) -> Store:
        await self.db.__aenter__()
        try:
            await self.updates.__aenter__()
        except BaseException:
            await self.db.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.updates.__aexit__(exc_type, exc, tb)
        finally:
            await self.db.__aexit__(exc_type, exc, tb)
