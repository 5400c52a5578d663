"""Who may add members and revoke tokens."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.services.conftest import Services
from trace_sync.auth.authenticator import Authenticator
from trace_sync.contract.errors import Forbidden, NotFound, Unauthorized
from trace_sync.services.local_mode import ensure_local_owner
from trace_sync.store.records import Role


async def test_members_revoke_their_own_tokens_admins_anyones(
    services: Services, tmp_path: Path
) -> None:
    store, accounts, workspaces = services.store, services.accounts, services.workspaces
    owner = await ensure_local_owner(store, tmp_path)
    auth = Authenticator(store.accounts)
    boss = await auth.authenticate(owner.token)
    [workspace] = await store.directory.list_workspaces(owner.user_id)
    vera_token = (await workspaces.add_member(boss, workspace.id, "vera", Role.MEMBER)).token
    assert vera_token is not None
    vera = await auth.authenticate(vera_token)
    with pytest.raises(NotFound):
        await accounts.revoke_token(vera, boss.token_id)  # not hers: invisible
    with pytest.raises(Forbidden, match="needs the admin role"):
        await workspaces.add_member(vera, workspace.id, "eve", Role.VIEWER)
    await accounts.revoke_token(boss, vera.token_id)
    with pytest.raises(Unauthorized, match="revoked"):
        await auth.authenticate(vera_token)
    assert (await auth.authenticate(owner.token)).user_id == owner.user_id


async def test_two_servers_starting_at_once_on_an_empty_database_agree_on_one_owner(
    services: Services, tmp_path: Path
) -> None:
    # Cluster members come up together: each finds no user and makes the owner.
    store = services.store
    first, second = await asyncio.gather(
        ensure_local_owner(store, tmp_path / "a"), ensure_local_owner(store, tmp_path / "b")
    )
    assert first.user_id == second.user_id and len(await store.accounts.list_users()) == 1
    auth = Authenticator(store.accounts)
    for owner in (first, second):  # each member's token file works
        assert (await auth.authenticate(owner.token)).user_id == first.user_id
