"""A y-protocols client on a pycrdt Doc over a real websocket, for tests.

It speaks the wire format through the server's own codec module; what it
proves is that the server converges with an independent Yjs client (the JS
tests do the same with yjs + y-websocket).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from types import TracebackType
from typing import Any

import websockets
from pycrdt import Doc, Text
from websockets.asyncio.client import ClientConnection

from trace_sync.contract import sync_protocol as p


class PyClient:
    def __init__(self, url: str, token: str | None = None, doc: Doc[Any] | None = None) -> None:
        """Pass the ``doc`` of an earlier client to reconnect with its state."""
        self.url = url if token is None else f"{url}?token={token}"
        self.doc = doc if doc is not None else Doc()
        self.awareness: dict[int, object] = {}
        self.synced = asyncio.Event()
        self.close_code: int | None = None
        self.frames_received = 0
        #: Document updates (sync step 2 or update) in the order they arrived.
        self.updates_received: list[bytes] = []
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._sub = self.doc.observe(self._on_local_change)
        self._applying_remote = False

    async def __aenter__(self) -> PyClient:
        self._ws = await websockets.connect(self.url, max_size=None)
        self._reader = asyncio.create_task(self._read())
        await self._send(p.sync_step1(self.doc.get_state()))
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        self.doc.unobserve(self._sub)
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    @property
    def text(self) -> Text:
        text: Text = self.doc.get("t", type=Text)
        return text

    def edit(self, index: int, value: str) -> None:
        self.text.insert(index, value)

    async def set_presence(self, state: dict[str, object], clock: int = 1) -> None:
        entry = p.AwarenessEntry(self.doc.client_id, clock, json.dumps(state))
        await self._send(p.awareness_message([entry]))

    async def send_raw(self, frame: bytes) -> None:
        await self._send(frame)

    async def wait_closed(self, timeout: float = 5.0) -> int | None:
        assert self._reader is not None
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.close_code

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.01)

    async def _send(self, frame: bytes) -> None:
        assert self._ws is not None
        with contextlib.suppress(websockets.ConnectionClosed):
            await self._ws.send(frame)  # if closed, the close code is what tests look at

    def _on_local_change(self, event: object) -> None:
        if not self._applying_remote and self._ws is not None:
            update = event.update  # type: ignore[attr-defined]
            asyncio.get_running_loop().create_task(self._send(p.update_message(update)))

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for frame in self._ws:
                assert isinstance(frame, bytes)
                self.frames_received += 1
                await self._handle(p.decode(frame))
        except websockets.ConnectionClosed:
            pass
        self.close_code = self._ws.close_code

    async def _handle(self, message: p.Message) -> None:
        if isinstance(message, p.SyncStep1):
            await self._send(p.sync_step2(self.doc.get_update(message.state)))
        elif isinstance(message, p.SyncStep2 | p.Update):
            self.updates_received.append(message.update)
            self._applying_remote = True
            try:
                self.doc.apply_update(message.update)
            finally:
                self._applying_remote = False
            if isinstance(message, p.SyncStep2):
                self.synced.set()
        elif isinstance(message, p.Awareness):
            for entry in message.entries:
                if entry.removed:
                    self.awareness.pop(entry.client_id, None)
                else:
                    self.awareness[entry.client_id] = json.loads(entry.state)
