"""Workspaces and members in the real databases."""

from __future__ import annotations

import pytest

from trace_sync.contract.errors import InvalidInput, NotFound
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
