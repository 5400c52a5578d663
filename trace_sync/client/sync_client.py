"""A y-protocols client for one document over ``/sync`` (pycrdt + websockets).

It keeps a local :class:`pycrdt.Doc` in step with the server's: sync step 1
and 2 on every connect, remote updates applied as they come, local changes
(any transaction this client did not make while applying remote ones) sent
as updates. Changes made while disconnected go out in the next handshake.

    async with SyncClient("ws://127.0.0.1:4000/sync", "session/s_1/io", token) as client:
        await client.wait_synced()
        with client.doc.transaction(origin="runtime"):
            client.doc.get("transcript", type=Array).append({...})

With ``reconnect=True`` a dropped connection is retried with exponential
backoff, except after a refusal (close codes 4400-4499), as y-websocket does.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Any

import websockets
from pycrdt import Doc, TransactionEvent
from websockets.asyncio.client import ClientConnection

from trace_sync.errors import TraceError
from trace_sync.sync import protocol as p

#: Backoff between reconnects: from the first to the longest wait.
FIRST_RETRY_S, LONGEST_RETRY_S = 0.1, 10.0


class Disconnected(TraceError):
    """The connection could not be made, or ended before the client was done."""

    code = "disconnected"

    def __init__(self, message: str, close_code: int | None = None) -> None:
        super().__init__(message)
        self.close_code = close_code


class SyncClient:
    def __init__(
        self,
        base_url: str,
        name: str,
        token: str,
        *,
        doc: Doc[Any] | None = None,
        reconnect: bool = False,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/{name}"
        self.name = name
        self.doc: Doc[Any] = doc if doc is not None else Doc()
        #: Set while the local document has caught up with the server's.
        self.synced = asyncio.Event()
        #: Set once the client has stopped for good (see :attr:`close_code`).
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self._token = token
        self._reconnect = reconnect
        self._ws: ClientConnection | None = None
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._applying_remote = False
        self._subscription = self.doc.observe(self._on_local_change)
        self._runner: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SyncClient:
        try:
            first = await self._connect()
        except BaseException:
            self.doc.unobserve(self._subscription)
            raise
        self._runner = asyncio.create_task(self._run(first), name=f"sync-{self.name}")
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        self._reconnect = False
        self.doc.unobserve(self._subscription)
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await asyncio.gather(self._runner, return_exceptions=True)

    async def wait_synced(self, timeout: float = 30.0) -> None:
        """Wait for the first (or next) sync; ``Disconnected`` if refused meanwhile."""
        synced = asyncio.ensure_future(self.synced.wait())
        closed = asyncio.ensure_future(self.closed.wait())
        done, pending = await asyncio.wait(
            {synced, closed}, timeout=timeout, return_when="FIRST_COMPLETED"
        )
        for future in pending:
            future.cancel()
        if not self.synced.is_set():
            reason = "closed" if self.closed.is_set() else f"not synced within {timeout} s"
            raise Disconnected(
                f"{self.name}: {reason} (close code {self.close_code})", self.close_code
            )

    async def _connect(self) -> ClientConnection:
        try:
            return await websockets.connect(
                self.url,
                additional_headers={"Authorization": f"Bearer {self._token}"},
                max_size=None,
                compression=None,  # the server does not compress either
                proxy=None,
            )
        except (OSError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
            raise Disconnected(f"cannot connect to {self.url}: {exc}") from exc

    async def _run(self, ws: ClientConnection | None) -> None:
        wait = FIRST_RETRY_S
        try:
            while True:
                if ws is not None:
                    await self._serve(ws)
                    wait = FIRST_RETRY_S
                if not self._reconnect or _refused(self.close_code):
                    return
                await asyncio.sleep(wait)  # backoff between reconnects, not synchronisation
                wait = min(wait * 2, LONGEST_RETRY_S)
                with contextlib.suppress(Disconnected):
                    ws = None
                    ws = await self._connect()
        finally:
            self.closed.set()

    async def _serve(self, ws: ClientConnection) -> None:
        self._ws = ws
        sender = asyncio.create_task(self._send_all(ws))
        try:
            await ws.send(p.sync_step1(self.doc.get_state()))
            async for frame in ws:
                if isinstance(frame, bytes):
                    await self._handle(ws, p.decode(frame))
        except websockets.ConnectionClosed:
            pass
        finally:
            sender.cancel()
            self.synced.clear()
            self.close_code = ws.close_code
            self._ws = None

    async def _handle(self, ws: ClientConnection, message: p.Message) -> None:
        if isinstance(message, p.SyncStep1):
            await ws.send(p.sync_step2(self.doc.get_update(message.state)))
        elif isinstance(message, p.SyncStep2 | p.Update):
            self._applying_remote = True
            try:
                self.doc.apply_update(message.update)
            finally:
                self._applying_remote = False
            if isinstance(message, p.SyncStep2):
                self.synced.set()

    async def _send_all(self, ws: ClientConnection) -> None:
        while True:
            frame = await self._outbox.get()
            await ws.send(frame)

    def _on_local_change(self, event: TransactionEvent) -> None:
        # While disconnected, the next handshake carries the change instead.
        if not self._applying_remote and self._ws is not None:
            self._outbox.put_nowait(p.update_message(event.update))


def _refused(code: int | None) -> bool:
    return code is not None and 4400 <= code < 4500
