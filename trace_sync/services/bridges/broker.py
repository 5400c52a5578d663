"""The live control connections of bridges, and requests that wait for their replies.

At most one connection per runtime: a new one takes over and the old one is
closed with 4409. Services send messages to a runtime by id and ask it for
operations with :meth:`Broker.request`; a runtime that is not connected, or
does not answer in time, makes the request fail with ``Conflict("runtime
unavailable ...")`` at once instead of hanging the caller.

In cluster mode a runtime may be connected to another server process: the
broker then hands what is not for a link of its own to :class:`Elsewhere`
(:mod:`trace_sync.cluster.relay`), which carries it there and back; one
process alone has none and keeps everything here.

No websocket types here: the endpoint hands in a :class:`Channel`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from trace_sync.contract.bridge_protocol import Event, Reply, Request, ServerMessage
from trace_sync.contract.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    TraceError,
)
from trace_sync.store.ids import new_id

log = logging.getLogger(__name__)

TAKEN_OVER = 4409
#: Bridge error codes a service re-raises as the same kind of error.
_ERRORS: dict[str, type[TraceError]] = {
    cls.code: cls for cls in (NotFound, Forbidden, InvalidInput, TooLarge, Conflict)
}
#: A send to a bridge that has not taken a frame for this long gives up.
SEND_TIMEOUT_S = 10.0


class Channel(Protocol):
    """One control connection, as the endpoint provides it."""

    async def send(self, message: ServerMessage) -> None: ...

    async def close(self, code: int, reason: str) -> None:
        """Tell the bridge why (an ``error`` message), then close with ``code``."""
        ...


class Elsewhere(Protocol):
    """The runtimes connected to the other processes of a cluster."""

    def serve(self, here: Broker) -> None:
        """Do what other processes ask of the runtimes connected to ``here``."""
        ...

    async def claim(self, runtime_id: str) -> int:
        """This process holds the runtime now; return the claim's epoch (newer
        claims have larger ones). Another process holding it closes its link."""
        ...

    async def release(self, runtime_id: str, epoch: int) -> None:
        """The link of claim ``epoch`` is gone (unless a newer claim replaced it)."""
        ...

    async def holds(self, runtime_id: str) -> bool:
        """Whether another live process holds the runtime."""
        ...

    async def send(self, runtime_id: str, message: ServerMessage) -> None:
        """Like :meth:`Broker.send`, on the process holding the runtime."""
        ...

    async def request(
        self, runtime_id: str, op: str, session_id: str, args: dict[str, Any], timeout_s: float
    ) -> Any:
        """Like :meth:`Broker.request`, on the process holding the runtime."""
        ...

    @property
    def process(self) -> str:
        """This process's name in the cluster."""
        ...

    def tell(self, process: str, runtime_id: str, event: Event) -> None:
        """Hand ``event`` of the runtime, in order, to the broker of ``process``."""
        ...


@dataclass(eq=False)
class Link:
    """A runtime's current connection and the requests waiting on it."""

    runtime_id: str
    channel: Channel
    #: The cluster claim of this link (0 on one process alone).
    epoch: int = 0
    pending: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    #: Set once the welcome is out (or the link is gone): sends wait for it.
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    gone: bool = False

    def end(self, why: str) -> None:
        """No more traffic: waiting requests fail, waiting sends give up."""
        self.gone = True
        self.ready.set()
        for future in self.pending.values():
            if not future.done():
                future.set_exception(Conflict(f"runtime unavailable: {why}"))
        self.pending.clear()


class Broker:
    def __init__(self, request_timeout_s: float, elsewhere: Elsewhere | None = None) -> None:
        self._timeout = request_timeout_s
        self._elsewhere = elsewhere
        self._links: dict[str, Link] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: Where events handed over by another process go (previews' frames for a
        #: browser connected here, while the bridge is connected there).
        self.handed_over: Callable[[str, Event], None] | None = None
        if elsewhere is not None:
            elsewhere.serve(self)

    @property
    def process(self) -> str:
        """This process's name in the cluster; empty for a process alone."""
        return self._elsewhere.process if self._elsewhere is not None else ""

    # -- connections -----------------------------------------------------------------

    async def attach(self, runtime_id: str, channel: Channel) -> Link:
        """Make ``channel`` the runtime's connection; an older one is closed (4409),
        here or on whichever process holds it."""
        old = self._links.get(runtime_id)
        link = Link(runtime_id, channel)
        self._links[runtime_id] = link
        if old is not None:
            self._take_over(old)
        if self._elsewhere is not None:
            try:
                link.epoch = await self._elsewhere.claim(runtime_id)
            except BaseException:  # refused: no link left behind
                link.end("the connection could not be registered")
                if self._links.get(runtime_id) is link:
                    del self._links[runtime_id]
                raise
        return link

    async def detach(self, link: Link) -> bool:
        """Forget ``link``; True if it was still the runtime's current connection."""
        link.end("the bridge disconnected")
        if self._links.get(link.runtime_id) is link:
            del self._links[link.runtime_id]
            await self._release(link)
            return True
        return False

    def is_current(self, link: Link) -> bool:
        return self._links.get(link.runtime_id) is link

    def here(self, runtime_id: str) -> bool:
        """Whether the runtime is connected to this process."""
        return runtime_id in self._links

    async def connected(self, runtime_id: str) -> bool:
        """Whether the runtime is connected, to this process or another."""
        return self.here(runtime_id) or await self.elsewhere(runtime_id)

    async def elsewhere(self, runtime_id: str) -> bool:
        """Whether another process of the cluster holds the runtime's connection."""
        if self._elsewhere is None or self.here(runtime_id):
            return False
        return await self._elsewhere.holds(runtime_id)

    async def drop(self, runtime_id: str, code: int, reason: str) -> None:
        """Close the runtime's connection here, if any (its lease ran out, say)."""
        link = self._links.pop(runtime_id, None)
        if link is not None:
            link.end(reason)
            await self._release(link)
            await link.channel.close(code, reason)

    def taken_over(self, runtime_id: str, epoch: int) -> None:
        """A newer claim (``epoch``) on another process took the runtime: close the
        link here if it is older. It is not this process's to release or lose."""
        link = self._links.get(runtime_id)
        if link is not None and link.epoch < epoch:
            del self._links[runtime_id]
            self._take_over(link)

    async def close_all(self, code: int, reason: str) -> None:
        links, self._links = list(self._links.values()), {}
        for link in links:
            link.end(reason)
        await asyncio.gather(*(self._release(link) for link in links))
        await asyncio.gather(*(link.channel.close(code, reason) for link in links))
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _take_over(self, old: Link) -> None:
        why = "another connection of this runtime took over"
        old.end(why)
        self._spawn(old.channel.close(TAKEN_OVER, why))

    async def _release(self, link: Link) -> None:
        if self._elsewhere is not None:
            await self._elsewhere.release(link.runtime_id, link.epoch)

    # -- messages --------------------------------------------------------------------

    def hand_over(self, process: str, runtime_id: str, event: Event) -> None:
        """Pass an event of the runtime to ``process``, whose it is (see
        :attr:`handed_over`); nothing for this process or a process alone."""
        if self._elsewhere is not None and process and process != self.process:
            self._elsewhere.tell(process, runtime_id, event)

    def event_here(self, runtime_id: str, event: Event) -> None:
        """An event another process handed over (see :meth:`hand_over`)."""
        if self.handed_over is not None:
            self.handed_over(runtime_id, event)

    async def send(self, runtime_id: str, message: ServerMessage) -> None:
        """Send to the runtime now; ``Conflict`` if it is not connected or stuck."""
        if self._elsewhere is not None and not self.here(runtime_id):
            await self._elsewhere.send(runtime_id, message)
            return
        await self.send_here(runtime_id, message)

    async def send_here(self, runtime_id: str, message: ServerMessage) -> None:
        """:meth:`send` on this process's link only."""
        link = self._links.get(runtime_id)
        if link is None:
            raise Conflict(f"runtime unavailable: {runtime_id} is not connected")
        try:
            await asyncio.wait_for(_send_when_ready(link, message), SEND_TIMEOUT_S)
        except (TimeoutError, OSError, RuntimeError) as exc:
            raise Conflict(f"runtime unavailable: cannot reach {runtime_id}") from exc

    async def offer(self, runtime_id: str, message: ServerMessage) -> bool:
        """Send if connected; False otherwise (the message is in its next welcome)."""
        try:
            await self.send(runtime_id, message)
        except Conflict as exc:
            log.info("not delivered to runtime", extra={"runtime": runtime_id, "why": str(exc)})
            return False
        return True

    async def request(self, runtime_id: str, op: str, session_id: str, args: dict[str, Any]) -> Any:
        """Ask the runtime to do ``op`` and return its result; its errors come back
        as the matching :class:`TraceError`, silence as ``Conflict``."""
        if self._elsewhere is not None and not self.here(runtime_id):
            return await self._elsewhere.request(runtime_id, op, session_id, args, self._timeout)
        return await self.request_here(runtime_id, op, session_id, args)

    async def request_here(
        self, runtime_id: str, op: str, session_id: str, args: dict[str, Any]
    ) -> Any:
        """:meth:`request` on this process's link only."""
        link = self._links.get(runtime_id)
        if link is None:
            raise Conflict(f"runtime unavailable: {runtime_id} is not connected")
        request_id = new_id("q")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        link.pending[request_id] = future
        try:
            await self.send_here(
                runtime_id, Request(id=request_id, op=op, session_id=session_id, args=args)
            )
            return await asyncio.wait_for(future, self._timeout)
        except TimeoutError as exc:
            raise Conflict(f"runtime unavailable: no reply to {op} in {self._timeout:g} s") from exc
        finally:
            link.pending.pop(request_id, None)

    def resolve(self, link: Link, reply: Reply) -> None:
        """A reply arrived on ``link``; late or unknown replies are dropped."""
        future = link.pending.pop(reply.id, None)
        if future is None or future.done():
            log.info("reply to no waiting request", extra={"request": reply.id})
            return
        if reply.ok:
            future.set_result(reply.result)
            return
        assert reply.error is not None  # a reply that is not ok carries one (validated)
        error = _ERRORS.get(reply.error.code, Conflict)
        future.set_exception(error(reply.error.message))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _send_when_ready(link: Link, message: ServerMessage) -> None:
    await link.ready.wait()
    if link.gone:
        raise ConnectionError("the bridge disconnected")
    await link.channel.send(message)
