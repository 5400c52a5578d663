"""Commands for bridges connected to other server processes, carried through Redis.

A bridge is connected to one process. Whichever process a command enters
through (an assignment, terminal input, a request such as a worktree read)
finds the holder in the :mod:`~trace_sync.cluster.registry`, posts the command
to its :mod:`~trace_sync.cluster.inbox` and waits for the answer in its own:
the holder does it on its link as one process alone would and answers with
the result or the error. The asker gives up with ``Conflict("runtime
unavailable ...")`` — as for a bridge that is not connected — when no live
process holds the runtime, when the holder stops holding it (it died, or the
bridge moved) and when no answer comes in time. A newer connection of a
runtime on any process closes the older one (4409) wherever it is.

This is the broker's :class:`~trace_sync.services.bridges.broker.Elsewhere`;
``async with BridgeRelay(link) as relay``, then ``Broker(timeout, relay)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Coroutine
from typing import Any, Protocol

from redis.exceptions import RedisError

from trace_sync.cluster.cancelling import stop_if_cancelled
from trace_sync.cluster.inbox import ProcessInbox
from trace_sync.cluster.redis_link import RedisLink
from trace_sync.cluster.registry import TICK_S, Holder, Registry
from trace_sync.contract.bridge_protocol import (
    Event,
    ServerMessage,
    Unknown,
    encode,
    parse_bridge_message,
    parse_server_message,
)
from trace_sync.contract.errors import ERROR_BY_CODE, Conflict, StoreError, TraceError
from trace_sync.services.bridges.broker import SEND_TIMEOUT_S

log = logging.getLogger(__name__)

#: Added to a command's own timeout for the trip through Redis and back.
MARGIN_S = 2.0
#: Pause before reading the inbox again after a Redis error.
RETRY_S = 0.5
#: Events waiting to be handed to other processes; beyond it they are dropped (logged).
TELLING = 4096


class Here(Protocol):
    """What the holder does for other processes: the broker, on its own links."""

    async def send_here(self, runtime_id: str, message: ServerMessage) -> None: ...

    async def request_here(
        self, runtime_id: str, op: str, session_id: str, args: dict[str, Any]
    ) -> Any: ...

    def taken_over(self, runtime_id: str, epoch: int) -> None: ...

    def event_here(self, runtime_id: str, event: Event) -> None: ...


class BridgeRelay:
    def __init__(self, link: RedisLink) -> None:
        # Bounded calls: a wedged connection fails (the asker gets a Conflict) and is
        # made again, instead of stalling commands or a shutdown.
        self._redis = link.open()
        self.process = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._registry = Registry(self._redis, self.process, link.prefix)
        self._inbox = ProcessInbox(self._redis, self.process, link.prefix)
        self._here: Here | None = None
        #: Runtimes this process holds: runtime id -> epoch of its claim.
        self._held: dict[str, int] = {}
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: Events for other processes, posted one at a time so they arrive in order.
        self._telling: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(TELLING)

    def serve(self, here: Here) -> None:
        self._here = here

    async def __aenter__(self) -> BridgeRelay:
        self._spawn(self._read(), name="bridge-relay-read")
        self._spawn(self._renew(), name="bridge-relay-renew")
        self._spawn(self._tell(), name="bridge-relay-tell")
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for future in self._waiting.values():
            future.cancel()
        for runtime_id, epoch in list(self._held.items()):  # the others need not wait for expiry
            await self.release(runtime_id, epoch)
        await self._redis.aclose()

    # -- the broker's Elsewhere --------------------------------------------------------

    async def claim(self, runtime_id: str) -> int:
        try:
            mine, former = await self._registry.claim(runtime_id)
        except RedisError as exc:  # refused (1011): the bridge tries again later
            raise StoreError(f"cannot reach Redis to register the bridge: {exc}") from exc
        self._held[runtime_id] = mine.epoch
        if former is not None and former.process != self.process:
            take = {"do": "take", "runtime": runtime_id, "epoch": mine.epoch}
            try:
                await self._inbox.post(former.process, take)
            except RedisError as exc:  # it finds the newer claim when it next renews
                log.warning("Redis unreachable: takeover not posted: %s", exc)
        return mine.epoch

    async def release(self, runtime_id: str, epoch: int) -> None:
        if self._held.get(runtime_id) == epoch:
            del self._held[runtime_id]
        try:
            await self._registry.release(runtime_id, epoch)
        except RedisError as exc:  # its entry expires by itself
            log.warning("Redis unreachable: bridge entry left to expire: %s", exc)

    async def holds(self, runtime_id: str) -> bool:
        try:
            return await self._holder(runtime_id) is not None
        except Conflict:
            return False

    async def send(self, runtime_id: str, message: ServerMessage) -> None:
        command = {"do": "send", "runtime": runtime_id, "message": encode(message)}
        await self._ask(runtime_id, command, SEND_TIMEOUT_S + MARGIN_S)

    async def request(
        self, runtime_id: str, op: str, session_id: str, args: dict[str, Any], timeout_s: float
    ) -> Any:
        command = {"do": "request", "runtime": runtime_id, "op": op, "session": session_id}
        return await self._ask(runtime_id, command | {"args": args}, timeout_s + MARGIN_S)

    def tell(self, process: str, runtime_id: str, event: Event) -> None:
        told = {"do": "event", "runtime": runtime_id, "event": encode(event)}
        try:
            self._telling.put_nowait((process, told))
        except asyncio.QueueFull:
            log.warning("bridge relay behind: an event for another process dropped")

    async def _tell(self) -> None:
        while True:
            process, told = await self._telling.get()
            try:
                await self._inbox.post(process, told)
            except RedisError as exc:  # a preview's frame lost, as on a broken link
                log.warning("Redis unreachable: an event for another process lost: %s", exc)

    # -- asking ------------------------------------------------------------------------

    async def _holder(self, runtime_id: str) -> Holder | None:
        """Another process holding the runtime; ``Conflict`` if Redis cannot say."""
        try:
            holder = await self._registry.holder(runtime_id)
        except RedisError as exc:
            raise Conflict(f"runtime unavailable: cannot reach Redis to find {runtime_id}") from exc
        return holder if holder is not None and holder.process != self.process else None

    async def _ask(self, runtime_id: str, command: dict[str, Any], timeout_s: float) -> Any:
        holder = await self._holder(runtime_id)
        if holder is None:
            raise Conflict(f"runtime unavailable: {runtime_id} is not connected")
        asked = secrets.token_hex(8)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[asked] = future
        try:
            await self._post(holder.process, command | {"id": asked, "from": self.process})
            return await self._answer(future, runtime_id, holder, timeout_s)
        finally:
            self._waiting.pop(asked, None)

    async def _post(self, process: str, command: dict[str, Any]) -> None:
        try:
            await self._inbox.post(process, command)
        except RedisError as exc:
            raise Conflict(f"runtime unavailable: cannot reach Redis: {exc}") from exc

    async def _answer(
        self, future: asyncio.Future[Any], runtime_id: str, holder: Holder, timeout_s: float
    ) -> Any:
        """The holder's answer; while waiting, give up as soon as it stops holding."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                holding = f"the server process holding {runtime_id}"
                raise Conflict(f"runtime unavailable: no answer from {holding}")
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(asyncio.shield(future), min(left, TICK_S))
            if await self._holder(runtime_id) != holder:
                raise Conflict(
                    f"runtime unavailable: the server process holding {runtime_id} "
                    "let it go (it stopped, or the bridge moved)"
                )

    # -- answering ---------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            stop_if_cancelled()
            try:
                messages = await self._inbox.receive()
            except RedisError as exc:
                log.warning("Redis unreachable: bridge inbox not read: %s", exc)
                await asyncio.sleep(RETRY_S)
                continue
            for message in messages:
                self._take(message)

    def _take(self, message: dict[str, Any]) -> None:
        kind = message.get("do")
        if kind == "reply":
            self._replied(message)
        elif kind == "take":
            self._taken(message["runtime"], int(message["epoch"]))
        elif kind in ("send", "request"):
            self._spawn(self._serve(message), name=f"bridge-relay-{kind}")
        elif kind == "event":  # taken at once, so they stay in the order they came
            self._handed_over(message)
        else:
            log.warning("unknown bridge relay command", extra={"do": kind})

    def _replied(self, message: dict[str, Any]) -> None:
        future = self._waiting.get(message.get("id", ""))
        if future is None or future.done():
            return  # its asker gave up
        if message.get("ok"):
            future.set_result(message.get("result"))
        else:
            error = ERROR_BY_CODE.get(message.get("code", ""), Conflict)
            future.set_exception(error(message.get("message", "the bridge failed")))

    def _handed_over(self, message: dict[str, Any]) -> None:
        event = parse_bridge_message(message["event"])
        if isinstance(event, Event) and self._here is not None:
            self._here.event_here(message["runtime"], event)

    def _taken(self, runtime_id: str, epoch: int) -> None:
        if self._held.get(runtime_id, epoch) < epoch:
            del self._held[runtime_id]
        if self._here is not None:
            self._here.taken_over(runtime_id, epoch)

    async def _serve(self, command: dict[str, Any]) -> None:
        answer: dict[str, Any] = {"do": "reply", "id": command["id"]}
        try:
            answer |= {"ok": True, "result": await self._do(command)}
        except TraceError as exc:
            answer |= {"ok": False, "code": exc.code, "message": str(exc)}
        try:
            await self._inbox.post(command["from"], answer)
        except RedisError as exc:  # the asker gives up on its own
            log.warning("Redis unreachable: bridge relay answer lost: %s", exc)

    async def _do(self, command: dict[str, Any]) -> Any:
        runtime_id = command["runtime"]
        if self._here is None:
            raise Conflict(f"runtime unavailable: {runtime_id} is not connected")
        if command["do"] == "request":
            op, session_id, args = command["op"], command["session"], command["args"]
            return await self._here.request_here(runtime_id, op, session_id, args)
        message = parse_server_message(command["message"])
        if isinstance(message, Unknown):
            raise Conflict(f"this server process cannot send {message.type} messages")
        await self._here.send_here(runtime_id, message)
        return None

    async def _renew(self) -> None:
        while True:
            stop_if_cancelled()
            await asyncio.sleep(TICK_S)
            try:
                lost = await self._registry.renew(dict(self._held))
            except RedisError as exc:
                log.warning("Redis unreachable: bridge entries not renewed: %s", exc)
                continue
            for runtime_id, epoch in lost.items():
                self._taken(runtime_id, epoch)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
