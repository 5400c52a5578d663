"""The Members view: everyone reads who has which role; only owners and admins
get the controls to change it (headless, against a real server)."""

from __future__ import annotations

import flet as ft
import httpx

from tests.app.conftest import World
from tests.app.headless import Headless
from tests.conftest import eventually
from trace_app.ui.new_session_view import VIEWERS_CANNOT
from trace_app.ui.shell import Origin, ViewPlace
from trace_sync.services.accounts import AccountService
from trace_sync.services.workspaces import WorkspaceService
from trace_sync.store.records import Role


async def test_a_viewer_sees_members_and_roles_without_controls(world: World) -> None:
    ctx = world.live.ctx
    vera = await ctx.store.accounts.create_user("vera")
    await ctx.store.directory.set_member(world.seeded.workspace_id, vera.id, Role.VIEWER)
    accounts = AccountService(ctx.store)
    await WorkspaceService(ctx.store, ctx.sync.rooms, accounts).project(world.seeded.workspace_id)
    token = (await accounts.issue_token(vera.id, label="vera")).token
    async with (
        Headless(Origin(world.live.url, token), width=390, height=844) as viewer,
        Headless(Origin(world.live.url, world.live.token)) as owner,
    ):
        for app in (viewer, owner):
            app.shell.go(ViewPlace("members"))
            await eventually(lambda app=app: "vera" in app.texts())  # type: ignore[misc]
        assert {"vera", "viewer", world.seeded.owner.user_name, "owner"} <= set(viewer.texts())
        assert not any(isinstance(c, ft.Dropdown | ft.IconButton) for c in viewer.controls())
        buttons = [c.content for c in viewer.controls() if isinstance(c, ft.Button)]
        assert "Invite" not in buttons
        owner.tagged("role-of-vera")  # the owner may change vera's role, and remove her
        owner.tagged("remove-vera")
        owner.find(ft.Button, "Invite")


async def vera_the_viewer(world: World) -> tuple[str, str]:
    """A viewer added to the workspace: her user id and token."""
    ctx = world.live.ctx
    vera = await ctx.store.accounts.create_user("vera")
    wid = world.seeded.workspace_id
    await ctx.store.directory.set_member(wid, vera.id, Role.VIEWER)
    accounts = AccountService(ctx.store)
    await WorkspaceService(ctx.store, ctx.sync.rooms, accounts).project(wid)
    return vera.id, (await accounts.issue_token(vera.id, label="vera")).token


async def make(world: World, uid: str, role: str) -> None:
    """The owner changes the role (as the Members view does)."""
    async with httpx.AsyncClient(base_url=world.live.url) as http:
        changed = await http.patch(
            f"/api/workspaces/{world.seeded.workspace_id}/members/{uid}",
            json={"role": role},
            headers={"Authorization": f"Bearer {world.live.token}"},
        )
    assert changed.status_code == 200, changed.text


async def test_a_viewer_made_member_may_start_sessions_without_reloading(world: World) -> None:
    uid, token = await vera_the_viewer(world)
    async with Headless(Origin(world.live.url, token), width=390, height=844) as viewer:
        viewer.shell.go(ViewPlace("new"))
        await eventually(lambda: VIEWERS_CANNOT in viewer.texts())
        start = viewer.find(ft.Button, "Start session")
        assert start.disabled
        for role, refused in (("member", False), ("viewer", True)):
            await make(world, uid, role)
            await eventually(lambda r=refused: bool(start.disabled) is r)  # type: ignore[misc]
            assert (VIEWERS_CANNOT in viewer.texts()) is refused


async def test_a_viewer_made_member_writes_in_the_open_sessions_draft(world: World) -> None:
    uid, token = await vera_the_viewer(world)
    async with (
        Headless(Origin(world.live.url, token)) as vera,
        Headless(Origin(world.live.url, world.live.token)) as owner,
    ):
        for app in (vera, owner):
            app.shell.go(ViewPlace("session", world.hosted))
            await eventually(lambda app=app: "Run the test suite" in app.text())  # type: ignore[misc]
        draft = vera.find(ft.TextField, "Shared prompt draft")
        assert draft.read_only
        await make(world, uid, "member")
        await eventually(lambda: not draft.read_only)
        await vera.type_into(draft, "Made a member: adding a note.")
        await eventually(lambda: "Made a member: adding a note." in owner.texts())
