"""The desktop app raises a system notification for what newly needs you,
through a freedesktop notification service on a private D-Bus session bus."""

from __future__ import annotations

import pytest

from tests.app.conftest import FAST, World
from tests.conftest import eventually
from tests.support.dbus_session import notification_service, session_bus
from trace_app.client import TraceClient
from trace_app.desktop_notifications import DesktopNotifications
from trace_app.inbox import InboxEntry

pytestmark = pytest.mark.process  # a dbus-daemon


async def test_a_new_question_raises_a_notification_on_the_desktop(world: World) -> None:
    with notification_service() as desktop:
        async with TraceClient(
            world.live.url,
            world.live.token,
            backoff=FAST,
            inbox_every_s=0.05,
            on_inbox_news=DesktopNotifications(bus=desktop.address),
        ) as trace:
            await trace.start()
            await eventually(lambda: len(trace.inbox.items) == 2)
            world.runtime.ask("Which database?", ["SQLite", "PostgreSQL"])
            await world.runtime.io.flush()
            # The seeded approval may itself be news, if it came after the first poll.
            question = ("Add email to users has a question for you", "asks: Which database?")
            await eventually(lambda: question in desktop.shown)
    assert desktop.shown.count(question) == 1


async def test_without_a_notification_service_nothing_is_raised_and_nothing_breaks() -> None:
    entry = InboxEntry(1, "failed", "s_1", "Port the parser", "failed: tool crashed", False)
    with session_bus() as address:  # a bus, but nobody shows notifications on it
        notifications = DesktopNotifications(bus=address)
        assert await notifications.raise_all([entry]) == []
    assert await DesktopNotifications(bus="unix:path=/nonexistent/bus").raise_all([entry]) == []
