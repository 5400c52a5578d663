"""What a notification says, and the interface that delivers it somewhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

#: The longest destination URL taken.
MAX_URL = 2_000


class DeliveryFailed(Exception):
    """The destination did not take the notification (the notifier retries)."""


@dataclass(frozen=True)
class Action:
    label: str
    url: str
    #: ``http``: the notification's app sends the request itself; ``view``: opens it.
    kind: Literal["http", "view"] = "http"


@dataclass(frozen=True)
class Notice:
    title: str
    body: str
    #: Where tapping the notification leads: the session in the app.
    click: str
    actions: list[Action] = field(default_factory=list)


class NoticeChannel(Protocol):
    async def hint(self, url: str) -> str:
        """What may be shown of ``url`` (no tokens); ``InvalidInput`` if it is no destination."""
        ...

    async def send(self, url: str, message: Notice) -> None:
        """Deliver, or raise :class:`DeliveryFailed`."""
        ...
