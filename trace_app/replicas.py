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
that are read, not written, are shared (:mod:`trace_app.shared`) by the
clients of one process that use the same token: a person's tabs sync each such
document once, however many show it. Those with presence or writes (notes) stay
each client's own.

>>> async with Replicas(server_url, token, store.updates) as replicas:
...     notes = await replicas.open("session/s_1/notes")
...     str(notes.doc.get("draft", type=Text))
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

from pycrdt import Array, Doc, Map, Text, TransactionEvent

from trace_app.shared import Shared
from trace_sync.client.reconnect import Backoff, LinkState
from trace_sync.client.sync_client import SyncClient
from trace_sync.contract.errors import InvalidInput
from trace_sync.docs.layouts import LAYOUTS, Layout
from trace_sync.docs.names import parse_doc_name

log = logging.getLogger(__name__)

_TYPES = {"Map": Map, "Array": Array, "Text": Text}


@dataclass(frozen=True)
class Change:
    """What changed: ``root`` of ``document`` with pycrdt's ``events`` (deltas, keys);
    ``root`` is ``None`` when the change is not one root's (the link, presence, or a
    document without a layout)."""

    document: str
    root: str | None = None
    events: tuple[Any, ...] = ()


Listener = Callable[[Change], None]


class UpdateStore(Protocol):
    """Where replicas keep their updates (``Store.updates`` fits)."""

    async def load(self, name: str) -> list[bytes]: ...

    def submit(self, name: str, update: bytes) -> asyncio.Future[None]: ...


@dataclass
class LocalReplica:
    """One open document: ``doc`` (always readable) and its link to the server."""

    name: str
    doc: Doc[Any]
    client: SyncClient | None = None
    listeners: list[Listener] = field(default_factory=list)
    #: The layout's root types, got once: ``doc.get`` cannot run inside an observer.
    roots: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> LinkState:
        return self.client.state if self.client is not None else LinkState.OFFLINE

    @property
    def peers(self) -> dict[int, Any]:
        return self.client.peers if self.client is not None else {}

    def set_presence(self, state: dict[str, Any] | None) -> None:
        if self.client is not None:
            self.client.set_presence(state)

    def _changed(self, change: Change) -> None:
        for listener in list(self.listeners):
            try:
                listener(change)
            except Exception:  # one tab's failure must not stop the others' (or the sync)
                log.exception("a replica's listener failed", extra={"doc": self.name})


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
            if self._shared is not None and online and not writable and _layout(name) is not None:
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
        """``name``'s shared replica, this set's listener added while it is open."""
        assert self._shared is not None
        url, token, unheard, backoff = self.server_url, self._token, self._unheard, self._backoff

        async def start(stack: AsyncExitStack) -> LocalReplica:
            replicas = Replicas(url, token, backoff=backoff, unheard=unheard)
            return await (await stack.enter_async_context(replicas)).open(name)

        stack = AsyncExitStack()
        key = ("replica", url, token, unheard, name)
        replica = await stack.enter_async_context(self._shared.held(key, start))
        if self._on_change is not None:
            replica.listeners.append(self._on_change)
            stack.callback(replica.listeners.remove, self._on_change)
        self._open[name] = replica
        self._stacks[name] = stack
        return replica

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
        replica._changed(change)
        if self._on_change is not None:
            self._on_change(change)


def _layout(name: str) -> Layout | None:
    try:
        return LAYOUTS.get(parse_doc_name(name).kind)
    except InvalidInput:  # the app's own local document
        return None


def _report_failure(saved: asyncio.Future[None]) -> None:
    if not saved.cancelled() and saved.exception() is not None:
        # The document itself is fine and the server has it: only the saved copy lags.
        log.warning("saving a replica update failed", exc_info=saved.exception())
