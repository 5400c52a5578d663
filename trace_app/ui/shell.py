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
from typing import TypeVar

import flet as ft

from trace_app.client import TraceClient
from trace_app.inbox import InboxEntry, tab_title
from trace_app.terminal_screens import SCREENS
from trace_app.ui import widgets as w
from trace_app.ui.boundary import GuardedView
from trace_app.ui.keyboard import Keyboard
from trace_app.ui.navigator import ViewPlace
from trace_app.ui.signin_view import sign_in_view
from trace_app.ui.views import view_for
from trace_app.workspace_state import attention_text
from trace_sync.contract.errors import TraceError

log = logging.getLogger(__name__)

#: Shortest time between two redraws: streaming text may change 100 times a second.
REDRAW_S = 0.1


@dataclass
class Origin:
    """Where this page's client connects: fixed for the web app, chosen on the desktop."""

    server_url: str
    token: str | None = None
    data_dir: Path | None = None
    #: Called with (server_url, token) after a successful sign-in (the desktop saves them).
    remember: Callable[[str, str], None] | None = None
    editable_server: bool = True
    #: Called with new inbox items (the desktop raises system notifications).
    on_inbox_news: Callable[[list[InboxEntry]], None] | None = None
    #: The page draws the terminals itself (the web app's ``terminal.js``), so the
    #: terminal pane holds only a placeholder and this process draws nothing per tab.
    terminals_in_page: bool = False


Destination = TypeVar("Destination", ft.NavigationRailDestination, ft.NavigationBarDestination)
NAV = [
    ("sessions", "Sessions", ft.Icons.LIST_ALT),
    ("inbox", "Inbox", ft.Icons.INBOX),
    ("new", "New", ft.Icons.ADD_CIRCLE_OUTLINE),
    ("repos", "Repos", ft.Icons.SOURCE),
    ("members", "Members", ft.Icons.PEOPLE_OUTLINE),
    ("bridges", "Bridges", ft.Icons.COMPUTER),
    ("settings", "Settings", ft.Icons.SETTINGS_OUTLINED),
]


class Shell:
    """The frame around the views, and their :class:`~trace_app.ui.navigator.Navigator`."""

    def __init__(self, page: ft.Page, origin: Origin) -> None:
        self.page = page
        self.origin = origin
        self.client: TraceClient | None = None
        self.place = ViewPlace("sessions")
        self.came_from: ViewPlace | None = None
        self.view: GuardedView | None = None
        self._phone = False
        self._dirty = asyncio.Event()
        self._closing = asyncio.Event()
        self._status = ft.Text("", size=12)
        self._notice = ft.Container(visible=False)
        self._away = ft.Text("", color=ft.Colors.WHITE)
        self._link = ft.Container(  # the server is away: said above the view, which stays
            content=w.tag("link", self._away),
            bgcolor=ft.Colors.RED_700,
            padding=ft.Padding.symmetric(horizontal=12, vertical=6),
            visible=False,
        )
        self._body = ft.Container(expand=True)
        self.keyboard = Keyboard(page, self._key)
        #: The inbox's places in the navigation (rail, bottom bar): a badge counts what is unread.
        self._inbox_places: list[ft.NavigationRailDestination | ft.NavigationBarDestination] = []

    # -- lifecycle -----------------------------------------------------------------

    async def run(self) -> None:
        """Until the page closes: sign in (at once with a known token), then serve the views."""
        self.page.title = "Trace"
        self.page.fonts = w.FONTS
        self.page.padding = 0
        self.page.on_resize = lambda _e: self._relayout()
        self.page.on_close = self._on_close
        self.page.on_disconnect = self._on_disconnect
        self.page.on_keyboard_event = self.keyboard.pressed
        if self.origin.token:
            with contextlib.suppress(TraceError):
                await self.sign_in(self.origin.server_url, self.origin.token)
                return
        self._show_sign_in()

    async def sign_in(self, server_url: str, token: str) -> None:
        """Open a client for ``server_url`` with ``token``; raises what the server said."""
        client = TraceClient(
            server_url,
            token,
            data_dir=self.origin.data_dir,
            on_inbox_news=self.origin.on_inbox_news,
            screens=None if self.origin.terminals_in_page else SCREENS,
        )
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
        self.go(ViewPlace.of(self.page.route))  # where the tab was, if it reconnected

    async def sign_out(self) -> None:
        if self.client is not None:
            await self.client.__aexit__(None, None, None)
            self.client = None
        self._show_sign_in()

    async def _on_close(self, _event: object) -> None:
        await self.close()

    async def _on_disconnect(self, _event: object) -> None:
        """The tab closed or lost its link: the session lingers for a while in case
        it comes back, but nobody is looking from it, so its presence goes now."""
        if self.client is not None:
            self.client.absent()

    def reconnected(self) -> None:
        """The tab is back: it is looking again."""
        if self.client is not None:
            self.client.present()

    async def close(self) -> None:
        self._closing.set()
        if self.client is not None:
            await self.client.__aexit__(None, None, None)
            self.client = None

    # -- navigation ----------------------------------------------------------------

    def go(self, place: ViewPlace) -> None:
        """Show ``place`` (built fresh), keeping the frame."""
        assert self.client is not None
        self.came_from = self.place
        self.remember(place)  # before the view is made: it reads the place
        self.keyboard.focused = None  # its field goes with the old view, maybe without a blur
        self.view = GuardedView(place, lambda: view_for(self, place))
        self._relayout()

    def remember(self, place: ViewPlace) -> None:
        self.place = place
        if self.page.route != place.route:
            self.page.route = place.route
            self.page.run_task(self._push_route, place.route)

    async def _push_route(self, route: str) -> None:
        """Put ``route`` in the browser's address, so a reload or a restarted server
        brings the tab back to it."""
        with contextlib.suppress(TimeoutError):  # no client to answer (a closing page)
            await self.page.push_route(route)

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
            [top, self._link, self._notice, self._body],
            expand=True,
            spacing=0,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,  # the notice spans the width
        )
        if self._phone:
            return ft.SafeArea(content=column, expand=True)
        rail = ft.NavigationRail(
            selected_index=self._nav_index(),
            label_type=ft.NavigationRailLabelType.ALL,
            destinations=self._inboxed(
                [ft.NavigationRailDestination(icon=i, label=t) for _, t, i in NAV]
            ),
            on_change=lambda e: self._navigate(int(e.control.selected_index or 0)),
        )
        return ft.Row([rail, ft.VerticalDivider(width=1), column], expand=True, spacing=0)

    def _bottom_nav(self) -> ft.NavigationBar:
        return ft.NavigationBar(
            selected_index=self._nav_index(),
            destinations=self._inboxed([w.bar_destination(i, t) for _, t, i in NAV]),
            on_change=lambda e: self._navigate(int(e.control.selected_index or 0)),
        )

    def _inboxed(self, places: list[Destination]) -> list[Destination]:
        """Note the inbox's place among ``places`` (its badge is set on every redraw)."""
        self._inbox_places = [places[[n for n, _, _ in NAV].index("inbox")]]
        self._badge()
        return places

    def _badge(self) -> None:
        unread = self.client.inbox.unread if self.client is not None else 0
        badge = ft.Badge(label=str(unread)) if unread else None
        for place in self._inbox_places:
            # On the icon (the web client draws a destination's own badge astray), and
            # a new icon each time: Flet sends a changed value, not one changed in place.
            place.icon = ft.Icon(ft.Icons.INBOX, badge=badge)

    def _nav_index(self) -> int:
        names = [n for n, _, _ in NAV]
        name = "settings" if self.place.name == "usage" else self.place.name  # opened from there
        return names.index(name) if name in names else 0

    def _navigate(self, index: int) -> None:
        self.go(ViewPlace(NAV[index][0]))

    # -- keys ----------------------------------------------------------------------

    def watch(self, field: ft.TextField) -> ft.TextField:
        return self.keyboard.watch(field)

    def _key(self, action: str, pressed: str) -> None:
        """A shortcut: the frame's own (back, search), else the view's."""
        if self.client is None or self.view is None:
            return  # signing in: Tab and Enter do it
        if action == "help" or (action == "back" and self.keyboard.overlay is not None):
            self.keyboard.toggle_overlay()
            return
        if action == "back" and self.place.name == "session":
            self.go(ViewPlace("sessions"))
            return
        if action == "search" and self.place.name != "sessions":
            self.go(ViewPlace("sessions"))
        if self.view.on_key(action, pressed):
            self.redraw()

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

    @property
    def terminals_in_page(self) -> bool:
        return self.origin.terminals_in_page

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
        self._away.value = connection.notice or ""
        self._link.visible = connection.notice is not None
        self.page.title = tab_title(self.client.inbox.unread)
        self._badge()
        waiting = [r for r in self.client.attention() if r.id != self.place.sid]
        self._notice.visible = bool(waiting)
        if waiting:
            # One session: open it; several: the list, where each says what it waits for.
            there = (
                ViewPlace("session", waiting[0].id) if len(waiting) == 1 else ViewPlace("sessions")
            )
            self._notice.content = w.tag(
                "attention",
                ft.Row(
                    [
                        ft.Icon(ft.Icons.NOTIFICATIONS_ACTIVE, color=ft.Colors.BLACK),
                        ft.Text(attention_text(waiting), color=ft.Colors.BLACK),
                        ft.TextButton(content="Open", on_click=lambda _e: self.go(there)),
                    ],
                    wrap=True,
                ),
            )
            self._notice.bgcolor = ft.Colors.AMBER_200
            self._notice.padding = ft.Padding.symmetric(horizontal=12, vertical=4)

    # -- signing in ----------------------------------------------------------------

    def _show_sign_in(self) -> None:
        self.page.navigation_bar = None
        origin = self.origin
        form = sign_in_view(self.page, origin.server_url, origin.editable_server, self.sign_in)
        self.page.controls = [form]
        self.page.update()
