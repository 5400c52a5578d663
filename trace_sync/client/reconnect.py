"""One websocket kept up: connect, hand the connection over, back off, reconnect.

Shared by :class:`~trace_sync.client.sync_client.SyncClient` (a document on
``/sync``) and :class:`~trace_sync.bridge.link.BridgeLink` (a bridge's control
connection on ``/bridge``). Connection losses reconnect with exponential
backoff, which starts over after a connection that came online (a document
synced, a bridge welcomed); a close code that says "no" (a bad token, a
missing permission) ends the loop, since retrying cannot fix it.

>>> link = ReconnectingLink(lambda: websockets.connect(url), session, name="session/s_1")
>>> await link.run()  # returns once refused; cancel it to stop
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from trace_sync.contract.errors import (
    CLOSE_CODE,
    ERROR_BY_CLOSE_CODE,
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    TraceError,
    Unauthorized,
)

log = logging.getLogger(__name__)

#: Close codes after which reconnecting cannot help.
REFUSALS = frozenset(
    CLOSE_CODE[kind] for kind in (InvalidInput, Unauthorized, Forbidden, NotFound, TooLarge)
)


class LinkState(StrEnum):
    CONNECTING = "connecting"
    #: Usable: the document has synced, the bridge has been welcomed.
    SYNCED = "synced"
    ONLINE = "synced"
    OFFLINE = "offline"
    REFUSED = "refused"


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: ``first`` doubling up to ``longest``, with jitter."""

    first: float = 0.25
    longest: float = 10.0

    def delay(self, attempt: int) -> float:
        return float(min(self.longest, self.first * 2**attempt) * random.uniform(0.8, 1.2))


class ReconnectingLink:
    """``await link.run()``: each connection ``connect()`` opens goes to ``session``.

    ``session`` calls :meth:`online` once the connection is usable, and
    returns (or raises a connection error) when it ends. ``on_state`` hears
    every :class:`LinkState` change.
    """

    def __init__(
        self,
        connect: Callable[[], AbstractAsyncContextManager[ClientConnection]],
        session: Callable[[ClientConnection], Awaitable[None]],
        *,
        name: str,
        refusals: Collection[int] = REFUSALS,
        backoff: Backoff = Backoff(),
        on_state: Callable[[LinkState], None] | None = None,
    ) -> None:
        self._connect = connect
        self._session = session
        self.name = name
        self._refusals = refusals
        self._backoff = backoff
        self._on_state = on_state
        self.state = LinkState.OFFLINE
        #: How the last connection was closed (``None`` while connected or never).
        self.close_code: int | None = None
        #: The open connection, if any.
        self.ws: ClientConnection | None = None

    def online(self) -> None:
        """The connection is usable; after it ends, reconnecting starts quickly again."""
        self._set_state(LinkState.ONLINE)

    def refused_as(self) -> type[TraceError] | None:
        """The error the server's refusal stands for, once refused."""
        if self.state is not LinkState.REFUSED or self.close_code is None:
            return None
        return ERROR_BY_CLOSE_CODE.get(self.close_code, TraceError)

    def raise_refusal(self) -> None:
        """Raise the error the server's refusal stands for, if it refused."""
        error = self.refused_as()
        if error is not None:
            raise error(f"the server refused {self.name} (close code {self.close_code})")

    async def run(self) -> None:
        """Keep connecting until the server refuses; cancel to stop."""
        attempt = 0
        while True:
            self._set_state(LinkState.CONNECTING)
            self.close_code = None
            try:
                async with self._connect() as ws:
                    self.ws = ws
                    await self._session(ws)
            except (OSError, websockets.InvalidHandshake, websockets.ConnectionClosed) as exc:
                log.debug("link lost", extra={"link": self.name, "error": str(exc)})
            finally:
                if self.ws is not None:
                    self.close_code = self.ws.close_code
                self.ws = None
            if self.close_code in self._refusals:
                self._set_state(LinkState.REFUSED)
                return
            if self.state is LinkState.ONLINE:
                attempt = 0  # it worked for a while: retry quickly
            self._set_state(LinkState.OFFLINE)
            await asyncio.sleep(self._backoff.delay(attempt))
            attempt += 1

    def _set_state(self, state: LinkState) -> None:
        if state is not self.state:
            self.state = state
            if self._on_state is not None:
                self._on_state(state)


class Linked:
    """A client kept up by a :class:`ReconnectingLink` (``_link``), run as a task."""

    _link: ReconnectingLink
    _task: asyncio.Task[None] | None = None

    @property
    def state(self) -> LinkState:
        return self._link.state

    @property
    def close_code(self) -> int | None:
        """How the server closed the last connection (``None`` while connected)."""
        return self._link.close_code

    def _run_link(self, label: str) -> None:
        self._task = asyncio.create_task(self._link.run(), name=f"{label} {self._link.name}")

    async def _stop_link(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def until(event: asyncio.Event, task: asyncio.Future[None] | None, timeout: float) -> bool:
    """Whether ``event`` is set within ``timeout``; a link's ``task`` that ends (the
    server refused it) ends the wait early."""
    waiter: asyncio.Future[Any] = asyncio.ensure_future(event.wait())
    ended: set[asyncio.Future[Any]] = {task} if task is not None else set()
    try:
        await asyncio.wait({waiter, *ended}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()  # also when we are cancelled: never leave it pending
    return event.is_set()
