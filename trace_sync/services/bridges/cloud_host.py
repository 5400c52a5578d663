"""The cloud host, held by one server process and reached by all as a bridge is.

A cloud host (sandbox, docker) keeps the boxes it started in its memory, and
notes them in its directory, from which a host made later adopts them. So
that every process of a cluster reaches the same boxes, one process at a time
holds the host, the leader, and the broker carries the others' host
operations to it as it carries requests to a bridge connected elsewhere: the
held host is a link under the runtime id :data:`CLOUD_HOST`. The process that
begins to hold it makes the host (which adopts what a former holder started);
one that stops holding closes it (the boxes run on). One process alone always
holds it::

    holder = HostHolder(broker, hosts, "docker", make, do=router.host_op, settle=router.settle)
    await holder.hold()          # while this process leads
    await broker.request(CLOUD_HOST, "stop", session_id, {})   # from any process
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from trace_sync.bridge.hosts import HostAdapter, HostRegistry
from trace_sync.contract.bridge_protocol import Reply, ReplyError, Request, ServerMessage
from trace_sync.contract.errors import TraceError
from trace_sync.services.bridges.broker import Broker, Link

log = logging.getLogger(__name__)

#: The held host's runtime id. No runtime has it: theirs are made by ``new_id``.
CLOUD_HOST = "cloud-host"

#: Does one host operation (``op``, its session, its arguments); its result is JSON.
HostOp = Callable[[str, str, dict[str, Any]], Awaitable[Any]]


class _HostChannel:
    """The held host as a broker link's channel: each request is done here and
    answered on the link, as a bridge would."""

    def __init__(self, broker: Broker, do: HostOp) -> None:
        self._broker = broker
        self._do = do
        self.link: Link | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def send(self, message: ServerMessage) -> None:
        if isinstance(message, Request):
            self._spawn(self._answer(message))

    async def close(self, code: int, reason: str) -> None:
        """The link is gone (this process stops, or another took the host)."""

    async def _answer(self, request: Request) -> None:
        try:
            result = await self._do(request.op, request.session_id, request.args)
            reply = Reply(id=request.id, ok=True, result=result)
        except TraceError as exc:
            error = ReplyError(code=exc.code, message=str(exc)[:4096])
            reply = Reply(id=request.id, ok=False, error=error)
        if self.link is not None:
            self._broker.resolve(self.link, reply)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name="cloud-host-op")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class HostHolder:
    """Holds the host ``name`` of ``hosts`` for the cluster while told to.

    ``make``: builds the host when holding begins (None: one added to ``hosts``
    by hand, a test's fake, is used as it is and kept)."""

    def __init__(
        self,
        broker: Broker,
        hosts: HostRegistry,
        name: str,
        make: Callable[[], HostAdapter] | None,
        *,
        do: HostOp,
        settle: Callable[[HostAdapter], Awaitable[None]],
    ) -> None:
        self._broker = broker
        self._hosts = hosts
        self._name = name
        self._make = make
        self._do = do
        self._settle = settle
        self._channel: _HostChannel | None = None

    @property
    def holding(self) -> bool:
        channel = self._channel
        return (
            channel is not None
            and channel.link is not None
            and self._broker.is_current(channel.link)
        )

    async def hold(self) -> None:
        """Hold the host (again, if another process took it meanwhile). A host made
        for an attempt that Redis refused is kept for the next one."""
        if self.holding:
            return
        await self.let_go()
        if self._make is not None and self._name not in self._hosts.names():
            self._hosts.add(self._name, self._make())  # it adopts the boxes running
        channel = _HostChannel(self._broker, self._do)
        channel.link = await self._broker.attach(CLOUD_HOST, channel)
        channel.link.ready.set()  # nothing to welcome
        self._channel = channel
        log.info("this process holds the %s host", self._name)
        if self._name in self._hosts.names():  # (a test adds its fake after this)
            # A stop asked while no process held the host reached no box.
            await self._settle(self._hosts.get(self._name))

    async def let_go(self) -> None:
        """Stop holding: operations go to whichever process holds it next."""
        channel, self._channel = self._channel, None
        if channel is None:
            return
        if channel.link is not None:
            await self._broker.detach(channel.link)
        if self._make is not None:
            await self._hosts.remove(self._name)  # its boxes run on, for the next holder
        log.info("this process no longer holds the %s host", self._name)
