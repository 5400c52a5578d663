"""What a view may ask of the frame around it: where it is, where to go, when to redraw.

The frame (:class:`~trace_app.ui.shell.Shell`) hands itself to each view as a
:class:`Navigator`; views never import the frame, so imports in ``trace_app.ui``
point one way: shell -> views -> panes -> widgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import flet as ft

from trace_app.client import TraceClient


@dataclass(frozen=True)
class ViewPlace:
    name: str  # sessions, inbox, new, repos, members, bridges, settings, session
    sid: str | None = None
    #: The pane a session opens on (None: its first).
    pane: str | None = None

    @property
    def route(self) -> str:
        """The page's route (the browser's address): ``/session/<sid>/<pane>``, ``/members``."""
        parts = [self.name, self.sid, self.pane] if self.sid else [self.name]
        return "/" + "/".join(p for p in parts if p)

    @classmethod
    def of(cls, route: str | None) -> ViewPlace:
        """The place a route names (the session list for anything else), so a tab that
        reconnects to a restarted server comes back where it was."""
        parts = [p for p in (route or "").split("/") if p]
        if len(parts) >= 2 and parts[0] == "session":
            return cls("session", parts[1], parts[2] if len(parts) > 2 else None)
        if len(parts) == 1 and parts[0] in PLACES:
            return cls(parts[0])
        return cls("sessions")


PLACES = ("sessions", "inbox", "new", "repos", "members", "bridges", "settings", "usage")


class View(Protocol):
    """A screen: ``build`` makes its controls once, ``refresh`` redraws them from the client."""

    def build(self, phone: bool) -> ft.Control: ...

    def refresh(self) -> None: ...


class Keyed(Protocol):
    """A view that acts on shortcuts (:mod:`trace_app.keymap`)."""

    def on_key(self, action: str, pressed: str) -> bool:
        """Do ``action`` (``pressed`` names the key); False if it means nothing here."""
        ...


class Navigator(Protocol):
    """The page, its signed-in client, and the frame's navigation and redrawing."""

    @property
    def page(self) -> ft.Page: ...

    @property
    def client(self) -> TraceClient | None: ...

    @property
    def place(self) -> ViewPlace:
        """What the frame shows now (a session may be drawn inside another place)."""
        ...

    @property
    def came_from(self) -> ViewPlace | None:
        """Where the frame was before ``place`` (the list highlights the session left)."""
        ...

    @property
    def terminals_in_page(self) -> bool:
        """Whether the page draws terminals itself (:class:`~trace_app.ui.shell.Origin`)."""
        ...

    def go(self, place: ViewPlace) -> None:
        """Show ``place``, built fresh."""

    def remember(self, place: ViewPlace) -> None:
        """Make ``place`` the page's route without rebuilding (a pane chosen)."""

    def redraw(self) -> None:
        """Redraw the current view from the client now."""

    def redraw_after(self, seconds: float) -> None:
        """Redraw once ``seconds`` have passed."""

    def watch(self, field: ft.TextField) -> ft.TextField:
        """``field``, its keys text and not shortcuts while it has the focus."""
        ...

    async def sign_out(self) -> None: ...
