"""Bridges and access to them: ask a bridge's owner for access, and, on your own
bridges, approve, deny or revoke what others asked for.

Grants are not in any document: they come from the API, fetched when the view
opens, once a decision has reached the server, and whenever the workspace's
timeline shows a grant asked for or decided (by anyone, on any device).
"""

from __future__ import annotations

import contextlib
from functools import partial
from typing import Any

import flet as ft

from trace_app import commands
from trace_app.client import TraceClient
from trace_app.ui import widgets as w
from trace_app.ui.kept import Kept
from trace_app.ui.navigator import Navigator
from trace_app.workspace_state import grant_steps, members, runtimes
from trace_sync.contract.errors import TraceError
from trace_sync.docs import entries as e

#: The buttons a grant's owner sees in each state.
VERBS: dict[str, tuple[commands.GrantVerb, ...]] = {
    "pending": ("approve", "deny"),
    "approved": ("revoke",),
}


class BridgesView:
    def __init__(self, nav: Navigator) -> None:
        self.nav = nav
        self.list = ft.ListView(expand=True, spacing=4)
        self.grants: dict[str, list[dict[str, Any]]] = {}
        #: Rows stay the same controls while unchanged: a tap across a redraw is not lost.
        self.kept = Kept()
        self.phone = False
        self.problem = ""
        #: How much of the workspace's timeline the grants shown account for.
        self.timeline_seen, _ = grant_steps(self.client.workspace.doc, 0)
        nav.page.run_task(self.load)

    @property
    def client(self) -> TraceClient:
        assert self.nav.client is not None
        return self.nav.client

    async def load(self) -> None:
        grants: dict[str, list[dict[str, Any]]] = {}
        try:
            for rid in runtimes(self.client.workspace.doc):
                grants[rid] = await self.client.api.all(f"/api/runtimes/{rid}/grants")
            self.grants, self.problem = grants, ""
        except TraceError as exc:
            self.problem = f"Access requests need the server: {exc}"
        self.nav.redraw()

    async def _reload(self, _e: object) -> None:
        await self.load()

    def build(self, phone: bool) -> ft.Control:
        self.phone = phone
        refresh = ft.IconButton(ft.Icons.REFRESH, tooltip="Refresh", on_click=self._reload)
        title = ft.Row([w.heading("Bridges and access"), refresh])
        column = ft.Column([title, self.list], expand=True, spacing=10)
        return ft.Container(column, padding=12, expand=True)

    def refresh(self) -> None:
        self.timeline_seen, changed = grant_steps(self.client.workspace.doc, self.timeline_seen)
        if changed:
            self.nav.page.run_task(self.load)
        rows: list[ft.Control] = [w.muted(self.problem, 14)] if self.problem else []
        kept, phone = self.kept, self.phone
        for runtime in runtimes(self.client.workspace.doc).values():
            # What each row shows (a heartbeat's last_seen_at is not shown: no new row).
            who = self._name(runtime.owner_id)
            shows: tuple[object, ...] = (runtime.name, runtime.kind, runtime.online, who, phone)
            rows.append(kept.control(runtime.id, shows, partial(self._runtime, runtime)))
            for g in self.grants.get(runtime.id, []):
                shows = (g, runtime.owner_id, self._name(g["grantee_id"]), phone)
                rows.append(kept.control(g["id"], shows, partial(self._grant, g, runtime)))
        kept.drawn()
        if not rows:
            rows = [w.muted("No bridges yet: `trace bridge` or the desktop app runs one.", 14)]
        self.list.controls = rows

    def _runtime(self, r: e.RuntimeEntry) -> ft.Control:
        mine = r.owner_id == self.client.user_id
        state = "online" if r.online else "offline"
        whose = "yours" if mine else f"of {self._name(r.owner_id)}"
        tile = ft.ListTile(
            title=ft.Text(r.name, weight=ft.FontWeight.W_500),
            subtitle=w.muted(f"{r.kind} · {state} · {whose}"),
            leading=ft.Icon(ft.Icons.COMPUTER, color=ft.Colors.GREEN if r.online else None),
        )
        if mine:
            return w.tag(f"runtime-{r.id}", tile)
        ask = ft.Row(
            [
                ft.OutlinedButton(
                    content=f"Ask to {what}",
                    on_click=lambda _e, c=capability: self._ask(r.id, c),
                    height=48 if self.phone else None,
                )
                for capability, what in (("session", "run sessions"), ("terminal", "type"))
            ],
            wrap=True,
        )
        return w.tag(f"runtime-{r.id}", ft.Column([tile, ask], spacing=2))

    def _grant(self, g: dict[str, Any], runtime: e.RuntimeEntry) -> ft.Control:
        scope = "one session" if g.get("session_id") else "every session"
        who = self._name(g["grantee_id"])
        text = f"{who}: {' and '.join(g['capabilities'])} on {scope} · {g['state']}"
        buttons: list[ft.Control] = []
        if runtime.owner_id == self.client.user_id:
            buttons = [
                ft.OutlinedButton(
                    content=verb.capitalize(),
                    on_click=lambda _e, v=verb: self._decide(g["id"], v),
                    height=48 if self.phone else None,
                )
                for verb in VERBS.get(g["state"], ())
            ]
        said = ft.Text(text, size=13)
        if self.phone:  # the buttons under the text: an expanding child cannot wrap (a grey box)
            line: ft.Control = ft.Column(
                [said, ft.Row(buttons, wrap=True)],
                spacing=4,
                horizontal_alignment=ft.CrossAxisAlignment.START,
            )
        else:
            said.expand = True
            line = ft.Row([said, *buttons])
        return w.tag(f"grant-{g['id']}", ft.Container(line, padding=ft.Padding.only(left=56)))

    def _name(self, user_id: str) -> str:
        person = members(self.client.workspace.doc).get(user_id)
        return person.name if person is not None else user_id

    def _ask(self, runtime_id: str, capability: str) -> None:
        self._then_reload(commands.ask_for_access(runtime_id, [capability]))

    def _decide(self, grant_id: str, verb: commands.GrantVerb) -> None:
        self._then_reload(commands.decide_grant(grant_id, verb))

    def _then_reload(self, request: commands.ApiCommand) -> None:
        self.client.send(request)

        async def reload() -> None:
            with contextlib.suppress(TimeoutError):  # offline: it is sent later, shown pending
                await self.client.outbox.drained()
            await self.load()

        self.nav.page.run_task(reload)
