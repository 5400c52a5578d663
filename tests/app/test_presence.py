"""Who is here: one entry per person, gone once their tab closes; a tab that comes
back finds its place (headless, against a real server)."""

from __future__ import annotations

from tests.app.conftest import World
from tests.app.headless import Headless
from tests.app.test_boundary import session_view
from tests.conftest import eventually
from trace_app import notes
from trace_app.ui.shell import Origin, ViewPlace
from trace_sync.services.accounts import AccountService
from trace_sync.store.records import Role


async def test_a_person_with_two_tabs_is_listed_once_and_a_closed_tab_leaves(
    world: World,
) -> None:
    store = world.live.ctx.store
    bob = await store.accounts.create_user("bob")
    await store.directory.set_member(world.seeded.workspace_id, bob.id, Role.MEMBER)
    token = (await AccountService(store).issue_token(bob.id, label="bob")).token
    owner = Origin(world.live.url, world.live.token)
    async with (
        Headless(owner) as first,
        Headless(owner) as second,
        Headless(Origin(world.live.url, token)) as member,
    ):
        for app in (first, second, member):
            app.shell.go(ViewPlace("session", world.hosted))
            await eventually(lambda app=app: "Run the test suite" in app.text())  # type: ignore[misc]
        name = world.seeded.owner.user_name
        owner_tab = second.shell.client
        assert owner_tab is not None  # the owner's cursor in one tab, none in the other
        notes.look_at(owner_tab.notes_of(world.hosted), owner_tab.user_id, name, cursor=3)
        shown = lambda: [t for t in member.texts() if t.startswith(name)]  # noqa: E731
        await eventually(lambda: shown() == [f"{name} · cursor 3"])
        client = member.shell.client
        assert client is not None
        notes.look_at(client.notes_of(world.hosted), client.user_id, "bob", cursor=49)
        await eventually(lambda: "bob · cursor 49" in first.texts())
        await member.session.disconnect(3600)  # the tab closed; Flet keeps its session an hour
        await eventually(lambda: not any(t.startswith("bob") for t in first.texts()))
        assert session_view(first).panes.viewers.controls  # still drawn: the other tab


async def test_a_tab_back_from_a_server_restart_opens_the_session_and_pane_it_showed(
    world: World,
) -> None:
    """A restarted server knows nothing of the tab: the tab brings its address."""
    owner = Origin(world.live.url, world.live.token)
    async with Headless(owner, width=390, height=844) as before:
        await eventually(lambda: "Add email to users" in before.text())
        before.shell.go(ViewPlace("session", world.hosted))
        await eventually(lambda: "Run the test suite" in before.text())
        await before.click(before.tagged("pane-files").content, "select")
        route = before.page.route
    assert route == f"/session/{world.hosted}/files"
    async with Headless(owner, width=390, height=844, route=route) as after:
        await eventually(lambda: any('email: str = ""' in t for t in after.texts()))
        assert after.shell.place == ViewPlace("session", world.hosted, "files")
