"""Local replicas of the documents a person has open.

A replica opens instantly from the local store (every update it ever saw,
kept on SQLite in the app-data dir by :mod:`trace_sync.store`), then a
:class:`~trace_sync.client.SyncClient` brings it up to date and keeps it
there. Every change, local or remote, is appended to the local store, so the
last state survives a restart with the server down, and offline edits travel
in the next handshake.

Listeners hear a :class:`Change` per root and transaction, carrying pycrdt's
events (a Text's delta, a Map's changed keys), so a reader can take just what
changed (a terminal's new output) instead of reading a document again.

Replicas kept in memory only (the web app's tabs, which run beside the server)
of documents that only servers and runtimes write are shared by all the
clients of one process (:mod:`trace_app.shared_replica`): the process syncs
each such document once, however many people's tabs show it, and each person
reads it only while the server grants their own token access. What people
write (notes: drafts, presence) stays each client's own.

>>> async with Replicas(server_url, token, store.updates) as replicas:
...     notes = await replicas.open("session/s_1/notes")
...     str(notes.doc.get("draft", type=Text))
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Protocol

from pycrdt import Array, Doc, Map, Text, TransactionEvent

from trace_app.local_replica import Change, Listener, LocalReplica
from trace_app.shared import Shared
from trace_app.shared_replica import Feed
from trace_sync.client.reconnect import Backoff
from trace_sync.client.sync_client import SyncClient
from trace_sync.contract.errors import InvalidInput
from trace_sync.docs.layouts import LAYOUTS, Layout
from trace_sync.docs.names import parse_doc_name

log = logging.getLogger(__name__)

_TYPES = {"Map": Map, "Array": Array, "Text": Text}


class UpdateStore(Protocol):
    """Where replicas keep their updates (``Store.updates`` fits)."""

    async def load(self, name: str) -> list[bytes]: ...

    def submit(self, name: str, update: bytes) -> asyncio.Future[None]: ...


class Replicas:
    """The open replicas of one person on one server; ``async with`` only.

    ``store`` is ``None`` for a client that needs no copy of its own (the web
    app runs beside the server): replicas then live in memory only.
    ``on_change`` hears every document and link-state change, except of the
    ``unheard`` roots: nobody here reads their changes, and pycrdt makes a Python
    event, delta and all, for every change it is asked to observe.
    """

    def __init__(
        self,
        server_url: str,
        token: str,
        store: UpdateStore | None = None,
        *,
        on_change: Listener | None = None,
        backoff: Backoff | None = None,
        unheard: frozenset[str] = frozenset(),
        shared: Shared | None = None,
    ) -> None:
        self.server_url = server_url
        self._token = token
        self._store = store
        self._on_change = on_change
        self._backoff = backoff or Backoff()
        self._unheard = unheard
        self._shared = shared if store is None else None
        self._open: dict[str, LocalReplica] = {}
        self._opening: dict[str, asyncio.Future[LocalReplica]] = {}
        self._stacks: dict[str, AsyncExitStack] = {}
        self._online = True

    async def __aenter__(self) -> Replicas:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for name in list(self._stacks):
            await self.close(name)

    @property
    def replicas(self) -> dict[str, LocalReplica]:
        return dict(self._open)

    def get(self, name: str) -> LocalReplica | None:
        return self._open.get(name)

    async def open(self, name: str, *, online: bool = True, writable: bool = False) -> LocalReplica:
        """The replica of ``name``: from the local store at once, then synced.

        ``online=False`` keeps it local (the app's own document); only a
        ``writable`` replica sends its changes (the others are read by this
        person, and the server refuses what a reader sends)."""
        if name in self._open:
            return self._open[name]
        if name in self._opening:  # two views opening one document share one replica
            return await asyncio.shield(self._opening[name])
        future: asyncio.Future[LocalReplica] = asyncio.get_running_loop().create_future()
        self._opening[name] = future
        try:
            if self._shared is not None and online and not writable and _shareable(name):
                replica = await self._hold(name)
            else:
                replica = await self._start(name, online, writable)
            future.set_result(replica)
            return replica
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the caller gets it raised
            raise
        finally:
            del self._opening[name]

    async def close(self, name: str) -> None:
        """Stop syncing ``name`` (its saved copy stays)."""
        self._open.pop(name, None)
        stack = self._stacks.pop(name, None)
        if stack is not None:
            await stack.aclose()

    async def _start(self, name: str, online: bool, writable: bool) -> LocalReplica:
        doc: Doc[Any] = Doc()
        if self._store is not None:
            for update in await self._store.load(name):
                doc.apply_update(update)
        replica = LocalReplica(name, doc)
        stack = AsyncExitStack()
        layout = _layout(name)
        if self._store is not None or layout is None:
            # Only when needed: pycrdt encodes each transaction's update for this
            # observer, which costs a web tab more than applying it (a terminal's
            # output is one long string, and the update is cut from it).
            subscription = doc.observe(lambda event: self._saw(replica, event, layout is None))
            stack.callback(doc.unobserve, subscription)
        for root in layout.roots if layout is not None else ():
            shared = replica.roots[root.name] = doc.get(root.name, type=_TYPES[root.ytype])
            if root.name in self._unheard:
                continue
            watched = shared.observe_deep(self._root_watcher(replica, root.name))
            stack.callback(shared.unobserve, watched)
        if online:
            client = SyncClient(
                self.server_url,
                name,
                self._token,
                doc,
                on_state=lambda _state: self._notify(replica, Change(name)),
                on_presence=lambda: self._notify(replica, Change(name)),
                read_only=not writable,
                backoff=self._backoff,
            )
            replica.client = await stack.enter_async_context(client)
        self._open[name] = replica
        self._stacks[name] = stack
        return replica

    async def _hold(self, name: str) -> LocalReplica:
        """``name``'s replica shared in this process, read through this person's view."""
        assert self._shared is not None
        url, unheard, backoff = self.server_url, self._unheard, self._backoff

        async def start(stack: AsyncExitStack) -> Feed:
            local = await stack.enter_async_context(
                Replicas(url, "", backoff=backoff, unheard=unheard)
            )
            replica = await local.open(name, online=False)  # the feed connects it
            return await stack.enter_async_context(Feed(replica, url, backoff))

        stack = AsyncExitStack()
        feed = await stack.enter_async_context(
            self._shared.held(("replica", url, unheard, name), start)
        )
        view = await stack.enter_async_context(feed.view(self._token))
        if self._on_change is not None:
            view.listeners.append(self._on_change)
        self._open[name] = view
        self._stacks[name] = stack
        return view

    def _root_watcher(self, replica: LocalReplica, root: str) -> Callable[[list[Any]], None]:
        # one parameter only: pycrdt passes the transaction too to a callback taking two
        return lambda events: self._notify(replica, Change(replica.name, root, tuple(events)))

    def _saw(self, replica: LocalReplica, event: TransactionEvent, tell: bool) -> None:
        if self._store is not None:
            saved = self._store.submit(replica.name, event.update)
            saved.add_done_callback(_report_failure)
        if tell:  # documents with a layout tell per root
            self._notify(replica, Change(replica.name))

    def _notify(self, replica: LocalReplica, change: Change) -> None:
        replica.tell(change)
        if self._on_change is not None:
            self._on_change(change)


def _layout(name: str) -> Layout | None:
    try:
        return LAYOUTS.get(parse_doc_name(name).kind)
    except InvalidInput:  # the app's own local document
        return None


def _shareable(name: str) -> bool:
    """Documents only servers and runtimes write: what people write (notes: drafts,
    presence) is each person's own, even where they may only read it."""
    layout = _layout(name)
    return layout is not None and layout.writer != "members"


def _report_failure(saved: asyncio.Future[None]) -> None:
    if not saved.cancelled() and saved.exception() is not None:
        # The document itself is fine and the server has it: only the saved copy lags.
        log.warning("saving a replica update failed", exc_info=saved.exception())
