"""One document kept in sync with a Trace server over ``/sync/<name>``.

The client side of the public protocol, shared by the CLI, the bridge and the
app. It keeps a local :class:`pycrdt.Doc` that works with or without the
network: local changes made while offline are part of the document's state
and reach the server in the sync handshake after reconnecting (the server's
step 1 asks for everything it lacks). Connection losses reconnect with
exponential backoff; the server's refusals (44xx close codes) do not, since
retrying cannot fix a bad token or a missing permission.

>>> async with SyncClient("ws://127.0.0.1:4000", "session/s_1/notes", token) as client:
...     await client.wait_synced()
...     with client.doc.transaction(origin="me"):
...         client.doc.get("draft", type=Text).insert(0, "hello")
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import websockets
from pycrdt import Doc, TransactionEvent, merge_updates
from websockets.asyncio.client import ClientConnection

from trace_sync.client.reconnect import Backoff, Linked, LinkState, ReconnectingLink, until
from trace_sync.contract import sync_protocol as p

#: The origin of updates that came from the server (never sent back).
REMOTE = "trace-remote"
#: Presence is renewed this often; y-protocols forgets a state after 30 s.
PRESENCE_RENEW_S = 15.0
#: Local updates merged into one frame at most (merging cost grows with the batch).
MAX_BATCH = 256
#: Bytes of updates merged into one frame at most: the server refuses frames
#: over its limit (8 MiB by default), so a backlog never grows into one.
MAX_BATCH_BYTES = 1 << 20


class SyncClient(Linked):
    """``async with SyncClient(url, name, token) as client``: ``client.doc`` stays in sync.

    ``on_state`` is called with every :class:`LinkState` change (for a
    connection indicator), ``on_presence`` whenever :attr:`peers` changes.
    Pass the ``doc`` of a local replica to resume from it: only the
    difference travels. A ``read_only`` client (a reader of a document it
    may not write) never sends document content: its sync step 2 is empty,
    since a full diff carries the document's delete set, which the server
    would take for a write and refuse.
    """

    def __init__(
        self,
        server_url: str,
        name: str,
        token: str,
        doc: Doc[Any] | None = None,
        *,
        on_state: Callable[[LinkState], None] | None = None,
        on_presence: Callable[[], None] | None = None,
        read_only: bool = False,
        backoff: Backoff | None = None,
    ) -> None:
        self.url = document_url(server_url, name, token)
        self.name = name
        self.doc: Doc[Any] = doc if doc is not None else Doc()
        self._link = ReconnectingLink(
            lambda: websockets.connect(self.url, max_size=None, compression=None),
            self._session,
            name=name,
            backoff=backoff or Backoff(),
            on_state=on_state,
        )
        #: Everyone else's presence: client id -> state.
        self.peers: dict[int, Any] = {}
        self._on_presence = on_presence
        self.read_only = read_only
        self._synced = asyncio.Event()
        self._pending: list[bytes] = []
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._presence: dict[str, Any] | None = None
        self._presence_clock = 0
        self._presence_due = False
        self._subscription = self.doc.observe(self._on_change)

    async def __aenter__(self) -> SyncClient:
        self._run_link("sync")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.flush()
        await self._stop_link()
        self.doc.unobserve(self._subscription)

    async def wait_synced(self, timeout: float = 10.0) -> None:
        """Wait until the document holds everything the server had on connect.

        Raises the matching :class:`TraceError` if the server refused us."""
        if await until(self._synced, self._task, timeout):
            return
        self._link.raise_refusal()
        raise TimeoutError(f"{self.name} not synced within {timeout} s ({self.state.value})")

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait (at most ``timeout``) until local changes are handed to the socket.

        Offline there is nothing to wait for: they travel in the next handshake."""
        if self.state is LinkState.SYNCED:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), timeout)

    def set_presence(self, state: dict[str, Any] | None) -> None:
        """Publish (or, with ``None``, withdraw) this client's presence."""
        self._presence = state
        self._presence_clock += 1
        self._presence_due = True
        self._wake.set()

    # -- one connection ----------------------------------------------------------

    async def _session(self, ws: ClientConnection) -> None:
        self._pending.clear()  # the handshake carries everything unsent
        self._drained.set()
        self._presence_due = self._presence_clock > 0
        await ws.send(p.sync_step1(self.doc.get_state()))
        sender = asyncio.create_task(self._send_loop(ws))
        renewer = asyncio.create_task(self._renew_presence())
        try:
            async for frame in ws:
                if isinstance(frame, bytes):
                    await self._receive(ws, p.decode(frame))
        finally:
            sender.cancel()
            renewer.cancel()
            await asyncio.gather(sender, renewer, return_exceptions=True)
            self._synced.clear()
            self._forget_peers()  # nobody is known to be looking while we are away

    async def _receive(self, ws: ClientConnection, message: p.Message) -> None:
        if isinstance(message, p.SyncStep1):
            diff = p.EMPTY_UPDATE if self.read_only else self.doc.get_update(message.state)
            await ws.send(p.sync_step2(diff))
        elif isinstance(message, p.SyncStep2 | p.Update):
            # The server's own updates are never echoed, so _on_change does not
            # hear them: pycrdt encodes each transaction's update for a document
            # observer, which costs more than the apply (in a long terminal's
            # output, the update is cut out of one long string).
            self.doc.unobserve(self._subscription)
            try:
                with self.doc.transaction(origin=REMOTE):
                    self.doc.apply_update(message.update)
            finally:
                self._subscription = self.doc.observe(self._on_change)
            if isinstance(message, p.SyncStep2):
                self._synced.set()
                self._link.online()
        elif isinstance(message, p.Awareness):
            self._apply_presence(message.entries)

    async def _send_loop(self, ws: ClientConnection) -> None:
        self._wake.set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._presence_due:
                self._presence_due = False
                await ws.send(self._presence_frame())
            while self._pending:
                batch = self._next_batch()
                update = batch[0] if len(batch) == 1 else merge_updates(*batch)
                await ws.send(p.update_message(update))
            self._drained.set()

    def _next_batch(self) -> list[bytes]:
        """The oldest pending updates, within MAX_BATCH and MAX_BATCH_BYTES (at least one)."""
        count, size = 1, len(self._pending[0])
        for update in self._pending[1:MAX_BATCH]:
            size += len(update)
            if size > MAX_BATCH_BYTES:
                break
            count += 1
        batch, self._pending = self._pending[:count], self._pending[count:]
        return batch

    async def _renew_presence(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_RENEW_S)
            if self._presence is not None:
                self.set_presence(self._presence)

    # -- changes and presence ----------------------------------------------------

    def _on_change(self, event: TransactionEvent) -> None:
        # Local changes only (see _receive): on a read-only document an echo of the
        # server's would be refused (4403). Offline changes travel in the next handshake.
        if self._link.ws is None:
            return
        if self.read_only:
            return  # a reader's local changes stay local
        self._pending.append(event.update)
        self._drained.clear()
        self._wake.set()

    def _presence_frame(self) -> bytes:
        state = json.dumps(self._presence)
        entry = p.AwarenessEntry(self.doc.client_id, self._presence_clock, state)
        return p.awareness_message([entry])

    def _apply_presence(self, entries: tuple[p.AwarenessEntry, ...]) -> None:
        """Take others' presence; listeners hear of it only if someone's changed: each
        client renews its unchanged presence every :data:`PRESENCE_RENEW_S`, and with N
        tabs on a document each of them heard N renewals (each a redraw of its page)."""
        before = dict(self.peers)
        for entry in entries:
            if entry.client_id == self.doc.client_id:
                continue
            if entry.removed:
                self.peers.pop(entry.client_id, None)
            else:
                self.peers[entry.client_id] = json.loads(entry.state)
        if self._on_presence is not None and self.peers != before:
            self._on_presence()

    def _forget_peers(self) -> None:
        if self.peers:
            self.peers.clear()
            if self._on_presence is not None:
                self._on_presence()


def document_url(server_url: str, name: str, token: str, **query: str) -> str:
    """The websocket URL of ``/sync/<name>`` for ``token`` (and any other ``query``)."""
    base = server_url.rstrip("/").replace("http://", "ws://").replace("https://", "wss://")
    params = "".join(f"&{key}={quote(value, safe='')}" for key, value in query.items())
    return f"{base}/sync/{name}?token={quote(token, safe='')}{params}"
