"""Runtimes: registering bridges, their tokens, and their liveness.

A runtime is alive while it is heard from: its hello and heartbeats renew a
lease of ``lease_s``. When the lease runs out (silent socket, closed socket
and no reconnect, or a server restart it never came back from) the runtime is
lost: every session at work on it becomes interrupted with ``runtime.lost``,
so nothing is shown running when nothing runs; idle and paused ones stay (no
turn was cut off, and their bridge starts the tool again when it is back). A
bridge that closes its socket on purpose (close code 1000) is lost at once.

In a cluster (``shared``) a member knows only the bridges connected to it:
it renews their ``last_seen_at`` in the store (:meth:`renew`), leaves a
bridge that went away to whichever member it reconnects to, and the leader
loses the runtimes nobody renewed within a lease (:meth:`sweep`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from trace_sync.auth.principal import Principal
from trace_sync.contract.bridge_protocol import Hello
from trace_sync.contract.errors import NotFound
from trace_sync.contract.session_status import SessionStatus
from trace_sync.services.accounts import AccountService
from trace_sync.services.bridges.broker import Broker
from trace_sync.services.bridges.runtime_index import RuntimeIndex
from trace_sync.services.lifecycle import AT_WORK, LIVE
from trace_sync.settings import BridgeTimings
from trace_sync.store import Store
from trace_sync.store.records import GrantState, RuntimeRecord, SessionRow, TokenKind

log = logging.getLogger(__name__)

#: Close code for a bridge whose lease ran out while its socket stayed open.
LEASE_EXPIRED = 4408
_LIVE = [s.value for s in LIVE]


class Interrupts(Protocol):
    """How the runtime side marks a session's turn cut off (the session service provides it)."""

    async def interrupt(
        self,
        session_id: str,
        kind: str,
        cut_off: frozenset[SessionStatus] = AT_WORK,
        **payload: Any,
    ) -> SessionRow | None: ...


@dataclass(frozen=True)
class Registered:
    runtime: RuntimeRecord
    #: A fresh runtime token: shown once, kept by the bridge.
    token: str


@dataclass(frozen=True)
class RuntimeView:
    runtime: RuntimeRecord
    online: bool


async def issue_runtime_token(
    store: Store, accounts: AccountService, runtime: RuntimeRecord
) -> str:
    """A new token for ``runtime``; its earlier tokens are revoked."""
    for token in await store.accounts.list_tokens(runtime.owner_id):
        if token.runtime_id == runtime.id and token.revoked_at is None:
            await accounts.retire_token(token.id)
    issued = await accounts.issue_token(
        runtime.owner_id, f"runtime {runtime.name}", TokenKind.RUNTIME, runtime.id
    )
    return issued.token


class RuntimeService:
    def __init__(
        self,
        store: Store,
        accounts: AccountService,
        index: RuntimeIndex,
        broker: Broker,
        sessions: Interrupts,
        timings: BridgeTimings,
        *,
        shared: bool = False,
    ) -> None:
        self._store = store
        self._shared = shared
        #: Runtime id -> loop time its ``last_seen_at`` was last written (shared only).
        self._renewed: dict[str, float] = {}
        #: Runtime id -> the ``last_seen_at`` it was swept at (lost once per silence).
        self._swept: dict[str, datetime] = {}
        self._accounts = accounts
        self._index = index
        self._broker = broker
        self._sessions = sessions
        self._timings = timings
        #: Runtime id -> loop time its lease runs out (only runtimes being watched).
        self._deadlines: dict[str, float] = {}
        self._lost_listeners: list[Callable[[str], None]] = []

    # -- people --------------------------------------------------------------------------

    async def register(
        self, actor: Principal, instance_id: str, name: str, kind: str
    ) -> Registered:
        """The actor's runtime for this instance (made once) and a fresh token for it."""
        runtime = await self._store.runtimes.register(actor.user_id, instance_id, name, kind)
        token = await issue_runtime_token(self._store, self._accounts, runtime)
        await self._index.publish(runtime, online=await self.online(runtime.id))
        return Registered(runtime, token)

    async def visible(self, actor: Principal) -> list[RuntimeView]:
        """The actor's runtimes, then those they hold (or asked for) a grant on."""
        mine = await self._store.runtimes.of_owners([actor.user_id])
        wanted = {GrantState.PENDING, GrantState.APPROVED}
        granted = {
            g.runtime_id
            for g in await self._store.grants.of_grantee(actor.user_id)
            if g.state in wanted
        }
        theirs = await self._store.runtimes.of_ids(sorted(granted))
        return [RuntimeView(r, await self.online(r.id)) for r in [*mine, *theirs]]

    async def online(self, runtime_id: str) -> bool:
        return await self._broker.connected(runtime_id)

    # -- the bridge's side ---------------------------------------------------------------

    async def said_hello(self, runtime_id: str, hello: Hello) -> RuntimeRecord:
        """Record what the bridge says about itself and start its lease. Its
        kind stays as registered: a sandbox cannot pass itself off as a desktop."""
        tools = [t.model_dump(exclude_none=True) for t in hello.tools]
        runtime = await self._store.runtimes.update(
            runtime_id,
            name=hello.name,
            version=hello.version,
            capabilities={"tools": tools},
            last_seen_at=datetime.now(UTC),
        )
        self.heard(runtime_id)
        await self._index.publish(runtime, online=True)
        return runtime

    def heard(self, runtime_id: str) -> None:
        """A heartbeat (or hello): the lease starts over."""
        self._deadlines[runtime_id] = _now() + self._timings.lease_s

    async def went_away(self, runtime_id: str, *, on_purpose: bool) -> None:
        """The runtime's socket closed. On purpose: lost now; else the lease decides."""
        if on_purpose:
            self._deadlines.pop(runtime_id, None)
            await self.lose(runtime_id, "the bridge shut down")
            return
        if await self._broker.elsewhere(runtime_id):
            return  # it reconnected to another process already: online there
        runtime = await self._store.runtimes.update(runtime_id, last_seen_at=datetime.now(UTC))
        await self._index.publish(runtime, online=False)

    def watch_from_start(self, runtime_ids: set[str]) -> None:
        """Server start: runtimes with live sessions have one lease to say hello."""
        for runtime_id in runtime_ids:
            self._deadlines.setdefault(runtime_id, _now() + self._timings.lease_s)

    async def live_runtimes(self) -> set[str]:
        return await self._store.sessions.runtimes_hosting(_LIVE)

    async def expire(self) -> list[str]:
        """Lose every runtime whose lease ran out; return their ids."""
        now = _now()
        due = [rid for rid, deadline in self._deadlines.items() if deadline <= now]
        for runtime_id in due:
            del self._deadlines[runtime_id]
            if self._shared and not self._broker.here(runtime_id):
                continue  # it may be on another member now: the leader's sweep decides
            await self.lose(
                runtime_id, f"the bridge was not heard from in {self._timings.lease_s:g} s"
            )
            # Closed after its sessions are marked: whoever sees the close sees them interrupted.
            await self._broker.drop(runtime_id, LEASE_EXPIRED, "no heartbeat within the lease")
        return due

    async def renew(self) -> None:
        """Cluster: tell the others that this member still hears its bridges, by
        writing their ``last_seen_at`` every quarter lease."""
        now, lease = _now(), self._timings.lease_s
        for runtime_id, deadline in list(self._deadlines.items()):
            if not self._broker.here(runtime_id):
                self._renewed.pop(runtime_id, None)
            elif now - self._renewed.get(runtime_id, float("-inf")) >= lease / 4:
                self._renewed[runtime_id] = now
                heard_ago = timedelta(seconds=now - (deadline - lease))
                seen = datetime.now(UTC) - heard_ago
                await self._store.runtimes.update(runtime_id, last_seen_at=seen)

    async def sweep(self, leading_since: datetime) -> list[str]:
        """Cluster leader: lose the runtimes with live sessions that no member
        has heard from within a lease; return their ids. A new leader gives each
        one lease from ``leading_since`` (bridges of a restarted cluster are
        still reconnecting). Losing is idempotent (a session is cut off once),
        so an old and a new leader may both sweep."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self._timings.lease_s)
        lost = []
        for runtime_id in sorted(await self.live_runtimes()):
            if self._broker.here(runtime_id):
                continue  # its lease is watched here
            try:
                runtime = await self._store.runtimes.get(runtime_id)
            except NotFound:
                continue
            seen = max(runtime.last_seen_at or runtime.created_at, leading_since)
            if seen > cutoff or self._swept.get(runtime_id) == seen:
                continue
            self._swept[runtime_id] = seen
            await self.lose(
                runtime_id, f"the bridge was not heard from in {self._timings.lease_s:g} s"
            )
            lost.append(runtime_id)
        return lost

    def on_lost(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(runtime_id)`` whenever a runtime is lost."""
        self._lost_listeners.append(listener)

    async def lose(self, runtime_id: str, why: str) -> None:
        """Mark the runtime's sessions at work interrupted and show it offline."""
        log.warning("runtime lost", extra={"runtime": runtime_id, "why": why})
        for listener in self._lost_listeners:
            listener(runtime_id)
        try:
            runtime: RuntimeRecord | None = await self._store.runtimes.get(runtime_id)
        except NotFound:
            runtime = None
        # A desktop bridge comes back with its sessions; a lost sandbox or container
        # does not, so its idle sessions wait for a resume to start another.
        cloud = runtime is not None and runtime.kind != "desktop"
        cut_off = AT_WORK | {SessionStatus.IDLE} if cloud else AT_WORK
        for session in await self._store.sessions.on_runtime(runtime_id, _LIVE):
            await self._sessions.interrupt(
                session.id, "runtime.lost", cut_off, runtime_id=runtime_id, reason=why
            )
        if runtime is not None:
            await self._index.publish(runtime, online=False)


def _now() -> float:
    return asyncio.get_running_loop().time()
