"""A session's live preview in the app: once a writer declares its port, every
reader sees a link of their own, and it follows the port (headless, against a
real server)."""

from __future__ import annotations

import flet as ft
import httpx

from tests.app.conftest import World
from tests.app.headless import Headless
from tests.conftest import eventually
from trace_app.ui.shell import Origin, ViewPlace
from trace_sync.services.accounts import AccountService
from trace_sync.store.records import Role


async def declare(world: World, port: int) -> None:
    headers = {"Authorization": f"Bearer {world.live.token}"}
    async with httpx.AsyncClient(base_url=world.live.url, headers=headers) as http:
        answer = await http.put(f"/api/sessions/{world.hosted}/preview", json={"port": port})
        assert answer.status_code == 200, answer.text


def link_to(app: Headless, port: int) -> ft.TextButton | None:
    try:
        found: ft.TextButton = app.find(ft.TextButton, f"Open the preview (port {port})")
    except LookupError:
        return None
    return found


async def test_a_viewer_gets_a_link_of_their_own_that_follows_the_declared_port(
    world: World,
) -> None:
    store = world.live.ctx.store
    viewer = await store.accounts.create_user("vic")
    await store.directory.set_member(world.seeded.workspace_id, viewer.id, Role.VIEWER)
    token = (await AccountService(store).issue_token(viewer.id, label="vic")).token
    async with Headless(Origin(world.live.url, token)) as app:
        app.shell.go(ViewPlace("session", world.hosted))
        await eventually(lambda: "Run the test suite" in app.text())
        assert "Open the preview" not in app.text()  # nothing declared: no link
        await declare(world, 5173)
        await eventually(lambda: link_to(app, 5173) is not None)
        first = link_to(app, 5173)
        assert first is not None
        path = httpx.URL(str(first.url)).path  # on the server's TRACE_BASE_URL
        assert path.startswith(f"/preview/{world.hosted}/")
        # The link admits the viewer (nothing listens on the port: 502, not 404).
        async with httpx.AsyncClient(base_url=world.live.url) as http:
            assert (await http.get(path)).status_code == 502
        await declare(world, 8080)
        await eventually(lambda: link_to(app, 8080) is not None)
        assert link_to(app, 5173) is None
