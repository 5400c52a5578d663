"""What the ``/bridge`` endpoint calls: hello, heartbeats, replies, events, goodbye.

On hello the server reconciles: a session it believes at work on this
runtime that the bridge does not host (the bridge restarted and its tool
died with it) becomes interrupted with ``session.interrupted`` (the bridge
then resumes the tools that can resume); an idle one stays idle, as nothing
ran; sessions the bridge hosts stay as its io document says; starting
sessions are (re)sent.
Then the runtime gets its welcome: its timings and every session placed on
it that is not archived.
"""

from __future__ import annotations

import logging

from trace_sync.contract.bridge_protocol import Event, Heartbeat, Hello, Reply, Welcome
from trace_sync.contract.errors import Forbidden
from trace_sync.contract.session_status import SessionStatus
from trace_sync.services.bridges.broker import Broker, Channel, Link
from trace_sync.services.bridges.previews import PreviewService
from trace_sync.services.bridges.removals import RemovalService
from trace_sync.services.bridges.router import Router
from trace_sync.services.bridges.runtimes import Interrupts, RuntimeService
from trace_sync.services.bridges.terminals import TerminalService
from trace_sync.services.lifecycle import ACTIVE
from trace_sync.settings import BridgeTimings
from trace_sync.store import Store
from trace_sync.store.records import RuntimeRecord

log = logging.getLogger(__name__)


class BridgeControl:
    def __init__(
        self,
        store: Store,
        broker: Broker,
        runtimes: RuntimeService,
        router: Router,
        terminals: TerminalService,
        sessions: Interrupts,
        timings: BridgeTimings,
        removals: RemovalService | None = None,
    ) -> None:
        self._store = store
        self._broker = broker
        self._runtimes = runtimes
        self._router = router
        self._terminals = terminals
        self._sessions = sessions
        self._timings = timings
        #: Removals owed to a bridge travel in its welcome.
        self.removals = removals
        #: Where ``preview.*`` events go (set once the server's key is loaded).
        self.previews: PreviewService | None = None

    async def hello(self, runtime_id: str | None, hello: Hello, channel: Channel) -> Link:
        """Take the connection as the runtime's, reconcile, and send the welcome.

        Messages services send meanwhile wait until the welcome is out."""
        runtime = await self._store.runtimes.find(runtime_id) if runtime_id else None
        if runtime is None:
            raise Forbidden("this runtime token names no registered runtime")
        link = await self._broker.attach(runtime.id, channel)
        try:
            await self._runtimes.said_hello(runtime.id, hello)
            await self._reconcile(runtime, set(hello.hosting))
            await self._router.claim_waiting(runtime)
            self._terminals.hosted(runtime.id, hello.terminals)
            welcome = await self._welcome(runtime)
            await channel.send(welcome)
            if self.removals is not None:
                await self.removals.sent(welcome.forget)
        except BaseException:
            await self._broker.detach(link)
            raise
        link.ready.set()
        return link

    async def heartbeat(self, link: Link, heartbeat: Heartbeat) -> None:
        if self._broker.is_current(link):
            self._runtimes.heard(link.runtime_id)

    def reply(self, link: Link, reply: Reply) -> None:
        self._broker.resolve(link, reply)

    def event(self, link: Link, event: Event) -> None:
        if not self._broker.is_current(link):
            return
        if event.kind.startswith("preview."):
            if self.previews is not None:
                self.previews.event(link.runtime_id, event)
        else:
            self._terminals.event(link.runtime_id, event)

    async def closed(self, link: Link, *, on_purpose: bool) -> None:
        """The socket closed; a connection that was taken over changes nothing."""
        current = await self._broker.detach(link)
        if self.previews is not None and not await self._broker.connected(link.runtime_id):
            self.previews.forget(link.runtime_id)  # (after a takeover they go on)
        if current:
            await self._runtimes.went_away(link.runtime_id, on_purpose=on_purpose)

    async def _reconcile(self, runtime: RuntimeRecord, hosting: set[str]) -> None:
        active = [s.value for s in ACTIVE]
        for session in await self._store.sessions.on_runtime(runtime.id, active):
            if session.id not in hosting:
                await self._sessions.interrupt(
                    session.id,
                    "session.interrupted",
                    runtime_id=runtime.id,
                    reason="the bridge restarted during a turn",
                )

    async def _welcome(self, runtime: RuntimeRecord) -> Welcome:
        placed = await self._store.sessions.on_runtime(runtime.id)
        kept = [s for s in placed if s.status != SessionStatus.ARCHIVED.value]
        owed = await self.removals.owed(runtime.id) if self.removals is not None else []
        return Welcome(
            runtime_id=runtime.id,
            heartbeat_s=self._timings.heartbeat_s,
            lease_s=self._timings.lease_s,
            assignments=[await self._router.assignment(s) for s in kept],
            forget=owed,
        )
