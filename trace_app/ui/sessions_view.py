"""The workspace: sessions with status chips, filters, search and cost; a new-session form."""

from __future__ import annotations

from typing import TYPE_CHECKING

import flet as ft

from trace_app import commands
from trace_app.ui import widgets as w
from trace_app.ui.shell import Place
from trace_app.workspace_state import FILTERS, SessionRow, select, total_cost
from trace_sync.errors import TraceError

if TYPE_CHECKING:
    from trace_app.ui.shell import Shell


class SessionsView:
    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self.filter = "all"
        self.search = ft.TextField(
            hint_text="Search sessions",
            helper="Enter searches transcripts too",
            prefix_icon=ft.Icons.SEARCH,
            on_change=self._searched,
            on_submit=self._search_server,
            dense=True,
        )
        self.chips = ft.Row(wrap=True, spacing=6)
        self.total = ft.Text("")
        self.rows = ft.ListView(expand=True, spacing=4)
        self.found: list[str] | None = None

    def build(self, phone: bool) -> ft.Control:
        self.phone = phone
        return ft.Container(
            content=ft.Column(
                [w.heading("Sessions"), self.search, self.chips, self.total, self.rows],
                expand=True,
            ),
            padding=12,
            expand=True,
        )

    def refresh(self) -> None:
        client = self.shell.client
        assert client is not None
        everything = client.sessions()
        shown = select(everything, self.filter, self.search.value or "")
        if self.found is not None and self.search.value:
            by_id = {r.id: r for r in everything}
            shown += [by_id[s] for s in self.found if s in by_id and by_id[s] not in shown]
        self.chips.controls = [self._chip(name, everything) for name in FILTERS]
        usd, estimated = total_cost(shown)
        self.total.value = f"{len(shown)} sessions · {w.cost(usd, estimated)}"
        self.rows.controls = [self._row(r) for r in shown] or [w.muted("No sessions here.", 14)]

    def _chip(self, name: str, rows: list[SessionRow]) -> ft.Control:
        count = len(select(rows, name))

        def choose(_e: object) -> None:
            self.filter = name
            self.shell.redraw()

        return ft.Chip(
            label=ft.Text(f"{name} ({count})"),
            selected=self.filter == name,
            on_select=choose,
        )

    def _row(self, row: SessionRow) -> ft.Control:
        detail = " · ".join(
            x for x in (row.tool, row.branch or "", w.cost(row.cost_usd, row.cost_estimated)) if x
        )
        tile = ft.ListTile(
            title=ft.Text(row.title, weight=ft.FontWeight.W_500),
            subtitle=ft.Text(detail, size=12),
            leading=ft.Icon(ft.Icons.LOCK if row.private else ft.Icons.TERMINAL),
            trailing=w.status_chip(row.status, f"status-{row.id}"),
            on_click=lambda _e: self.shell.go(Place("session", row.id)),
            min_height=64 if self.phone else 56,
        )
        return w.tag(f"session-{row.id}", tile)

    def _searched(self, _event: object) -> None:
        self.shell.redraw()  # the field's value is already the newest the browser sent

    async def _search_server(self, _e: object) -> None:
        client = self.shell.client
        assert client is not None
        query = (self.search.value or "").strip()
        try:
            hits = await client.api.search(client.workspace_id, query) if query else []
            self.found = [h["session"]["id"] for h in hits]
        except TraceError:
            self.found = None  # offline: the list still filters locally
        self.shell.redraw()


class NewSessionView:
    """Repo, branch, tool, model and first prompt -> a start-session command."""

    TOOLS = ("claude_code", "codex", "acp", "shell")

    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self.repo = ft.Dropdown(label="Repository", width=420)
        self.branch = ft.TextField(label="Base branch (default: the repo's)", width=420)
        self.tool = ft.Dropdown(
            label="Tool",
            value=self.TOOLS[0],
            options=[ft.DropdownOption(key=t, text=t) for t in self.TOOLS],
            width=420,
        )
        self.model = ft.TextField(label="Model (optional)", width=420)
        self.prompt = ft.TextField(label="Prompt", multiline=True, min_lines=3, width=600)
        self.result = ft.Text("")

    def build(self, phone: bool) -> ft.Control:
        for field in (self.repo, self.branch, self.tool, self.model):
            field.width = None if phone else 420  # a phone: full width
        self.prompt.width = None if phone else 600
        return ft.Container(
            content=ft.Column(
                [
                    w.heading("New session"),
                    self.repo,
                    self.branch,
                    self.tool,
                    self.model,
                    self.prompt,
                    w.button("Start session", self._start, big=True),
                    self.result,
                ],
                scroll=ft.ScrollMode.AUTO,
                spacing=12,
                horizontal_alignment=(
                    ft.CrossAxisAlignment.STRETCH if phone else ft.CrossAxisAlignment.START
                ),
            ),
            padding=12,
            expand=True,
        )

    def refresh(self) -> None:
        client = self.shell.client
        assert client is not None
        from trace_app.workspace_state import repos

        self.repo.options = [
            ft.DropdownOption(key=r.id, text=r.name) for r in repos(client.workspace.doc)
        ]
        if self.repo.value is None and self.repo.options:
            self.repo.value = self.repo.options[0].key

    def _start(self, _e: object) -> None:
        client = self.shell.client
        assert client is not None
        if not self.repo.value:
            self.result.value = "Add a repository first (Repos)."
            return
        client.send(
            commands.start_session(
                client.workspace_id,
                repo_id=self.repo.value,
                tool=self.tool.value,
                base_branch=self.branch.value or None,
                model=self.model.value or None,
                prompt=self.prompt.value or None,
            )
        )
        self.result.value = "Starting… it appears in Sessions once the server has it."
        self.prompt.value = ""
