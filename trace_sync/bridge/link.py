"""The bridge's side of ``/bridge``: one control connection kept up for as long as needed.

It says hello (built fresh on every connect, so ``hosting`` is always what
runs now), heartbeats at the pace the welcome sets, and hands what the server
sends to a :class:`BridgeHandler`: the welcome and ``assign``/``unassign``/
``terminal_*`` in order through one inbox; each ``request`` in a task of its
own (a merge must not hold up keystrokes), its result or error sent back as
a ``reply``. Connection losses reconnect with exponential backoff; refusals
(4400 malformed, 4401 bad token, 4403 not a runtime token, 4409 taken over by
a newer connection) do not. Leaving the block closes with 1000: the server
then counts the runtime as gone at once rather than after its lease.

>>> async with BridgeLink(url, runtime_token, make_hello, handler) as link:
...     welcome = await link.wait_welcomed()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import websockets
from websockets.asyncio.client import ClientConnection

from trace_sync.client.reconnect import (
    REFUSALS,
    Backoff,
    Linked,
    LinkState,
    ReconnectingLink,
    until,
)
from trace_sync.contract.bridge_protocol import (
    BridgeProtocolError,
    ErrorMessage,
    Event,
    Heartbeat,
    Hello,
    Reply,
    ReplyError,
    Request,
    ServerMessage,
    SessionHealth,
    Unknown,
    Welcome,
    encode,
    parse_server_message,
)
from trace_sync.contract.errors import CLOSE_CODE, Conflict, TraceError

log = logging.getLogger(__name__)

#: Close codes after which reconnecting cannot help (4409: a newer connection won).
REFUSED_CODES = REFUSALS | {CLOSE_CODE[Conflict]}
GOING_AWAY = 1000
INBOX_SIZE = 1024


class BridgeHandler(Protocol):
    """What a bridge does with the server's messages."""

    async def welcome(self, welcome: Welcome) -> None:
        """After every (re)connect: host exactly ``welcome.assignments``."""
        ...

    async def message(self, message: ServerMessage) -> None:
        """``assign``, ``unassign``, ``terminal_*`` (and future types), in order."""
        ...

    async def request(self, request: Request) -> Any:
        """Do ``request.op`` and return its JSON result; raise ``TraceError`` to refuse."""
        ...


class BridgeLink(Linked):
    """``async with BridgeLink(server_url, runtime_token, hello, handler)``."""

    def __init__(
        self,
        server_url: str,
        token: str,
        hello: Callable[[], Hello],
        handler: BridgeHandler,
        *,
        health: Callable[[], dict[str, SessionHealth]] | None = None,
        backoff: Backoff | None = None,
        on_state: Callable[[LinkState], None] | None = None,
    ) -> None:
        base = server_url.rstrip("/").replace("http://", "ws://").replace("https://", "wss://")
        self.url = f"{base}/bridge"
        headers = {"Authorization": f"Bearer {token}"}
        self._link = ReconnectingLink(
            lambda: websockets.connect(
                self.url, additional_headers=headers, max_size=None, compression=None
            ),
            self._session,
            name="bridge",
            refusals=REFUSED_CODES,
            backoff=backoff or Backoff(),
            on_state=on_state,
        )
        self._hello = hello
        self._handler = handler
        self._health = health or dict
        self.welcome: Welcome | None = None
        #: The last ``error`` message the server sent before closing.
        self.last_error: ErrorMessage | None = None
        self.heartbeats_sent = 0
        self._welcomed = asyncio.Event()
        self._inbox: asyncio.Queue[Welcome | ServerMessage] = asyncio.Queue(INBOX_SIZE)
        self._tasks: set[asyncio.Task[None]] = set()
        self._consumer: asyncio.Task[None] | None = None

    @property
    def runtime_id(self) -> str | None:
        return self.welcome.runtime_id if self.welcome else None

    async def __aenter__(self) -> BridgeLink:
        self._consumer = asyncio.create_task(self._consume(), name="bridge inbox")
        self._run_link("bridge")
        return self

    async def __aexit__(self, *exc: object) -> None:
        ws = self._link.ws
        if ws is not None:
            with contextlib.suppress(websockets.ConnectionClosed, OSError):
                await ws.close(GOING_AWAY, "bridge shutting down")
        for task in [self._task, self._consumer, *self._tasks]:
            if task is not None:
                task.cancel()
        running = [t for t in [self._task, self._consumer, *self._tasks] if t is not None]
        await asyncio.gather(*running, return_exceptions=True)

    async def wait_welcomed(self, timeout: float = 10.0) -> Welcome:
        """Wait for the server's welcome; raises the matching error if refused."""
        if await until(self._welcomed, self._task, timeout) and self.welcome is not None:
            return self.welcome
        if self.state is LinkState.REFUSED:
            raise self.refusal()
        raise TimeoutError(f"no welcome within {timeout} s ({self.state.value})")

    def refusal(self) -> TraceError:
        """Why the server refused this bridge, as the matching error."""
        error = self._link.refused_as() or TraceError
        reason = self.last_error.message if self.last_error else ""
        return error(f"the server refused this bridge ({self.close_code}): {reason}")

    async def reply(
        self, request_id: str, result: Any = None, error: TraceError | None = None
    ) -> None:
        """Answer a request (done for you when :meth:`BridgeHandler.request` returns)."""
        problem = None if error is None else ReplyError(code=error.code, message=str(error))
        await self._send(Reply(id=request_id, ok=error is None, result=result, error=problem))

    async def send_event(self, session_id: str, kind: str, **payload: Any) -> None:
        """Tell the server something happened (``terminal.opened``, ``terminal.closed``)."""
        await self._send(Event(session_id=session_id, kind=kind, payload=payload))

    # -- one connection ----------------------------------------------------------------

    async def _session(self, ws: ClientConnection) -> None:
        await ws.send(encode(self._hello()))
        beat: asyncio.Task[None] | None = None
        try:
            async for frame in ws:
                message = parse_server_message(frame)
                if isinstance(message, Welcome):
                    self.welcome = message
                    await self._inbox.put(message)
                    self._welcomed.set()
                    self._link.online()
                    if beat is None:
                        beat = asyncio.create_task(self._heartbeat(ws, message.heartbeat_s))
                else:
                    await self._receive(message)
        except BridgeProtocolError as exc:  # closing (1000) and reconnecting may get a good one
            log.error("the server sent a malformed control message", exc_info=exc)
        finally:
            self._welcomed.clear()
            if beat is not None:
                beat.cancel()
                await asyncio.gather(beat, return_exceptions=True)

    async def _receive(self, message: ServerMessage | Unknown) -> None:
        if isinstance(message, Unknown):
            log.info("ignored server message", extra={"type": message.type})
        elif isinstance(message, ErrorMessage):
            self.last_error = message
            log.warning("server error", extra={"code": message.code, "reason": message.message})
        elif isinstance(message, Request):
            task = asyncio.create_task(self._answer(message), name=f"request {message.op}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            await self._inbox.put(message)

    async def _heartbeat(self, ws: ClientConnection, every_s: float) -> None:
        while True:
            beat = Heartbeat(at=datetime.now(UTC), sessions=self._health())
            await ws.send(encode(beat))
            self.heartbeats_sent += 1
            await asyncio.sleep(every_s)

    # -- handing messages on -------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            message = await self._inbox.get()
            try:
                if isinstance(message, Welcome):
                    await self._handler.welcome(message)
                else:
                    await self._handler.message(message)
            except Exception as exc:  # a handler's bug must not stop the link; it is logged
                log.error("bridge handler failed", extra={"type": message.type}, exc_info=exc)

    async def _answer(self, request: Request) -> None:
        result: Any = None
        error: TraceError | None = None
        try:
            result = await self._handler.request(request)
        except TraceError as exc:
            error = exc
        except Exception as exc:  # reported to the waiting service, and logged here
            log.error("request failed", extra={"op": request.op}, exc_info=exc)
            error = TraceError(f"{request.op} failed: {exc}")
        try:
            await self.reply(request.id, result=result, error=error)
        except (Conflict, websockets.ConnectionClosed):
            log.info("reply not sent: the link went down", extra={"op": request.op})

    async def _send(self, message: Reply | Event) -> None:
        ws = self._link.ws
        if ws is None:
            raise Conflict("the bridge is not connected; the server has failed the request")
        await ws.send(encode(message))
