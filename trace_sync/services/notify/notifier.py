"""Delivery: new inbox items go to their person's destinations, in the background.

:meth:`Notifier.enqueue` only puts items on a bounded queue (the attention
feed never waits on a network); one worker takes them off, picks the
person's destinations whose events match and that are not in quiet hours,
and sends through the channel, retrying a failed send with growing pauses.
A full queue drops the newest items (logged): the inbox still has them.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, time
from types import TracebackType
from zoneinfo import ZoneInfo

from trace_sync.contract.attention import headline
from trace_sync.services.notify.action_links import ActionLinks
from trace_sync.services.notify.channel import Action, DeliveryFailed, Notice, NoticeChannel
from trace_sync.services.server_secret import ServerSecret
from trace_sync.store import Store
from trace_sync.store.destinations import Destination
from trace_sync.store.inbox import InboxItem

log = logging.getLogger(__name__)

QUEUE_SIZE = 1_000
ATTEMPTS = 3


class Notifier:
    """Long-lived, ``async with`` only."""

    def __init__(
        self,
        store: Store,
        secret: ServerSecret,
        channel: NoticeChannel,
        links: ActionLinks,
        base_url: str,
        *,
        queue_size: int = QUEUE_SIZE,
        attempts: int = ATTEMPTS,
        backoff_s: float = 1.0,
    ) -> None:
        self._store = store
        self._secret = secret
        self._channel = channel
        self._links = links
        self._base_url = base_url.rstrip("/")
        self._queue: asyncio.Queue[InboxItem] = asyncio.Queue(queue_size)
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._worker: asyncio.Task[None] | None = None
        self.dropped = 0

    async def __aenter__(self) -> Notifier:
        self._worker = asyncio.create_task(self._work(), name="notifier")
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    def enqueue(self, items: list[InboxItem]) -> None:
        """Queue new items for delivery; never waits."""
        for item in items:
            try:
                self._queue.put_nowait(item)
            except asyncio.QueueFull:
                self.dropped += 1
                log.warning(
                    "notification queue full: item %s not sent (it is in the inbox)", item.id
                )

    async def idle(self) -> None:
        """Wait until every queued item was handled (for tests)."""
        await self._queue.join()

    async def send(self, destination: Destination, message: Notice) -> None:
        """Deliver one message now (``trace notify test``); raises :class:`DeliveryFailed`."""
        await self._channel.send(self._secret.open(destination.url_sealed), message)

    def message_base(self) -> str:
        """The app's address (where a test notification leads)."""
        return self._base_url + "/"

    def message(self, item: InboxItem) -> Notice:
        """What a notification of ``item`` says, with its links."""
        click = f"{self._base_url}/session/{item.session_id}"
        actions = [Action("Open", click, "view")]
        if item.kind == "approval" and item.request_id is not None:
            allow = self._links.make(item.user_id, item.session_id, item.request_id, "allow")
            deny = self._links.make(item.user_id, item.session_id, item.request_id, "deny")
            actions += [Action("Approve", allow), Action("Deny", deny)]
        title = headline(item.title, item.kind)
        return Notice(title=title[:250], body=item.body[:2_000], click=click, actions=actions)

    async def _work(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._deliver(item)
            except Exception:  # a bug in one delivery must not end all later ones
                log.exception("delivering inbox item %s failed", item.id)
            finally:
                self._queue.task_done()

    async def _deliver(self, item: InboxItem) -> None:
        now = datetime.now(UTC)
        for destination in await self._store.destinations.of_user(item.user_id):
            if destination.events and item.kind not in destination.events:
                continue
            if in_quiet_hours(destination, now):
                continue
            await self._send_retrying(destination, self.message(item))

    async def _send_retrying(self, destination: Destination, message: Notice) -> None:
        for attempt in range(1, self._attempts + 1):
            try:
                await self.send(destination, message)
                return
            except DeliveryFailed as exc:
                if attempt == self._attempts:
                    log.warning("notification to %s failed: %s", destination.hint, exc)
                    return
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))


def in_quiet_hours(destination: Destination, at: datetime) -> bool:
    """Whether ``at`` falls in the destination's quiet hours (they may span midnight)."""
    if not destination.quiet:
        return False
    start, end = parse_quiet(destination.quiet)
    local = at.astimezone(ZoneInfo(destination.timezone)).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def parse_quiet(text: str) -> tuple[time, time]:
    """``"22:00-07:00"`` -> (22:00, 07:00); ``ValueError`` if it is not that form."""
    first, _, second = text.partition("-")
    return time.fromisoformat(first.strip()), time.fromisoformat(second.strip())
