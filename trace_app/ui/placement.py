"""Where a session without a bridge can run: "Run on <bridge>" for each online
bridge the person may use — their own, and others' whose owner granted them
sessions (asked for in Bridges). Grants are not in any document: they are
fetched from the API when the session turns out to be waiting."""

from __future__ import annotations

import flet as ft

from trace_app import commands
from trace_app.access import session_bridges
from trace_app.client import TraceClient
from trace_app.ui import widgets as w
from trace_app.ui.navigator import Navigator
from trace_app.workspace_state import runtimes
from trace_sync.contract.errors import TraceError
from trace_sync.docs import entries as e


class RunOn:
    def __init__(self, nav: Navigator, sid: str) -> None:
        self.nav = nav
        self.sid = sid
        self.usable: list[e.RuntimeEntry] | None = None  # None: not asked yet
        self.loading = False

    @property
    def client(self) -> TraceClient:
        assert self.nav.client is not None
        return self.nav.client

    def controls(self, runtime: str | None) -> list[ft.Control]:
        """The choice, for a writer, while the session waits for a bridge (the
        server said it has none for it: not the moment before it places one)."""
        if runtime or not self._waiting() or self.client.role == "viewer":
            return []
        if self.usable is None:
            if not self.loading:
                self.loading = True
                self.nav.page.run_task(self._load)
            return [w.muted("Looking for bridges you may use…", 13)]
        buttons: list[ft.Control] = [
            w.button(f"Run on {r.name}", lambda _e, r=r: self._choose(r), big=True)
            for r in self.usable
        ]
        again = ft.TextButton(content="Look again", on_click=self._again)
        if not buttons:
            note = "No bridge of yours is online; ask for access to one in Bridges."
            return [w.tag("run-on", ft.Row([w.muted(note, 13), again], wrap=True))]
        return [w.tag("run-on", ft.Row([*buttons, again], wrap=True, spacing=6))]

    def _waiting(self) -> bool:
        row = next((r for r in self.client.sessions() if r.id == self.sid), None)
        return row is not None and row.waiting_for_runtime

    async def _load(self) -> None:
        client = self.client
        try:
            known = runtimes(client.workspace.doc)
            self.usable = await session_bridges(client.api, client.user_id, self.sid, known)
        except TraceError:
            self.usable = []  # offline: "Look again" asks again
        self.loading = False
        self.nav.redraw()

    def _again(self, _e: object) -> None:
        self.usable = None
        self.nav.redraw()

    def _choose(self, runtime: e.RuntimeEntry) -> None:
        self.client.send(commands.place(self.sid, runtime.id, runtime.name))
        self.nav.redraw()
