"""A view or pane that fails to draw shows its error in its own place.

Without this, an exception while drawing reaches Flet, which replaces the whole
page with "Error running app" and ends the task that applies live updates. With
it, the frame, navigation, the other panes and live updates go on; the failure
is logged once (with the session id) and drawn where the view or pane would be.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import flet as ft

from trace_app.ui import widgets as w
from trace_app.ui.navigator import View, ViewPlace

log = logging.getLogger(__name__)

#: Longest error text drawn in place (the log has the whole traceback).
SHOWN_CHARS = 200


class Boundary:
    """``box`` shows ``content`` while drawing works, and what went wrong once it does not."""

    def __init__(
        self, what: str, sid: str | None, content: ft.Control | None = None, expand: bool = True
    ) -> None:
        self.what = what
        self.sid = sid
        self.content = content
        self.box = ft.Container(content, expand=expand)
        self.failure: str | None = None

    def draw(self, render: Callable[[], object]) -> bool:
        """Run ``render``; False (and the error in ``box``) if it raised."""
        try:
            render()
        except Exception as exc:  # any bug in one drawing: shown and logged, never hidden
            self._failed(exc)
            return False
        self.failure = None
        self.box.content = self.content
        return True

    def _failed(self, exc: Exception) -> None:
        text = f"{type(exc).__name__}: {exc}"
        if text != self.failure:  # once per failure, not on every redraw (10 a second)
            log.error(
                "the %s failed to draw (session %s)",
                self.what,
                self.sid,
                exc_info=exc,
                extra={"session_id": self.sid, "view": self.what},
            )
        self.failure = text
        self.box.content = failed(self.what, self.sid, text)


def failed(what: str, sid: str | None, text: str) -> ft.Control:
    """The error drawn in a view's or pane's place."""
    if len(text) > SHOWN_CHARS:
        text = text[:SHOWN_CHARS] + "…"
    rows: list[ft.Control] = [
        ft.Row(
            [
                ft.Icon(ft.Icons.ERROR_OUTLINE, color=ft.Colors.ERROR),
                ft.Text(f"The {what} could not be drawn.", color=ft.Colors.ERROR),
            ]
        ),
        w.muted(text, 13),
    ]
    if sid is not None:
        rows.append(w.muted(f"Session {sid}", 13))
    column = ft.Column(rows, spacing=4)
    return w.tag(f"failed-{what}", ft.Container(column, padding=12))


class GuardedView:
    """A view drawn inside a :class:`Boundary`, from its construction to each refresh."""

    def __init__(self, place: ViewPlace, make: Callable[[], View]) -> None:
        self.boundary = Boundary(f"{place.name} view", place.sid)
        self.view: View | None = None
        self.boundary.draw(lambda: self._make(make))

    def _make(self, make: Callable[[], View]) -> None:
        self.view = make()

    def build(self, phone: bool) -> ft.Control:
        view = self.view
        if view is not None:
            self.boundary.content = None  # until the build succeeds
            self.boundary.draw(lambda: self._build(view, phone))
        return self.boundary.box

    def _build(self, view: View, phone: bool) -> None:
        self.boundary.content = view.build(phone)

    def on_key(self, action: str, pressed: str) -> bool:
        on_key = getattr(self.view, "on_key", None)  # views without shortcuts have none
        return bool(on_key(action, pressed)) if on_key is not None else False

    def refresh(self) -> None:
        if self.view is not None and self.boundary.content is not None:
            self.boundary.draw(self.view.refresh)
