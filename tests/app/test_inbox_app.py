"""The inbox in the app against a real server: the client layer's feed, the
badge, the view, and the tab's title counting what needs you."""

from __future__ import annotations

from typing import Any

import flet as ft

from tests.app.conftest import FAST, World
from tests.app.headless import Headless
from tests.conftest import eventually
from trace_app.client import TraceClient
from trace_app.inbox import InboxEntry
from trace_app.ui.shell import Origin, ViewPlace


async def test_the_feed_counts_what_needs_you_and_tells_of_what_is_new(world: World) -> None:
    news: list[InboxEntry] = []
    async with TraceClient(
        world.live.url,
        world.live.token,
        backoff=FAST,
        inbox_every_s=0.05,
        on_inbox_news=news.extend,
    ) as trace:
        await trace.start()
        # The hosted session asks for approval; the seeded idle one finished its turn.
        # (the count and the list are two reads: a poll may see an item arrive between them)
        await eventually(lambda: len(trace.inbox.items) == 2 and trace.inbox.unread == 2)
        asked, finished = trace.inbox.items
        assert asked.kind == "approval" and asked.session_id == world.hosted
        assert finished.kind == "finished" and finished.title == "Explore the parser"
        news.clear()  # (the approval may have come after the first look: news then)
        world.runtime.ask("Which database?", ["SQLite", "PostgreSQL"])
        await world.runtime.io.flush()
        await eventually(lambda: [n.kind for n in news] == ["question"])
        assert "Which database?" in news[0].body
        await trace.inbox.mark_read()
        assert trace.inbox.unread == 0 and all(i.read for i in trace.inbox.items)


async def test_a_persons_tabs_share_one_feed_and_see_each_others_reading(world: World) -> None:
    def tab() -> TraceClient:
        return TraceClient(world.live.url, world.live.token, backoff=FAST, inbox_every_s=0.05)

    async with tab() as first:
        await first.start()
        told: list[str] = []
        first.subscribe(lambda: told.append("first"))
        async with tab() as second:
            await second.start()
            assert second.inbox is first.inbox  # the server is asked once for both
            await eventually(lambda: second.inbox.unread == 2)
            told.clear()
            await second.inbox.mark_read()
            assert first.inbox.unread == 0 and told  # the first tab redraws at once
        world.runtime.ask("Which database?", ["SQLite", "PostgreSQL"])  # the second tab left
        await world.runtime.io.flush()
        await eventually(lambda: first.inbox.unread == 1)  # the feed still polls for the first


async def test_a_persons_devices_hear_of_news_and_of_reading_without_asking(world: World) -> None:
    """Neither device polls here (once an hour): what moves their inboxes is the
    person's signal document, which the server changes when an item is added or read."""

    def device(**options: Any) -> TraceClient:
        url, token = world.live.url, world.live.token
        return TraceClient(url, token, backoff=FAST, inbox_every_s=3600, **options)

    news: list[InboxEntry] = []
    async with device(on_inbox_news=news.extend) as desk, device() as tab:
        for client in (desk, tab):
            await client.start()
        await eventually(lambda: desk.inbox.unread == tab.inbox.unread == 2, within=15)
        assert desk.inbox is not tab.inbox  # two feeds, as two devices have
        world.runtime.ask("Which database?", ["SQLite", "PostgreSQL"])
        await world.runtime.io.flush()
        await eventually(lambda: desk.inbox.unread == tab.inbox.unread == 3)
        assert [n.kind for n in news if n.kind == "question"] == ["question"]
        await tab.inbox.mark_read()
        await eventually(lambda: desk.inbox.unread == 0)


async def test_the_badge_and_the_tab_title_count_and_the_view_opens_the_session(
    world: World,
) -> None:
    async with Headless(Origin(world.live.url, world.live.token)) as app:
        await eventually(lambda: app.page.title == "(2) Trace", within=30)
        assert app.shell.client is not None and len(app.shell.client.inbox.items) == 2
        rail = next(c for c in app.controls() if isinstance(c, ft.NavigationRail))
        assert rail.destinations[1].icon.badge.label == "2"
        rail.selected_index = 1  # the Inbox destination, as the client's patch says
        await app.session.dispatch_event(rail._i, "change", None)
        await eventually(lambda: "Add email to users needs your approval" in app.text())
        entry = next(
            c for c in app.controls()
            if isinstance(c, ft.Semantics) and (c.identifier or "").startswith("inbox-item-")
        )  # fmt: skip
        assert entry.label == "unread"
        await app.click(entry.content)
        await eventually(lambda: app.shell.place.sid == world.hosted)
        await eventually(lambda: app.page.title == "(1) Trace")
        app.shell.go(ViewPlace("inbox"))
        await app.click(app.find(ft.Button, "Mark all read"))
        await eventually(lambda: app.page.title == "Trace")
        rail = next(c for c in app.controls() if isinstance(c, ft.NavigationRail))  # rebuilt
        assert rail.destinations[1].icon.badge is None
