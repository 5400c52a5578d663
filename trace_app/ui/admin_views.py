"""Repos, members and roles."""

from __future__ import annotations

import flet as ft

from trace_app import commands
from trace_app.client import TraceClient
from trace_app.ui import widgets as w
from trace_app.ui.navigator import Navigator
from trace_app.workspace_state import members, repos
from trace_sync.contract.errors import TraceError
from trace_sync.docs import entries as e

ROLES = ("owner", "admin", "member", "viewer")


class _Base:
    def __init__(self, nav: Navigator) -> None:
        self.nav = nav
        self.list = ft.ListView(expand=True, spacing=4)

    @property
    def client(self) -> TraceClient:
        assert self.nav.client is not None
        return self.nav.client

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
    def __init__(self, nav: Navigator) -> None:
        super().__init__(nav)
        self.source = nav.watch(
            ft.TextField(label="A directory on the server, or a git URL", expand=True)
        )

    def build(self, phone: bool) -> ft.Control:
        add = w.button("Add repo", self._add, big=phone)
        return self._page("Repos", ft.Row([self.source, add]))  # an expanding field: no wrap

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
            self.nav.redraw()


class MembersView(_Base):
    """Who is in the workspace with which role; owners and admins change roles,
    remove members and invite people (a one-time code to pass on)."""

    def __init__(self, nav: Navigator) -> None:
        super().__init__(nav)
        self.invite_role = ft.Dropdown(
            label="Invite as",
            value="member",
            options=[ft.DropdownOption(key=r, text=r) for r in ROLES[1:]],
            width=150,
            dense=True,
        )
        self.invitation = ft.Column(spacing=4)

    def build(self, phone: bool) -> ft.Control:
        self.phone = phone
        if not self._may_manage():
            return self._page("Members and roles")
        invite = w.button("Invite", self._invite, big=phone)
        # No expanding child in a wrapping row: Flutter cannot lay that out (a grey box).
        top = ft.Row([self.invite_role, invite], wrap=True, spacing=8)
        return self._page("Members and roles", top, self.invitation)

    def refresh(self) -> None:
        manage = self._may_manage()
        people = sorted(members(self.client.workspace.doc).items(), key=lambda m: m[1].name)
        rows = [self._member(uid, m, manage and uid != self.client.user_id) for uid, m in people]
        self.list.controls = self._commands() + (rows or [w.muted("No members yet.", 14)])

    def _may_manage(self) -> bool:
        return self.client.role in ("owner", "admin")

    def _member(self, uid: str, m: e.MemberEntry, manage: bool) -> ft.Control:
        who = ft.Column([ft.Text(m.name, weight=ft.FontWeight.W_500), w.muted(m.role)], spacing=0)
        row: list[ft.Control] = [ft.Icon(ft.Icons.PERSON), ft.Container(who, expand=True)]
        if manage:
            row += [self._role_picker(uid, m), self._remove_button(uid, m.name)]
        line = ft.Row(row, vertical_alignment=ft.CrossAxisAlignment.CENTER)
        return w.tag(f"member-{m.name}", ft.Container(line, padding=ft.Padding.only(left=4)))

    def _role_picker(self, uid: str, m: e.MemberEntry) -> ft.Control:
        def chosen(e: ft.Event[ft.Dropdown]) -> None:
            role = e.control.value
            if role and role != m.role:
                self.client.send(commands.set_role(self.client.workspace_id, uid, role))
                self.nav.redraw()

        options = [ft.DropdownOption(key=r, text=r) for r in ROLES]
        picker = ft.Dropdown(value=m.role, options=options, width=130, dense=True, on_select=chosen)
        return w.tag(f"role-of-{m.name}", picker)

    def _remove_button(self, uid: str, name: str) -> ft.Control:
        def remove(_e: object) -> None:
            self.client.send(commands.remove_member(self.client.workspace_id, uid))
            self.nav.redraw()

        button = ft.IconButton(ft.Icons.PERSON_REMOVE, tooltip=f"Remove {name}", on_click=remove)
        return w.tag(f"remove-{name}", button)

    async def _invite(self, _e: object) -> None:
        """Ask the server for a code now (it is the answer that matters: not queued)."""
        role = self.invite_role.value or "member"
        path = f"/api/workspaces/{self.client.workspace_id}/invitations"
        try:
            issued = await self.client.api.call("POST", path, {"role": role})
        except TraceError as exc:
            self.invitation.controls = [ft.Text(f"No invitation: {exc}", color=ft.Colors.ERROR)]
        else:
            code = str(issued["code"])
            self.invitation.controls = [
                w.muted(f"Invitation code for a new {role} (one use, 7 days):", 13),
                w.tag("invitation-code", ft.Text(code, font_family=w.MONO, selectable=True)),
                w.muted("They run: trace workspace join CODE", 12),
            ]
        self.nav.redraw()
