"""Who may add members and revoke tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from trace_sync.auth.authenticator import Authenticator
from trace_sync.errors import Forbidden, NotFound, Unauthorized
from trace_sync.services.accounts import AccountService
from trace_sync.services.local_mode import ensure_local_owner
from trace_sync.store import Store
from trace_sync.store.records import Role


async def test_members_revoke_their_own_tokens_admins_anyones(store: Store, tmp_path: Path) -> None:
    owner = await ensure_local_owner(store, tmp_path)
    auth, accounts = Authenticator(store.accounts), AccountService(store)
    boss = await auth.authenticate(owner.token)
    [workspace] = await store.directory.list_workspaces(owner.user_id)
    vera_token = (await accounts.add_user(boss, workspace.id, "vera", Role.MEMBER)).token
    vera = await auth.authenticate(vera_token)
    with pytest.raises(NotFound):
        await accounts.revoke_token(vera, boss.token_id)  # not hers: invisible
    with pytest.raises(Forbidden, match="needs the admin role"):
        await accounts.add_user(vera, workspace.id, "eve", Role.VIEWER)
    await accounts.revoke_token(boss, vera.token_id)
    with pytest.raises(Unauthorized, match="revoked"):
        await auth.authenticate(vera_token)
    assert (await auth.authenticate(owner.token)).user_id == owner.user_id
