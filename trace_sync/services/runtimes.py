"""Runtimes: registering bridges, their tokens, and their liveness.

A runtime is alive while it is heard from: its hello and heartbeats renew a
lease of ``lease_s``. When the lease runs out (silent socket, closed socket
and no reconnect, or a server restart it never came back from) the runtime is
lost: every live session on it becomes failed with ``runtime.lost`` and is
marked interrupted, so nothing is shown running when nothing runs. A bridge
that closes its socket on purpose (close code 1000) is lost at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from trace_sync.auth.principal import Principal
from trace_sync.errors import NotFound
from trace_sync.runtime.protocol import Hello
from trace_sync.services.accounts import AccountService
from trace_sync.services.broker import Broker
from trace_sync.services.lifecycle import LIVE
from trace_sync.services.runtime_index import RuntimeIndex
from trace_sync.settings import BridgeTimings
from trace_sync.store import Store
from trace_sync.store.records import GrantState, RuntimeRecord, SessionRow, TokenKind

log = logging.getLogger(__name__)

#: Close code for a bridge whose lease ran out while its socket stayed open.
LEASE_EXPIRED = 4408
_LIVE = [s.value for s in LIVE]


class Interrupts(Protocol):
    """How the runtime side fails a session (the session service provides it)."""

    async def interrupt(self, session_id: str, kind: str, **payload: Any) -> SessionRow | None: ...


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
            await store.accounts.revoke_token(token.id)
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
    ) -> None:
        self._store = store
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
        await self._index.publish(runtime, online=self.online(runtime.id))
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
        return [RuntimeView(r, self.online(r.id)) for r in [*mine, *theirs]]

    def online(self, runtime_id: str) -> bool:
        return self._broker.connected(runtime_id)

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
            await self.lose(runtime_id, f"not heard from in {self._timings.lease_s:g} s")
            # Closed after its sessions are failed: whoever sees the close sees them failed.
            await self._broker.drop(runtime_id, LEASE_EXPIRED, "no heartbeat within the lease")
        return due

    def on_lost(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(runtime_id)`` whenever a runtime is lost."""
        self._lost_listeners.append(listener)

    async def lose(self, runtime_id: str, why: str) -> None:
        """Fail the runtime's live sessions (interrupted) and show it offline."""
        log.warning("runtime lost", extra={"runtime": runtime_id, "why": why})
        for listener in self._lost_listeners:
            listener(runtime_id)
        for session in await self._store.sessions.on_runtime(runtime_id, _LIVE):
            await self._sessions.interrupt(
                session.id, "runtime.lost", runtime_id=runtime_id, reason=why
            )
        try:
            runtime = await self._store.runtimes.get(runtime_id)
        except NotFound:
            return
        await self._index.publish(runtime, online=False)


def _now() -> float:
    return asyncio.get_running_loop().time()
