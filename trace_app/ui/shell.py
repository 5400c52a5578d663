"""The app's frame: sign-in, navigation by width, connection state, notices.

One :class:`Shell` per page (browser tab or desktop window). It owns the
page's :class:`~trace_app.client.TraceClient` and redraws the current view
whenever the client reports a change (at most every ``REDRAW_S``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import flet as ft

from trace_app.client import TraceClient
from trace_app.ui import widgets as w
from trace_sync.errors import TraceError

log = logging.getLogger(__name__)

#: Shortest time between two redraws: streaming text may change 100 times a second.
REDRAW_S = 0.1


class View(Protocol):
    """A screen: ``build`` makes its controls once, ``refresh`` redraws them from the client."""

    def build(self, phone: bool) -> ft.Control: ...

    def refresh(self) -> None: ...


@dataclass
class Origin:
    """Where this page's client connects: fixed for the web app, chosen on the desktop."""

    server_url: str
    token: str | None = None
    data_dir: Path | None = None
    #: Called with (server_url, token) after a successful sign-in (the desktop saves them).
    remember: Callable[[str, str], None] | None = None
    editable_server: bool = True


@dataclass(frozen=True)
class Place:
    name: str  # sessions, new, repos, members, settings, session
    sid: str | None = None


NAV = [
    ("sessions", "Sessions", ft.Icons.LIST_ALT),
    ("new", "New", ft.Icons.ADD_CIRCLE_OUTLINE),
    ("repos", "Repos", ft.Icons.SOURCE),
    ("members", "Members", ft.Icons.PEOPLE_OUTLINE),
    ("bridges", "Bridges", ft.Icons.COMPUTER),
    ("settings", "Settings", ft.Icons.SETTINGS_OUTLINED),
]


class Shell:
    def __init__(self, page: ft.Page, origin: Origin) -> None:
        self.page = page
        self.origin = origin
        self.client: TraceClient | None = None
        self.place = Place("sessions")
        self.view: View | None = None
        self._phone = False
        self._dirty = asyncio.Event()
        self._closing = asyncio.Event()
        self._status = ft.Text("", size=12)
        self._notice = ft.Container(visible=False)
        self._body = ft.Container(expand=True)

    # -- lifecycle -----------------------------------------------------------------

    async def run(self) -> None:
        """Until the page closes: sign in (at once with a known token), then serve the views."""
        self.page.title = "Trace"
        self.page.fonts = w.FONTS
        self.page.padding = 0
        self.page.on_resize = lambda _e: self._relayout()
        self.page.on_close = self._on_close
        if self.origin.token:
            with contextlib.suppress(TraceError):
                await self.sign_in(self.origin.server_url, self.origin.token)
                return
        self._show_sign_in()

    async def sign_in(self, server_url: str, token: str) -> None:
        """Open a client for ``server_url`` with ``token``; raises what the server said."""
        client = TraceClient(server_url, token, data_dir=self.origin.data_dir)
        await client.__aenter__()
        try:
            await client.start()
        except BaseException:
            await client.__aexit__(None, None, None)
            raise
        if self.origin.remember is not None:
            self.origin.remember(server_url, token)
        self.client = client
        client.subscribe(self._dirty.set)
        self.page.run_task(self._redraw_loop)
        self.go(Place("sessions"))

    async def sign_out(self) -> None:
        if self.client is not None:
            await self.client.__aexit__(None, None, None)
            self.client = None
        self._show_sign_in()

    async def _on_close(self, _event: object) -> None:
        await self.close()

    async def close(self) -> None:
        self._closing.set()
        if self.client is not None:
            await self.client.__aexit__(None, None, None)
            self.client = None

    # -- navigation ----------------------------------------------------------------

    def go(self, place: Place) -> None:
        """Show ``place`` (built fresh), keeping the frame."""
        from trace_app.ui.views import view_for  # the views import the shell's types

        assert self.client is not None
        self.place = place
        self.view = view_for(self, place)
        self._relayout()

    def _relayout(self) -> None:
        if self.client is None or self.view is None:
            self.page.update()
            return
        self._phone = (self.page.width or 1280) < w.PHONE_MAX_WIDTH
        self._body.content = self.view.build(self._phone)
        self.view.refresh()
        self._refresh_frame()
        self.page.controls = [self._frame()]
        self.page.navigation_bar = self._bottom_nav() if self._phone else None
        self.page.update()

    def _frame(self) -> ft.Control:
        top = ft.Container(
            content=ft.Row(
                [
                    ft.Text("Trace", size=18, weight=ft.FontWeight.BOLD),
                    ft.Container(expand=True),
                    w.tag("connection", self._status),
                ]
            ),
            padding=ft.Padding.symmetric(horizontal=12, vertical=8),
            bgcolor=ft.Colors.SURFACE_CONTAINER,
        )
        column = ft.Column(
            [top, self._notice, self._body],
            expand=True,
            spacing=0,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,  # the notice spans the width
        )
        if self._phone:
            return ft.SafeArea(content=column, expand=True)
        rail = ft.NavigationRail(
            selected_index=self._nav_index(),
            label_type=ft.NavigationRailLabelType.ALL,
            destinations=[ft.NavigationRailDestination(icon=i, label=t) for _, t, i in NAV],
            on_change=lambda e: self._navigate(int(e.control.selected_index or 0)),
        )
        return ft.Row([rail, ft.VerticalDivider(width=1), column], expand=True, spacing=0)

    def _bottom_nav(self) -> ft.NavigationBar:
        return ft.NavigationBar(
            selected_index=self._nav_index(),
            destinations=[ft.NavigationBarDestination(icon=i, label=t) for _, t, i in NAV],
            on_change=lambda e: self._navigate(int(e.control.selected_index or 0)),
        )

    def _nav_index(self) -> int:
        names = [n for n, _, _ in NAV]
        return names.index(self.place.name) if self.place.name in names else 0

    def _navigate(self, index: int) -> None:
        self.go(Place(NAV[index][0]))

    # -- redrawing -----------------------------------------------------------------

    async def _redraw_loop(self) -> None:
        while not self._closing.is_set() and self.client is not None:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                self.redraw()
            except RuntimeError as exc:  # the page went away under us
                log.info("redraw stopped", extra={"reason": str(exc)})
                return
            await asyncio.sleep(REDRAW_S)  # coalesce bursts into one redraw

    def redraw_after(self, seconds: float) -> None:
        """Redraw once ``seconds`` have passed (something waits for a person to pause)."""
        asyncio.get_running_loop().call_later(seconds, self._dirty.set)

    def redraw(self) -> None:
        if self.view is None:
            return
        self.view.refresh()
        self._refresh_frame()
        self.page.update()

    def _refresh_frame(self) -> None:
        assert self.client is not None
        connection = self.client.connection()
        colour = {"online": ft.Colors.GREEN, "connecting": ft.Colors.AMBER}.get(
            connection.state, ft.Colors.RED
        )
        self._status.value = connection.label
        self._status.color = colour
        waiting = [r for r in self.client.attention() if r.id != self.place.sid]
        self._notice.visible = bool(waiting)
        if waiting:
            first = waiting[0]
            what = "approval" if first.status == "waiting_approval" else "input"
            self._notice.content = w.tag(
                "attention",
                ft.Row(
                    [
                        ft.Icon(ft.Icons.NOTIFICATIONS_ACTIVE, color=ft.Colors.BLACK),
                        ft.Text(f"“{first.title}” needs your {what}", color=ft.Colors.BLACK),
                        ft.TextButton(
                            content="Open", on_click=lambda _e: self.go(Place("session", first.id))
                        ),
                    ],
                    wrap=True,
                ),
            )
            self._notice.bgcolor = ft.Colors.AMBER_200
            self._notice.padding = ft.Padding.symmetric(horizontal=12, vertical=4)

    # -- signing in ----------------------------------------------------------------

    def _show_sign_in(self) -> None:
        from trace_app.ui.signin_view import sign_in_view

        self.page.navigation_bar = None
        self.page.controls = [sign_in_view(self)]
        self.page.update()
