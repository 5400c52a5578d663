"""The inbox: what needs you across workspaces; open one, or mark everything read."""

from __future__ import annotations

import flet as ft

from trace_app.client import TraceClient
from trace_app.inbox import InboxEntry
from trace_app.ui import widgets as w
from trace_app.ui.navigator import Navigator, ViewPlace
from trace_sync.contract.attention import headline
from trace_sync.contract.errors import TraceError

ICONS = {
    "approval": ft.Icons.GPP_MAYBE,
    "question": ft.Icons.HELP_OUTLINE,
    "failed": ft.Icons.ERROR_OUTLINE,
    "interrupted": ft.Icons.REPORT_GMAILERRORRED,
    "finished": ft.Icons.DONE_ALL,
    "handoff": ft.Icons.SWAP_HORIZ,
    "mention": ft.Icons.ALTERNATE_EMAIL,
    "budget": ft.Icons.SAVINGS,
    "limit": ft.Icons.STORAGE,
}


class InboxView:
    def __init__(self, nav: Navigator) -> None:
        self.nav = nav
        self.list = ft.ListView(expand=True, spacing=4)
        self.problem = ""

    @property
    def client(self) -> TraceClient:
        assert self.nav.client is not None
        return self.nav.client

    def build(self, phone: bool) -> ft.Control:
        read_all = w.tag("inbox-read-all", w.button("Mark all read", self._read_all, big=phone))
        top = ft.Row([w.heading("Inbox"), read_all], wrap=True, spacing=12)
        return ft.Container(ft.Column([top, self.list], expand=True, spacing=10), padding=12)

    def refresh(self) -> None:
        entries = self.client.inbox.items
        rows: list[ft.Control] = [self._row(e) for e in entries]
        problem = [ft.Text(self.problem, color=ft.Colors.ERROR)] if self.problem else []
        self.list.controls = problem + (rows or [w.muted("Nothing needs you.", 14)])

    def _row(self, entry: InboxEntry) -> ft.Control:
        weight = ft.FontWeight.NORMAL if entry.read else ft.FontWeight.BOLD
        tile = ft.ListTile(
            leading=ft.Icon(ICONS.get(entry.kind, ft.Icons.NOTIFICATIONS)),
            title=ft.Text(headline(entry.title, entry.kind), weight=weight),
            subtitle=w.muted(entry.body, 13),
            on_click=lambda _e, entry=entry: self.nav.page.run_task(self._open, entry),
        )
        return w.tag(f"inbox-item-{entry.id}", tile, label=f"{'read' if entry.read else 'unread'}")

    async def _open(self, entry: InboxEntry) -> None:
        await self._marking([entry.id])
        self.nav.go(ViewPlace("session", entry.session_id))

    async def _read_all(self, _e: object) -> None:
        await self._marking(None)

    async def _marking(self, ids: list[int] | None) -> None:
        try:
            await self.client.inbox.mark_read(ids)
            self.problem = ""
        except TraceError as exc:
            self.problem = f"Not marked read (the server is needed): {exc}"
        self.nav.redraw()
