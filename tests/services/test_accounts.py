"""Who may add members and revoke tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.services.conftest import Services
from trace_sync.auth.authenticator import Authenticator
from trace_sync.errors import Forbidden, NotFound, Unauthorized
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
