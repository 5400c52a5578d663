"""The person's attention inbox as the app shows it: the badge, the view, the
tab's title and the desktop's notifications all read it.

The inbox is per person, kept by the server (read/unread shared by all their
devices), not a document: :class:`InboxFeed` reads ``/api/inbox`` and tells
its listeners when it changed. It reads again when the person's own signal
document (``person/<uid>``, named by the page) says the inbox moved, and
otherwise only now and then: a fast poll while the signal is not followed
(offline, an older server), a slow safety net while it is. The web app's tabs
of one person (one token) in one process share one feed (:func:`shared_feed`),
so the server is asked once, not once per tab.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from trace_app.shared import SHARED
from trace_sync.client.api import ApiClient
from trace_sync.client.reconnect import Backoff, LinkState
from trace_sync.client.sync_client import SyncClient
from trace_sync.contract.errors import TraceError

log = logging.getLogger(__name__)

#: How often the inbox is read while its signal is not followed.
EVERY_S = 5.0
#: ... and while it is: the signal says when; this catches what it cannot (an item of
#: a session the person no longer sees leaves the list at the next read).
SAFETY_EVERY_S = 60.0


@dataclass(frozen=True)
class InboxEntry:
    id: int
    kind: str
    session_id: str
    #: The session's title.
    title: str
    #: What it needs, or what happened.
    body: str
    read: bool

    @classmethod
    def of(cls, item: dict[str, Any]) -> InboxEntry:
        return cls(
            int(item["id"]),
            str(item["kind"]),
            str(item["session_id"]),
            str(item["title"]),
            str(item["body"]),
            bool(item["read"]),
        )


def tab_title(unread: int) -> str:
    """The page's title: what waits for you, counted, so a background tab says so."""
    return f"({unread}) Trace" if unread else "Trace"


class InboxFeed:
    """``async with InboxFeed(api, on_change)``: reads while open; ``listeners`` hear
    every change (``on_change`` is the first)."""

    def __init__(
        self,
        api: ApiClient,
        on_change: Callable[[], None] | None = None,
        *,
        every_s: float = EVERY_S,
        safety_every_s: float = SAFETY_EVERY_S,
        on_new: Callable[[list[InboxEntry]], None] | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self._api = api
        self.listeners = [on_change] if on_change is not None else []
        self._on_new = on_new
        self._every_s = every_s
        self._safety_every_s = safety_every_s
        self._backoff = backoff
        self.items: list[InboxEntry] = []
        self.unread = 0
        self._newest: int | None = None
        self._task: asyncio.Task[None] | None = None
        #: The person's signal document, once a page named it.
        self.signal: SyncClient | None = None
        self._nudged = asyncio.Event()
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> InboxFeed:
        self._task = asyncio.create_task(self._poll(), name="inbox-feed")
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._stack.aclose()

    async def refresh(self) -> None:
        """Ask the server now; tell listeners if anything changed."""
        try:
            page = await self._api.get("/api/inbox", limit=100)
        except TraceError as exc:  # offline: keep what was shown
            log.info("inbox not refreshed", extra={"reason": str(exc)})
            return
        await self._follow(page.get("signal"))
        items = [InboxEntry.of(i) for i in page["items"]]
        fresh = [i for i in items if self._newest is not None and i.id > self._newest]
        if items:
            self._newest = max(self._newest or 0, max(i.id for i in items))
        elif self._newest is None:
            self._newest = 0
        changed = (items, int(page["unread"])) != (self.items, self.unread)
        self.items, self.unread = items, int(page["unread"])
        if fresh and self._on_new is not None:
            self._on_new([i for i in fresh if not i.read])
        if changed:
            for listener in list(self.listeners):
                listener()

    async def mark_read(self, ids: list[int] | None = None) -> None:
        """Read on every device of the person's (``None``: everything)."""
        await self._api.post("/api/inbox/read", {"ids": ids})
        await self.refresh()

    async def _follow(self, name: object) -> None:
        if self.signal is not None or not isinstance(name, str):
            return
        self.signal = await self._stack.enter_async_context(
            SyncClient(
                self._api.server_url, name, self._api.token, read_only=True, backoff=self._backoff
            )
        )
        self.signal.doc.observe(lambda _: self._nudged.set())

    async def _poll(self) -> None:
        while True:
            self._nudged.clear()  # a nudge during the read that follows asks once more
            await self.refresh()
            following = self.signal is not None and self.signal.state is LinkState.SYNCED
            with contextlib.suppress(TimeoutError):
                every = self._safety_every_s if following else self._every_s
                await asyncio.wait_for(self._nudged.wait(), every)


@contextlib.asynccontextmanager
async def shared_feed(
    server_url: str, token: str, on_change: Callable[[], None], **options: Any
) -> AsyncIterator[InboxFeed]:
    """The feed of ``token`` shared by this process's clients (see :mod:`trace_app.shared`),
    with an API client of its own (the first holder may leave first); ``options`` are
    :class:`InboxFeed`'s."""

    async def start(stack: contextlib.AsyncExitStack) -> InboxFeed:
        api = await stack.enter_async_context(ApiClient(server_url, token, timeout=15.0))
        return await stack.enter_async_context(InboxFeed(api, **options))

    async with SHARED.held(("inbox", server_url, token), start) as feed:
        feed.listeners.append(on_change)
        try:
            yield feed
        finally:
            feed.listeners.remove(on_change)
