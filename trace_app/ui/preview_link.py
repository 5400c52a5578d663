"""The session's live preview, when a writer declared one (``trace session preview
SID PORT``): a link that opens the session's running app. Each reader's link is
their own (signed, it expires), so it is asked of the API, not read from a
document, and asked again when the declared port changes or the link is stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import flet as ft

from trace_app.client import TraceClient
from trace_app.ui import widgets as w
from trace_app.ui.navigator import Navigator
from trace_sync.contract.errors import TraceError

#: A link this close to its expiry is asked for again before it is shown.
RENEW_BEFORE = timedelta(minutes=10)


class PreviewLink:
    def __init__(self, nav: Navigator, sid: str) -> None:
        self.nav = nav
        self.sid = sid
        #: The port the link was asked for, the link and its expiry (or the refusal).
        self.port: int | None = None
        self.url = ""
        self.expires: datetime | None = None
        self.problem = ""
        self.loading = False

    @property
    def client(self) -> TraceClient:
        assert self.nav.client is not None
        return self.nav.client

    def controls(self, port: int | None) -> list[ft.Control]:
        if port is None:
            return []
        stale = self.expires is None or datetime.now(UTC) > self.expires - RENEW_BEFORE
        if port != self.port or (stale and not self.problem):
            if not self.loading:
                self.loading = True
                self.nav.page.run_task(self._load, port)
            return [w.muted(f"Preview of port {port}…", 13)]
        if self.problem:
            return [w.tag("preview", w.muted(f"Preview of port {port}: {self.problem}", 13))]
        link = ft.TextButton(
            content=f"Open the preview (port {port})",
            icon=ft.Icons.OPEN_IN_NEW,
            url=self.url,
        )
        return [w.tag("preview", link)]

    async def _load(self, port: int) -> None:
        try:
            shown = await self.client.api.get(f"/api/sessions/{self.sid}/preview")
            self.url, self.problem = str(shown["url"]), ""
            self.expires = datetime.fromisoformat(str(shown["expires_at"]))
        except TraceError as exc:
            self.url, self.problem = "", str(exc)
        self.port = port
        self.loading = False
        self.nav.redraw()
