"""Repos, members and roles, settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import flet as ft

from trace_app import commands
from trace_app.client import TraceClient
from trace_app.ui import widgets as w
from trace_app.workspace_state import members, repos, workspace_name

if TYPE_CHECKING:
    from trace_app.ui.shell import Shell

ROLES = ("owner", "admin", "member", "viewer")


class _Base:
    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self.list = ft.ListView(expand=True, spacing=4)

    @property
    def client(self) -> TraceClient:
        assert self.shell.client is not None
        return self.shell.client

    def _page(self, title: str, *top: ft.Control) -> ft.Control:
        column = ft.Column([w.heading(title), *top, self.list], expand=True, spacing=10)
        return ft.Container(column, padding=12, expand=True)

    def _commands(self) -> list[ft.Control]:
        return [
            ft.Text(
                f"{c.label}" + (f": {c.error}" if c.error else ": pending"),
                color=ft.Colors.ERROR if c.error else None,
                size=13,
            )
            for c in self.client.commands_for(None)
            if c.scope is None
        ]


class ReposView(_Base):
    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.source = ft.TextField(label="A directory on the server, or a git URL", expand=True)

    def build(self, phone: bool) -> ft.Control:
        add = w.button("Add repo", self._add, big=phone)
        return self._page("Repos", ft.Row([self.source, add], wrap=phone))

    def refresh(self) -> None:
        rows: list[ft.Control] = [
            ft.ListTile(
                title=ft.Text(r.name),
                subtitle=w.muted(f"{r.source} · default branch {r.default_branch}"),
                leading=ft.Icon(ft.Icons.SOURCE),
            )
            for r in repos(self.client.workspace.doc)
        ]
        self.list.controls = self._commands() + (rows or [w.muted("No repos yet.", 14)])

    def _add(self, _e: object) -> None:
        if self.source.value:
            self.client.send(commands.add_repo(self.client.workspace_id, self.source.value.strip()))
            self.source.value = ""
            self.shell.redraw()


class MembersView(_Base):
    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.name = ft.TextField(label="User name", expand=True)
        self.role = ft.Dropdown(
            value="member", options=[ft.DropdownOption(key=r, text=r) for r in ROLES], width=140
        )

    def build(self, phone: bool) -> ft.Control:
        add = w.button("Add member", self._add, big=phone)
        return self._page("Members and roles", ft.Row([self.name, self.role, add], wrap=True))

    def refresh(self) -> None:
        can_manage = self.client.role in ("owner", "admin")
        rows = [
            self._member(uid, m.name, m.role, can_manage)
            for uid, m in members(self.client.workspace.doc).items()
        ]
        self.list.controls = self._commands() + rows

    def _member(self, uid: str, name: str, role: str, can_manage: bool) -> ft.Control:
        picker = ft.Dropdown(
            value=role,
            options=[ft.DropdownOption(key=r, text=r) for r in ROLES],
            disabled=not can_manage,
            width=140,
            on_select=lambda e: self.client.send(
                commands.set_role(self.client.workspace_id, uid, e.control.value or role)
            ),
        )
        return ft.ListTile(title=ft.Text(name), leading=ft.Icon(ft.Icons.PERSON), trailing=picker)

    def _add(self, _e: object) -> None:
        if self.name.value:
            self.client.send(
                commands.add_member(
                    self.client.workspace_id, self.name.value.strip(), self.role.value or "member"
                )
            )
            self.name.value = ""
            self.shell.redraw()


class SettingsView(_Base):
    def build(self, phone: bool) -> ft.Control:
        return self._page("Settings")

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
            ft.OutlinedButton(
                content="Sign out",
                on_click=lambda _e: self.shell.page.run_task(self.shell.sign_out),
            )
        )
        self.list.controls = rows
