"""Everything the server does about bridges, wired together; ``async with`` only.

    bridges = BridgeServices(store, documents, accounts, sessions, settings)
    async with bridges:   # reconciles after a restart, watches leases and grant expiries
        ...

Entering gives every runtime that holds live sessions one lease to say hello
(the server may have died while its bridges kept running); leaving closes
every bridge connection with 1012 (service restart), so bridges reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from trace_sync.errors import TraceError
from trace_sync.runtime.hosts import HostRegistry
from trace_sync.services.accounts import AccountService
from trace_sync.services.bridge_control import ControlService
from trace_sync.services.broker import Broker
from trace_sync.services.documents import Documents
from trace_sync.services.grants import GrantService
from trace_sync.services.router import Router
from trace_sync.services.runtime_index import RuntimeIndex
from trace_sync.services.runtimes import Interrupts, RuntimeService
from trace_sync.services.terminals import TerminalService
from trace_sync.services.worktrees import WorktreeService
from trace_sync.settings import Settings
from trace_sync.store import Store

log = logging.getLogger(__name__)

SERVICE_RESTART = 1012


class BridgeServices:
    def __init__(
        self,
        store: Store,
        documents: Documents,
        accounts: AccountService,
        sessions: Interrupts,
        settings: Settings,
    ) -> None:
        self.timings = timings = settings.bridge
        self.broker = broker = Broker(timings.request_s)
        self.hosts = HostRegistry()
        index = RuntimeIndex(store, documents)
        self.terminals = TerminalService(store, broker)
        self.grants = GrantService(store, documents, on_withdrawn=self.terminals.withdrawn)
        self.runtimes = RuntimeService(store, accounts, index, broker, sessions, timings)
        self.runtimes.on_lost(self.terminals.forget)
        self.router = Router(
            store,
            documents,
            broker,
            index,
            accounts,
            self.hosts,
            server_url=settings.base_url,
            cloud_host=settings.cloud_host,
        )
        self.control = ControlService(
            store, broker, self.runtimes, self.router, self.terminals, sessions, timings
        )
        self.worktrees = WorktreeService(store, documents, broker)
        self._watcher: asyncio.Task[None] | None = None

    async def __aenter__(self) -> BridgeServices:
        self.runtimes.watch_from_start(await self.runtimes.live_runtimes())
        self._watcher = asyncio.create_task(self._watch(), name="bridge-leases")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        await self.broker.close_all(SERVICE_RESTART, "server shutting down; reconnect")

    async def _watch(self) -> None:
        """Lose runtimes whose lease ran out, end grants whose expiry passed."""
        tick = min(max(self.timings.heartbeat_s / 2, 0.05), 5.0)
        while True:
            await asyncio.sleep(tick)
            try:
                await self.runtimes.expire()
                await self.grants.expire_due()
            except TraceError as exc:  # the store may be briefly unavailable: next tick
                log.error("bridge watch failed", exc_info=exc)
