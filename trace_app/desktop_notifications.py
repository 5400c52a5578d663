"""System notifications on the desktop: new inbox items raised through the
desktop's notification service (freedesktop notifications over D-Bus on
Linux, which GNOME, KDE, XFCE and most others provide).

Only this module speaks D-Bus (through ``jeepney``, pure Python). Without a
session bus or a notification service, nothing is raised and the app goes
on: the badge and the inbox still say it.
"""

from __future__ import annotations

import asyncio
import logging

from trace_app.inbox import InboxEntry
from trace_sync.contract.attention import headline

log = logging.getLogger(__name__)

SERVICE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
#: How long a notification stays (ms); the service's own default with -1.
EXPIRE_MS = -1


class DesktopNotifications:
    """``on_inbox_news`` for the desktop app: each new item becomes a notification."""

    def __init__(self, bus: str = "SESSION") -> None:
        self._bus = bus
        self._tasks: set[asyncio.Task[list[int]]] = set()
        self._unavailable = False

    def __call__(self, entries: list[InboxEntry]) -> None:
        if not entries or self._unavailable:
            return
        task = asyncio.get_running_loop().create_task(self.raise_all(entries))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def raise_all(self, entries: list[InboxEntry]) -> list[int]:
        """Raise one notification per entry; the ids the service gave them."""
        from jeepney import DBusAddress, DBusErrorResponse, new_method_call
        from jeepney.io.asyncio import open_dbus_router
        from jeepney.wrappers import unwrap_msg

        target = DBusAddress(PATH, bus_name=SERVICE, interface=SERVICE)
        ids: list[int] = []
        try:
            async with open_dbus_router(bus=self._bus) as router:
                for entry in entries:
                    body = (headline(entry.title, entry.kind)[:200], entry.body[:500])
                    args: tuple[object, ...] = ("Trace", 0, "", *body, [], {}, EXPIRE_MS)
                    call = new_method_call(target, "Notify", "susssasa{sv}i", args)
                    reply = unwrap_msg(await router.send_and_get_reply(call))
                    ids.append(int(reply[0]))
        except (OSError, KeyError, DBusErrorResponse) as exc:  # no bus, no service
            self._unavailable = True
            log.info("no desktop notifications", extra={"reason": str(exc)})
        return ids
