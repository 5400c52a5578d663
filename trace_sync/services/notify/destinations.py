"""A person's notification destinations: add, list, remove, test.

A destination is an Apprise URL, which carries the service's tokens: it is
sealed with the server's key before it is stored (never in a document) and
only its masked form (``hint``) is ever shown again.
"""

from __future__ import annotations

from collections.abc import Collection
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from trace_sync.auth.principal import Principal
from trace_sync.contract.attention import KINDS
from trace_sync.contract.errors import Conflict, InvalidInput, NotFound
from trace_sync.services.notify.channel import DeliveryFailed, Notice, NoticeChannel
from trace_sync.services.notify.notifier import Notifier, parse_quiet
from trace_sync.services.server_secret import ServerSecret
from trace_sync.store import Store
from trace_sync.store.destinations import Destination

MAX_DESTINATIONS = 20


class NotifyService:
    def __init__(
        self, store: Store, secret: ServerSecret, channel: NoticeChannel, notifier: Notifier
    ) -> None:
        self._store = store
        self._secret = secret
        self._channel = channel
        self._notifier = notifier

    async def add(
        self,
        actor: Principal,
        url: str,
        events: Collection[str] = (),
        quiet: str | None = None,
        timezone: str = "UTC",
    ) -> Destination:
        unknown = set(events) - set(KINDS)
        if unknown:
            raise InvalidInput(f"unknown events {sorted(unknown)}; choose from {', '.join(KINDS)}")
        if quiet is not None:
            _check_quiet(quiet, timezone)
        if len(await self._store.destinations.of_user(actor.user_id)) >= MAX_DESTINATIONS:
            raise Conflict(f"at most {MAX_DESTINATIONS} destinations a person")
        hint = await self._channel.hint(url)
        sealed = self._secret.seal(url)
        return await self._store.destinations.add(
            actor.user_id, sealed, hint, frozenset(events), quiet, timezone
        )

    async def list(self, actor: Principal) -> list[Destination]:
        return await self._store.destinations.of_user(actor.user_id)

    async def remove(self, actor: Principal, destination_id: str) -> None:
        await self._store.destinations.remove(actor.user_id, destination_id)

    async def test(self, actor: Principal, destination_id: str) -> None:
        """Send a test notification now; ``Conflict`` says why it did not arrive."""
        found = [d for d in await self.list(actor) if d.id == destination_id]
        if not found:
            raise NotFound(f"no notification destination {destination_id}")
        message = Notice(
            title="Trace test notification",
            body=f"Notifications for {actor.user_name} arrive here.",
            click=self._notifier.message_base(),
        )
        try:
            await self._notifier.send(found[0], message)
        except DeliveryFailed as exc:
            raise Conflict(f"{found[0].hint} did not take the notification: {exc}") from exc


def _check_quiet(quiet: str, timezone: str) -> None:
    try:
        parse_quiet(quiet)
        ZoneInfo(timezone)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise InvalidInput(
            f"quiet hours are HH:MM-HH:MM in a time zone like Europe/Paris ({exc})"
        ) from exc
