"""A session: header and actions, then its panes — split on a desktop, one at a time on a phone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import flet as ft

from trace_app import commands
from trace_app.client import TraceClient
from trace_app.keymap import step
from trace_app.session_state import Header
from trace_app.ui import widgets as w
from trace_app.ui.code_panes import FilesPane
from trace_app.ui.kept import Kept
from trace_app.ui.navigator import Navigator, ViewPlace
from trace_app.ui.panes import Panes
from trace_app.ui.placement import RunOn
from trace_app.ui.preview_link import PreviewLink
from trace_app.workspace_state import members, runtimes, select
from trace_sync.docs import entries as e

#: Which lifecycle actions make sense in which status (the server decides; this hides noise).
ACTIONS: dict[str, tuple[str, ...]] = {
    "pause": ("running", "waiting_approval", "waiting_input", "idle", "starting"),
    "resume": ("paused", "stopped", "failed", "interrupted"),
    "rerun": ("interrupted",),
    "stop": (
        "running",
        "waiting_approval",
        "waiting_input",
        "idle",
        "paused",
        "starting",
        "interrupted",
    ),
    "archive": ("stopped", "idle", "failed", "interrupted"),
    "restore": ("archived",),
}
#: The header keeps the composer in the window: a runtime error is cut to a few lines,
#: and only the newest pending or failed commands are listed.
ERROR_LINES = 3
SHOWN_COMMANDS = 3
#: Button labels that are not just the verb.
LABELS = {"rerun": "Run again"}
#: File shortcuts (trace_app.keymap) -> what they do to the files pane.
FILE_KEYS: dict[str, Callable[[FilesPane], None]] = {
    "next_file": lambda files: files.step(1),
    "previous_file": lambda files: files.step(-1),
    "viewed": lambda files: files.toggle_viewed(),
}
DESKTOP_PANES = ("approvals", "terminal", "files", "checkpoints", "notes")
PHONE_PANES = ("transcript", "draft", "approvals", "terminal", "files", "checkpoints", "notes")


class SessionView:
    def __init__(self, nav: Navigator, sid: str) -> None:
        self.nav = nav
        self.sid = sid
        self.panes = Panes(nav, sid)
        self.run_on = RunOn(nav, sid)
        self.preview = PreviewLink(nav, sid)
        self.pane = nav.place.pane or "approvals"
        self.header = ft.Column(spacing=6)
        #: The header's rows that stay the same control while what they show stays.
        self.kept = Kept()
        # A phone: one row that scrolls sideways (two wrapped rows of seven chips
        # took a third of the screen); a desktop's five chips wrap.
        self.selector = ft.Row(spacing=6, scroll=ft.ScrollMode.AUTO)
        self.pane_box = ft.Container(expand=True)
        self.opened = False
        nav.page.run_task(self._open)

    @property
    def client(self) -> TraceClient:
        assert self.nav.client is not None
        return self.nav.client

    async def _open(self) -> None:
        await self.client.open_session(self.sid)
        self.opened = True
        self.nav.redraw()

    def build(self, phone: bool) -> ft.Control:
        self.phone = phone
        self.names = PHONE_PANES if phone else DESKTOP_PANES
        if self.pane not in self.names:
            self.pane = self.names[0]
        self.selector.wrap = not phone
        # Made once per layout and updated in place: a chip drawn anew on each live
        # redraw loses a tap in progress (the session's first redraws come quickly).
        self.pane_chips = {name: self._pane_chip(name) for name in self.names}
        self.selector.controls = [w.tag(f"pane-{n}", c) for n, c in self.pane_chips.items()]
        if phone:
            column = ft.Column([self.header, self.selector, self.pane_box], expand=True)
            return ft.Container(content=column, padding=8, expand=True)
        self.left = ft.Column(
            [self.header, self.panes.transcript_box, self.panes.draft_box], expand=3, spacing=8
        )
        self.right = ft.Column([self.selector, self.pane_box], expand=2, spacing=8)
        row = ft.Row([self.left, ft.VerticalDivider(width=1), self.right], expand=True)
        return ft.Container(content=row, padding=8, expand=True)

    def refresh(self) -> None:
        if not self.opened:
            self.header.controls = [w.muted("Opening…", 14)]
            return
        state = self.client.session(self.sid)
        self.header.controls = self._header(state.header)
        counts = {"approvals": len(state.approvals), "files": len(state.files)}
        for name, chip in self.pane_chips.items():
            count = counts.get(name)
            chip.label = f"{name} ({count})" if count else name
            chip.selected = self.pane == name
        self.panes.refresh(state, phone=self.phone)
        self.pane_box.content = self.panes.box(self.pane)
        if not self.phone:  # a diff side by side wants the wider half
            wide = self.pane == "files"
            self.left.expand, self.right.expand = (2, 3) if wide else (3, 2)

    def on_key(self, action: str, pressed: str) -> bool:
        if action in ("next_session", "previous_session"):
            ids = [r.id for r in select(self.client.sessions())]
            if self.sid in ids and len(ids) > 1:
                self.nav.go(
                    ViewPlace("session", step(ids, self.sid, 1 if action[0] == "n" else -1))
                )
            return False  # a new view is drawn: nothing to redraw here
        if action in ("next_pane", "previous_pane"):
            self._show(step(list(self.names), self.pane, 1 if action[0] == "n" else -1))
        elif action == "compose":
            self._show("draft" if self.phone else self.pane)
            self.nav.page.run_task(self.panes.draft.focus)
        elif action == "send":
            self.panes.send("queue")
        elif action in FILE_KEYS:
            self._show("files")
            FILE_KEYS[action](self.panes.files)
        elif self.panes.on_key(action, pressed):
            self._show("approvals")
        else:
            return False
        return True

    def _show(self, pane: str) -> None:
        self.pane = pane
        self.nav.remember(ViewPlace("session", self.sid, pane))

    def _pane_chip(self, name: str) -> ft.Chip:
        def choose(_e: object) -> None:
            self._show(name)
            self.nav.redraw()

        return ft.Chip(label=name, selected=self.pane == name, on_select=choose)

    def _header(self, h: Header) -> list[ft.Control]:
        facts = [h.tool, h.model or "", f"branch {h.branch}" if h.branch else ""]
        facts += [f"runtime {self._runtime_name(h.runtime)}" if h.runtime else "no runtime"]
        facts += [w.cost(h.cost_usd, h.cost_estimated), f"{h.tokens} tokens"]
        line = " · ".join(f for f in facts if f)
        # What the status, the role and the place decide: the title row and the buttons,
        # kept while those stay (made anew, they were most of a redraw's new controls).
        acting = (h.status, self.client.role, self.nav.place.name, self.phone)
        rows: list[ft.Control] = [
            self.kept.control("title", (h.title, acting), partial(self._title, h)),
            self.kept.control("facts", line, partial(w.muted, line)),
        ]
        rows += self.run_on.controls(h.runtime)
        rows += self.preview.controls(h.preview_port)
        if h.health is not None and h.runtime:
            rows.append(w.tag("runtime-health", _health(h.health)))
        if h.reason:
            why = ft.Text(
                f"{h.status.capitalize()}: {h.reason}",
                color=ft.Colors.ERROR,
                max_lines=ERROR_LINES,
                overflow=ft.TextOverflow.ELLIPSIS,
            )
            rows.append(w.tag("session-reason", why))
        if h.error and h.error != h.reason:  # a tool's stderr may run to pages
            rows.append(
                ft.Text(
                    h.error,
                    color=ft.Colors.ERROR,
                    max_lines=ERROR_LINES,
                    overflow=ft.TextOverflow.ELLIPSIS,
                )
            )
        if not self.phone:
            rows.append(self.kept.control("buttons", acting, partial(self._buttons, h.status)))
        rows += self._commands()
        self.kept.drawn()
        return rows

    def _title(self, h: Header) -> ft.Control:
        title: list[ft.Control] = [
            ft.Text(h.title, size=18, weight=ft.FontWeight.BOLD, expand=True),
            w.status_chip(h.status, "session-status"),
        ]
        if self.phone:  # one line: back, title, status, the actions in a menu
            actions = self._actions(h.status)
            title = [*self._back_button(), *title, *([_menu(actions)] if actions else [])]
        return ft.Row(title, vertical_alignment=ft.CrossAxisAlignment.CENTER)

    def _buttons(self, status: str) -> ft.Control:
        buttons: list[ft.Control] = [
            ft.OutlinedButton(content=label, on_click=act) for label, act in self._actions(status)
        ]
        if self.nav.place.name == "session":
            buttons.append(ft.TextButton(content="Back", on_click=lambda _e: self._back()))
        return ft.Row(buttons, wrap=True, spacing=6)

    def _runtime_name(self, runtime_id: str) -> str:
        known = runtimes(self.client.workspace.doc).get(runtime_id)
        return known.name if known is not None else runtime_id

    def _actions(self, status: str) -> list[tuple[str, ft.ControlEventHandler[Any]]]:
        """What may be done to the session in ``status``: (label, handler); nothing
        by a viewer (the server refuses them every one)."""
        if self.client.role == "viewer":
            return []
        actions: list[tuple[str, ft.ControlEventHandler[Any]]] = [
            (LABELS.get(verb, verb.capitalize()), lambda _e, v=verb: self.client.act(self.sid, v))
            for verb, allowed in ACTIONS.items()
            if status in allowed
        ]
        actions.append(("Fork", lambda _e: self.client.send(commands.fork(self.sid))))
        actions.append(("Hand off", self._hand_off))
        return actions

    def _back_button(self) -> list[ft.Control]:
        if self.nav.place.name != "session":
            return []
        back = ft.IconButton(ft.Icons.ARROW_BACK, tooltip="Back", on_click=lambda _e: self._back())
        return [back]

    def _commands(self) -> list[ft.Control]:
        """What the last answer said, then pending and failed commands, the newest
        few (the header has a bounded height)."""
        rows: list[ft.Control] = self._said()
        commands_now = self.client.commands_for(self.sid)
        if len(commands_now) > SHOWN_COMMANDS:
            more = len(commands_now) - SHOWN_COMMANDS
            rows.append(w.muted(f"… and {more} earlier commands", 13))
        for command in commands_now[-SHOWN_COMMANDS:]:
            if command.status == "pending":
                rows.append(w.muted(f"{command.label}: pending…", 13))
                continue
            rows.append(
                ft.Row(
                    [
                        ft.Text(
                            f"{command.label} failed: {command.error}",
                            color=ft.Colors.ERROR,
                            size=13,
                            expand=True,
                        ),
                        ft.TextButton(
                            content="Dismiss",
                            on_click=lambda _e, c=command.id: self.client.outbox.dismiss(c),
                        ),
                    ]
                )
            )
        return rows

    def _said(self) -> list[ft.Control]:
        said = self.client.said.get(self.sid)
        if said is None:
            return []
        dismiss = ft.TextButton(content="Dismiss", on_click=lambda _e: self._unsay())
        return [w.tag("said", ft.Row([ft.Text(said, size=13, expand=True), dismiss]))]

    def _unsay(self) -> None:
        self.client.said.pop(self.sid, None)
        self.nav.redraw()

    def _hand_off(self, _e: object) -> None:
        people = members(self.client.workspace.doc)
        choice = ft.Dropdown(
            label="New owner",
            options=[
                ft.DropdownOption(key=uid, text=f"{m.name} ({m.role})") for uid, m in people.items()
            ],
        )

        def confirm(_e: object) -> None:
            if choice.value:
                self.client.send(commands.hand_off(self.sid, choice.value))
            self.nav.page.pop_dialog()

        dialog = ft.AlertDialog(
            title=ft.Text("Hand off this session"),
            content=choice,
            actions=[ft.TextButton(content="Hand off", on_click=confirm)],
        )
        self.nav.page.show_dialog(dialog)

    def _back(self) -> None:
        self.nav.go(ViewPlace("sessions"))


def _menu(actions: list[tuple[str, ft.ControlEventHandler[Any]]]) -> ft.Control:
    items = [ft.PopupMenuItem(content=label, on_click=act) for label, act in actions]
    return ft.PopupMenuButton(items=items, icon=ft.Icons.MORE_VERT, tooltip="Actions")


#: A heartbeat older than this means the runtime may be gone (bridges beat every few seconds).
STALE_S = 60


def _health(r: e.RuntimeState) -> ft.Control:
    """Heartbeat age and what the session's processes and worktree use."""
    parts = []
    stale = True
    if r.heartbeat_at is not None:
        age = max(0, int((datetime.now(UTC) - r.heartbeat_at).total_seconds()))
        stale = age > STALE_S
        parts.append(f"heartbeat {_ago(age)}")
    else:
        parts.append("no heartbeat yet")
    if r.cpu_percent is not None:
        parts.append(f"CPU {r.cpu_percent:.0f}%")
    if r.memory_bytes is not None:
        parts.append(f"memory {_size(r.memory_bytes)}")
    if r.disk_bytes is not None:
        parts.append(f"disk {_size(r.disk_bytes)}")
    icon = ft.Icons.MONITOR_HEART if not stale else ft.Icons.HEART_BROKEN
    colour = ft.Colors.GREEN_700 if not stale else ft.Colors.ERROR
    return ft.Row(
        [ft.Icon(icon, size=16, color=colour), w.muted(" · ".join(parts))],
        spacing=4,
        wrap=True,
    )


def _ago(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
