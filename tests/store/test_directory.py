"""Workspaces, members and sessions in the real databases."""

from __future__ import annotations

import pytest

from trace_sync.errors import Conflict, InvalidInput, NotFound
from trace_sync.store import Member, Store
from trace_sync.store.records import Role, User


@pytest.fixture
async def ada(store: Store) -> User:
    return await store.accounts.create_user("ada")


async def test_a_workspace_starts_with_its_owner(store: Store, ada: User) -> None:
    workspace = await store.directory.create_workspace("  Team ", ada.id)
    assert workspace.name == "Team"
    assert await store.directory.get_workspace(workspace.id) == workspace
    assert await store.directory.role_of(workspace.id, ada.id) is Role.OWNER
    assert await store.directory.members(workspace.id) == [Member(workspace.id, ada.id, Role.OWNER)]
    with pytest.raises(InvalidInput):
        await store.directory.create_workspace(" ", ada.id)
    with pytest.raises(NotFound):
        await store.directory.create_workspace("Ghosts", "u_nobody")
    with pytest.raises(NotFound):
        await store.directory.get_workspace("w_missing")


async def test_members_are_added_changed_and_removed(store: Store, ada: User) -> None:
    bob = await store.accounts.create_user("bob")
    workspace = await store.directory.create_workspace("Team", ada.id)
    await store.directory.set_member(workspace.id, bob.id, Role.VIEWER)
    assert await store.directory.set_member(workspace.id, bob.id, Role.MEMBER) == Member(
        workspace.id, bob.id, Role.MEMBER
    )
    assert [m.role for m in await store.directory.members(workspace.id)] == [
        Role.OWNER,
        Role.MEMBER,
    ]
    await store.directory.remove_member(workspace.id, bob.id)
    assert await store.directory.role_of(workspace.id, bob.id) is None
    with pytest.raises(NotFound):
        await store.directory.remove_member(workspace.id, bob.id)
    with pytest.raises(NotFound):
        await store.directory.set_member("w_missing", bob.id, Role.MEMBER)


async def test_workspaces_are_listed_for_their_members(store: Store, ada: User) -> None:
    bob = await store.accounts.create_user("bob")
    mine = await store.directory.create_workspace("Mine", ada.id)
    shared = await store.directory.create_workspace("Shared", bob.id)
    await store.directory.set_member(shared.id, ada.id, Role.ADMIN)
    assert await store.directory.list_workspaces(ada.id) == [mine, shared]
    assert await store.directory.list_workspaces(bob.id) == [shared]
    assert await store.directory.list_workspaces() == [mine, shared]


async def test_sessions_record_what_the_policy_needs(store: Store, ada: User) -> None:
    workspace = await store.directory.create_workspace("Team", ada.id)
    session = await store.directory.create_session(workspace.id, ada.id, private=True)
    assert await store.directory.session_access(session.session_id) == session
    await store.directory.assign_runtime(session.session_id, "r1")
    access = await store.directory.session_access(session.session_id)
    assert access is not None and access.private and access.runtime_id == "r1"
    await store.directory.assign_runtime(session.session_id, None)
    access = await store.directory.session_access(session.session_id)
    assert access is not None and access.runtime_id is None


async def test_session_ids_and_missing_sessions(store: Store, ada: User) -> None:
    workspace = await store.directory.create_workspace("Team", ada.id)
    chosen = await store.directory.create_session(workspace.id, ada.id, session_id="s_chosen")
    assert chosen.session_id == "s_chosen" and not chosen.private
    with pytest.raises(Conflict):
        await store.directory.create_session(workspace.id, ada.id, session_id="s_chosen")
    with pytest.raises(InvalidInput):
        await store.directory.create_session(workspace.id, ada.id, session_id="../etc")
    with pytest.raises(NotFound):
        await store.directory.create_session("w_missing", ada.id)
    assert await store.directory.session_access("s_missing") is None
    with pytest.raises(NotFound):
        await store.directory.assign_runtime("s_missing", "r1")
