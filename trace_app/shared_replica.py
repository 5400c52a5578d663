"""One replica of a document for the web app's tabs of everyone in a process, each
person reading it only while the server grants them access.

The web app's tabs run in a server process, each with an app session of its
own. With a replica per person, N people watching one terminal made that
process receive and apply every update N times, and the server send it N
times. Here the process keeps one replica per document (the :class:`Feed`),
synced with one holder's token at a time, and each person reads it through a
:class:`SharedView` that follows their own
:class:`~trace_sync.client.access_watch.AccessWatch` on the document:

- granted: the view is the shared document and hears its changes;
- not granted yet, or never (someone else's private session): the view is
  an empty document, refused with the watch's close code once refused;
- no longer granted (a removed member, a revoked token, the server
  restarting): the view keeps a copy of what it showed and hears nothing
  newer, as a person's own replica would after its socket closed; a watch
  granted again on reconnecting brings the document back.

So the server still decides, per person and document, who reads what, and
decides again on every change of authority (it closes the watch exactly when
it would close that person's own connection): the process never shows a
person a document their own connection would not be given. Writes and
presence never go through a shared replica.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from pycrdt import Doc

from trace_app.local_replica import Change, LocalReplica
from trace_sync.client.access_watch import AccessWatch
from trace_sync.client.reconnect import Backoff, LinkState
from trace_sync.client.sync_client import SyncClient
from trace_sync.contract.errors import TraceError


@dataclass(eq=False)
class SharedView(LocalReplica):
    """A person's view of a shared replica: the document while their access holds."""

    feed: Feed | None = None
    access: AccessWatch | None = None

    @property
    def granted(self) -> bool:
        return self.access is not None and self.access.state is LinkState.SYNCED

    @property
    def state(self) -> LinkState:
        if self.access is not None and not self.granted:
            return self.access.state
        return self._shared().state

    @property
    def close_code(self) -> int | None:
        if self.access is not None and self.access.state is LinkState.REFUSED:
            return self.access.close_code
        return self._shared().close_code

    @property
    def peers(self) -> dict[int, Any]:
        return {}  # presence is each person's own, never shared

    async def wait_synced(self, timeout: float = 10.0) -> None:
        if self.access is not None:
            await self.access.wait_granted(timeout)
        await self._shared().wait_synced(timeout)

    def set_presence(self, state: dict[str, Any] | None) -> None:
        raise TypeError("presence is never sent through a shared replica")

    def heard(self, change: Change) -> None:
        """The shared replica changed: told to this person only while granted."""
        if self.granted:
            self.tell(change)

    def access_changed(self, state: LinkState) -> None:
        shared = self._shared()
        if state is LinkState.SYNCED:
            self.doc, self.roots = shared.doc, shared.roots
        elif self.doc is shared.doc:  # refused or reconnecting: what it showed, nothing newer
            self.doc, self.roots = _copy(shared)
        assert self.feed is not None
        self.feed.refeed_soon()
        self.tell(Change(self.name))

    def _shared(self) -> LocalReplica:
        assert self.feed is not None
        return self.feed.replica


class Feed:
    """``async with Feed(replica, url, backoff)``: keeps ``replica`` synced with the
    token of one of its views whose access is granted; :meth:`view` adds one."""

    def __init__(self, replica: LocalReplica, server_url: str, backoff: Backoff) -> None:
        self.replica = replica
        self._url = server_url
        self._backoff = backoff
        self._views: list[SharedView] = []
        #: The feed's token, and the tokens the server refused it (never tried again).
        self._token: str | None = None
        self._refused: set[str] = set()
        self._client: AsyncExitStack | None = None
        self._lock = asyncio.Lock()
        self._pending: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Feed:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for task in self._pending:
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        await self._disconnect()

    @asynccontextmanager
    async def view(self, token: str) -> AsyncIterator[SharedView]:
        """``token``'s view: empty until the server grants it access (waited for here)."""
        view = SharedView(self.replica.name, Doc(), feed=self)
        watch = AccessWatch(
            self._url, self.replica.name, token, on_state=view.access_changed, backoff=self._backoff
        )
        async with watch:
            view.access = watch
            with contextlib.suppress(TraceError, TimeoutError):
                # refused, or not answered yet: the view's state says which
                await watch.wait_granted()
            self.replica.listeners.append(view.heard)
            self._views.append(view)
            await self._refeed()
            try:
                yield view
            finally:
                self.replica.listeners.remove(view.heard)
                self._views.remove(view)
                await self._refeed()

    def refeed_soon(self) -> None:
        task = asyncio.ensure_future(self._refeed())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _refeed(self) -> None:
        """Feed with the first granted view's token, unless the feed's still is one."""
        async with self._lock:
            granted = [v.access.token for v in self._views if v.access and v.granted]
            usable = [t for t in granted if t not in self._refused]
            if self._token in usable:
                return
            await self._disconnect()
            if usable:
                await self._connect(usable[0])

    async def _connect(self, token: str) -> None:
        stack = AsyncExitStack()
        client = SyncClient(
            self._url,
            self.replica.name,
            token,
            self.replica.doc,
            on_state=lambda state: self._fed(token, state),
            read_only=True,
            backoff=self._backoff,
        )
        self.replica.client = await stack.enter_async_context(client)
        self._token, self._client = token, stack

    async def _disconnect(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        self._token, self._client, self.replica.client = None, None, None

    def _fed(self, token: str, state: LinkState) -> None:
        if state is LinkState.REFUSED:
            self._refused.add(token)  # its views are told by their own watches
            self.refeed_soon()
        self.replica.tell(Change(self.replica.name))


def _copy(replica: LocalReplica) -> tuple[Doc[Any], dict[str, Any]]:
    """The replica's document as it is now, and its roots in that copy."""
    copy: Doc[Any] = Doc()
    copy.apply_update(replica.doc.get_update())
    return copy, {name: copy.get(name, type=type(root)) for name, root in replica.roots.items()}
