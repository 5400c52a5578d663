"""Whether a token may still read a document: ``/sync/<name>?watch=1``, kept open.

For a client that reads a document through a connection opened with another
token (the web app's tabs of different people share one replica per document
in their process): the server grants this token's access once, and closes
the watch exactly when it would close this token's own connection to the
document (a revoked token, a removed member, a session made private).
Connection losses reconnect, and each reconnection is granted anew; a
refusal ends it.

>>> async with AccessWatch("http://127.0.0.1:4000", "session/s_1/io", token) as watch:
...     await watch.wait_granted()
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import websockets
from websockets.asyncio.client import ClientConnection

from trace_sync.client.reconnect import Backoff, Linked, LinkState, ReconnectingLink, until
from trace_sync.client.sync_client import document_url
from trace_sync.contract import sync_protocol as p

#: A watch is sent one short message; anything bigger is not a watch's.
MAX_FRAME = 1024


class AccessWatch(Linked):
    """``async with AccessWatch(url, name, token)``: :attr:`state` is ``SYNCED``
    while the server grants ``token`` access to ``name``, ``REFUSED`` once it no
    longer does (with :attr:`close_code`); ``on_state`` hears every change."""

    def __init__(
        self,
        server_url: str,
        name: str,
        token: str,
        *,
        on_state: Callable[[LinkState], None] | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.token = token
        self.url = document_url(server_url, name, token, watch="1")
        self._link = ReconnectingLink(
            lambda: websockets.connect(self.url, max_size=MAX_FRAME, compression=None),
            self._session,
            name=name,
            backoff=backoff or Backoff(),
            on_state=on_state,
        )
        self._granted = asyncio.Event()
        #: What the last grant allowed (``sync_protocol.SCOPE_READ`` or ``SCOPE_WRITE``).
        self.scope: str | None = None

    async def __aenter__(self) -> AccessWatch:
        self._run_link("watch")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop_link()

    async def wait_granted(self, timeout: float = 10.0) -> None:
        """Wait until access is granted; raises the refusal's :class:`TraceError`,
        or ``TimeoutError`` when the server does not answer within ``timeout``."""
        if await until(self._granted, self._task, timeout):
            return
        self._link.raise_refusal()
        raise TimeoutError(f"{self._link.name}: no answer within {timeout} s ({self.state.value})")

    async def _session(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                message = p.decode(frame) if isinstance(frame, bytes) else None
                if isinstance(message, p.AuthGranted):
                    self.scope = message.scope
                    self._granted.set()
                    self._link.online()
        finally:
            self._granted.clear()
