"""The live control connections of bridges, and requests that wait for their replies.

At most one connection per runtime: a new one takes over and the old one is
closed with 4409. Services send messages to a runtime by id and ask it for
operations with :meth:`Broker.request`; a runtime that is not connected, or
does not answer in time, makes the request fail with ``Conflict("runtime
unavailable ...")`` at once instead of hanging the caller.

No websocket types here: the endpoint hands in a :class:`Channel`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from trace_sync.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    TraceError,
)
from trace_sync.runtime.protocol import Reply, Request, ServerMessage
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


@dataclass(eq=False)
class Link:
    """A runtime's current connection and the requests waiting on it."""

    runtime_id: str
    channel: Channel
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
    def __init__(self, request_timeout_s: float) -> None:
        self._timeout = request_timeout_s
        self._links: dict[str, Link] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- connections -----------------------------------------------------------------

    def attach(self, runtime_id: str, channel: Channel) -> Link:
        """Make ``channel`` the runtime's connection; an older one is closed (4409)."""
        old = self._links.get(runtime_id)
        link = Link(runtime_id, channel)
        self._links[runtime_id] = link
        if old is not None:
            old.end("another connection of this runtime took over")
            self._spawn(
                old.channel.close(TAKEN_OVER, "another connection of this runtime took over")
            )
        return link

    def detach(self, link: Link) -> bool:
        """Forget ``link``; True if it was still the runtime's current connection."""
        link.end("the bridge disconnected")
        if self._links.get(link.runtime_id) is link:
            del self._links[link.runtime_id]
            return True
        return False

    def is_current(self, link: Link) -> bool:
        return self._links.get(link.runtime_id) is link

    def connected(self, runtime_id: str) -> bool:
        return runtime_id in self._links

    async def drop(self, runtime_id: str, code: int, reason: str) -> None:
        """Close the runtime's connection, if any (its lease ran out, say)."""
        link = self._links.pop(runtime_id, None)
        if link is not None:
            link.end(reason)
            await link.channel.close(code, reason)

    async def close_all(self, code: int, reason: str) -> None:
        links, self._links = list(self._links.values()), {}
        for link in links:
            link.end(reason)
        await asyncio.gather(*(link.channel.close(code, reason) for link in links))
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- messages --------------------------------------------------------------------

    async def send(self, runtime_id: str, message: ServerMessage) -> None:
        """Send to the runtime now; ``Conflict`` if it is not connected or stuck."""
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
        link = self._links.get(runtime_id)
        if link is None:
            raise Conflict(f"runtime unavailable: {runtime_id} is not connected")
        request_id = new_id("q")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        link.pending[request_id] = future
        try:
            await self.send(
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
