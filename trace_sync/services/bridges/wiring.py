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
lease from start, and holds the cloud host for all (cloud_host.py).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from types import TracebackType
from typing import Protocol

from trace_sync.bridge.hosts import HOSTS, HostConfig, HostRegistry, LimitReached, load_host
from trace_sync.cluster.leader import Leadership
from trace_sync.contract.errors import TraceError
from trace_sync.services.accounts import AccountService
from trace_sync.services.authority import Authority
from trace_sync.services.bridges.broker import Broker, Elsewhere
from trace_sync.services.bridges.cloud_host import HostHolder
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
from trace_sync.store.records import SessionRow

log = logging.getLogger(__name__)

SERVICE_RESTART = 1012


class Limits(Protocol):
    """How a host's limit pauses a session (the session service provides it)."""

    async def pause_at_limit(self, session_id: str, reason: str) -> SessionRow | None: ...


class SessionHooks(Interrupts, Prompts, Limits, Protocol):
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
        self._sessions = sessions
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
        self.host_holder = self._host_holder(settings)
        self._watcher: asyncio.Task[None] | None = None

    def _host_holder(self, settings: Settings) -> HostHolder | None:
        name = settings.cloud_host
        if name is None:
            return None
        make = None
        if name in HOSTS:  # others (a test's fake) are added by hand
            config = HostConfig(settings.data_dir, settings.cloud_host_options, self._limit_reached)
            make = functools.partial(load_host, name, config)
        router = self.router
        return HostHolder(
            self.broker, self.hosts, name, make, do=router.host_op, settle=router.settle
        )

    async def _hold_host_if_leading(self) -> None:
        """The leader holds the cloud host (cloud_host.py); a process that stops
        leading lets it go."""
        if self.host_holder is None:
            return
        if self._leader is None or self._leader.leading:
            await self.host_holder.hold()
        else:
            await self.host_holder.let_go()

    async def __aenter__(self) -> BridgeServices:
        if not self._cluster:  # a member starting must not watch others' bridges
            self.runtimes.watch_from_start(await self.runtimes.live_runtimes())
        await self._hold_host_if_leading()
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
        if self.host_holder is not None:
            await self.host_holder.let_go()
        await self.hosts.close()  # bridges that die with this server stop; sandboxes run on
        await self.broker.close_all(SERVICE_RESTART, "server shutting down; reconnect")

    async def _limit_reached(self, reached: LimitReached) -> None:
        """A host's limit (its disk) pauses the session, with the reason on its row."""
        await self._sessions.pause_at_limit(reached.session_id, reached.reason)

    async def _watch(self) -> None:
        """Lose runtimes whose lease ran out, end grants whose expiry passed, hold the
        cloud host while leading."""
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
            try:
                await self._hold_host_if_leading()
            except Exception:  # a host that cannot be made must not end the lease watch
                log.exception("the cloud host could not be held; trying again")
