"""Settings: who you are, where you are connected, and where your notifications go."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import flet as ft

from trace_app.client import TraceClient
from trace_app.reach import Reach
from trace_app.ui import widgets as w
from trace_app.ui.navigator import Navigator, ViewPlace
from trace_app.workspace_state import workspace_name
from trace_sync.contract.errors import TraceError


class SettingsView:
    def __init__(self, nav: Navigator) -> None:
        self.nav = nav
        self.list = ft.ListView(expand=True, spacing=4)
        self.reach = Reach(self.client.api)
        self.url = ft.TextField(label="Apprise URL (ntfys://ntfy.sh/topic, slack://…)", expand=True)
        self.events = ft.TextField(label="Events (empty: all)", width=220, dense=True)
        self.quiet = ft.TextField(label="Quiet hours 22:00-07:00", width=200, dense=True)
        self.said = ""
        self.notifications: list[ft.Control] = []
        nav.page.run_task(self._load)

    @property
    def client(self) -> TraceClient:
        assert self.nav.client is not None
        return self.nav.client

    def build(self, phone: bool) -> ft.Control:
        add = w.tag("notify-add", w.button("Add", self._add, big=phone))
        usage = w.button("Usage and budgets", lambda _e: self.nav.go(ViewPlace("usage")), big=phone)
        self.notifications = [
            ft.Row([ft.Text("Notifications", size=16, weight=ft.FontWeight.BOLD), usage]),
            w.muted("Where what needs you is sent (any Apprise URL), for which events, when not"),
            ft.Row([self.url, add]),
            ft.Row([self.events, self.quiet], wrap=True),
        ]
        column = ft.Column([w.heading("Settings"), self.list], expand=True, spacing=10)
        return ft.Container(column, padding=12, expand=True)

    def refresh(self) -> None:
        client = self.client
        connection = client.connection()
        facts = [
            ("Signed in as", f"{client.user_name} ({client.role})"),
            ("Workspace", workspace_name(client.workspace.doc, client.workspace_id)),
            ("Server", client.server_url),
            ("Connection", connection.label),
            ("Commands waiting", str(connection.pending)),
        ]
        rows: list[ft.Control] = [
            ft.ListTile(title=ft.Text(v), subtitle=w.muted(k)) for k, v in facts
        ]
        rows.append(
            ft.Row(
                [
                    ft.OutlinedButton(
                        content="Sign out",
                        on_click=lambda _e: self.nav.page.run_task(self.nav.sign_out),
                    )
                ]
            )
        )
        rows += self.notifications
        rows += [self._destination(d) for d in self.reach.destinations]
        if self.said:
            rows.append(w.tag("notify-said", ft.Text(self.said, size=13)))
        self.list.controls = rows

    def _destination(self, found: dict[str, Any]) -> ft.Control:
        did = str(found["id"])
        events = ", ".join(found["events"]) or "all events"
        quiet = f" · quiet {found['quiet']} {found['timezone']}" if found["quiet"] else ""
        test = ft.TextButton(content="Test", on_click=lambda _e: self._run(self._test(did)))
        remove = ft.IconButton(
            ft.Icons.DELETE_OUTLINE,
            tooltip="Stop sending here",
            on_click=lambda _e: self._run(self.reach.remove_destination(did)),
        )
        tile = ft.ListTile(
            leading=ft.Icon(ft.Icons.NOTIFICATIONS_OUTLINED),
            title=ft.Text(str(found["hint"])),
            subtitle=w.muted(events + quiet),
            trailing=ft.Row([test, remove], tight=True),
        )
        return w.tag(f"notify-{did}", tile)

    async def _load(self) -> None:
        await self._run_now(self.reach.load_destinations())

    async def _add(self, _e: object) -> None:
        events = [e.strip() for e in (self.events.value or "").split(",") if e.strip()]
        adding = self.reach.add_destination(
            (self.url.value or "").strip(), events, (self.quiet.value or "").strip() or None
        )
        if await self._run_now(adding):
            self.url.value = ""  # the URL holds a secret: gone from the page once stored
            self.said = "Added: notifications go there from now on."
        self.nav.redraw()

    async def _test(self, did: str) -> None:
        await self.reach.test_destination(did)
        self.said = "Sent a test notification."

    def _run(self, work: Awaitable[object]) -> None:
        self.nav.page.run_task(self._run_now, work)

    async def _run_now(self, work: Awaitable[object]) -> bool:
        try:
            await work
        except TraceError as exc:
            self.said = f"Not done: {exc}"
            return self._redrawn(False)
        return self._redrawn(True)

    def _redrawn(self, done: bool) -> bool:
        if self.nav.client is not None:  # not signed out (or closed) meanwhile
            self.nav.redraw()
        return done
