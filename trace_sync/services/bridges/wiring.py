"""Everything the server does about bridges, wired together; ``async with`` only.

    bridges = BridgeServices(store, documents, accounts, sessions, settings, leader=leader)
    async with bridges:   # reconciles after a restart, watches leases and grant expiries
        ...

Entering gives every runtime that holds live sessions one lease to say hello
(the server may have died while its bridges kept running); leaving closes
every bridge connection with 1012 (service restart), so bridges reconnect.

In a cluster each member watches the leases of the bridges connected to it
and renews their ``last_seen_at``; the leader (``cluster.leader``) ends
expired grants and loses the runtimes with live sessions that no member has
heard from within a lease (their member died, or they did), in place of the
lease from start.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Protocol

from trace_sync.bridge.hosts import HOSTS, HostConfig, HostRegistry, load_host
from trace_sync.cluster.leader import Leadership
from trace_sync.contract.errors import TraceError
from trace_sync.services.accounts import AccountService
from trace_sync.services.authority import Authority
from trace_sync.services.bridges.broker import Broker, Elsewhere
from trace_sync.services.bridges.control import BridgeControl
from trace_sync.services.bridges.grants import GrantService
from trace_sync.services.bridges.removals import RemovalService
from trace_sync.services.bridges.router import Router
from trace_sync.services.bridges.runtime_index import RuntimeIndex
from trace_sync.services.bridges.runtimes import Interrupts, RuntimeService
from trace_sync.services.bridges.terminals import TerminalService
from trace_sync.services.bridges.worktrees import Prompts, WorktreeService
from trace_sync.services.documents import Documents
from trace_sync.settings import Settings
from trace_sync.store import Store

log = logging.getLogger(__name__)

SERVICE_RESTART = 1012


class SessionHooks(Interrupts, Prompts, Protocol):
    """What the bridge services ask of the session service."""


class BridgeServices:
    def __init__(
        self,
        store: Store,
        documents: Documents,
        accounts: AccountService,
        sessions: SessionHooks,
        settings: Settings,
        *,
        authority: Authority,
        leader: Leadership | None = None,
        elsewhere: Elsewhere | None = None,
    ) -> None:
        self.timings = timings = settings.bridge
        self._cluster = settings.cluster
        self._leader = leader
        # ``elsewhere``: the other processes of a cluster (trace_sync.cluster.relay).
        self.broker = broker = Broker(timings.request_s, elsewhere)
        self.hosts = HostRegistry()
        if settings.cloud_host in HOSTS:  # others (a test's fake) are added by hand
            config = HostConfig(settings.data_dir, settings.cloud_host_options)
            self.hosts.add(settings.cloud_host, load_host(settings.cloud_host, config))
        index = RuntimeIndex(store, documents)
        self.terminals = TerminalService(store, broker)
        self.grants = GrantService(store, documents, authority)
        self._authority = authority
        self.runtimes = RuntimeService(
            store, accounts, index, broker, sessions, timings, shared=settings.cluster
        )
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
            authority=authority,
        )
        self.removals = RemovalService(store, broker, self.router)
        self.control = BridgeControl(
            store,
            broker,
            self.runtimes,
            self.router,
            self.terminals,
            sessions,
            timings,
            self.removals,
        )
        self.worktrees = WorktreeService(store, documents, broker, self.router.land, sessions)
        self._watcher: asyncio.Task[None] | None = None

    async def __aenter__(self) -> BridgeServices:
        if not self._cluster:  # a member starting must not watch others' bridges
            self.runtimes.watch_from_start(await self.runtimes.live_runtimes())
        self._watcher = asyncio.create_task(self._watch(), name="bridge-leases")
        self._unsubscribe = self._authority.subscribe(self.terminals.changed)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._unsubscribe()
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        await self.hosts.close()  # bridges that die with this server stop; sandboxes run on
        await self.broker.close_all(SERVICE_RESTART, "server shutting down; reconnect")

    async def _watch(self) -> None:
        """Lose runtimes whose lease ran out, end grants whose expiry passed."""
        tick = min(max(self.timings.heartbeat_s / 2, 0.05), 5.0)
        while True:
            await asyncio.sleep(tick)
            try:
                await self.runtimes.expire()
                if self._cluster:
                    await self.runtimes.renew()
                if self._leader is None or self._leader.leading:
                    await self.grants.expire_due()
                    if self._cluster and self._leader is not None:
                        await self.runtimes.sweep(self._leader.since)
            except TraceError as exc:  # the store may be briefly unavailable: next tick
                log.error("bridge watch failed", exc_info=exc)
