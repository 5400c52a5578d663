"""Full-text search over sessions on SQLite FTS5 and PostgreSQL, same behaviour."""

from __future__ import annotations

import pytest

from tests.conftest import StoreTarget
from trace_sync.contract.errors import InvalidInput
from trace_sync.store import Store
from trace_sync.store.records import Role, SessionRow
from trace_sync.store.sessions import Viewer


@pytest.fixture
async def sessions(store: Store) -> tuple[str, str, str, list[SessionRow]]:
    """A workspace (id, owner, member) with a public and a private session of the owner."""
    owner = await store.accounts.create_user("olga")
    member = await store.accounts.create_user("mia")
    workspace = await store.directory.create_workspace("Team", owner.id)
    await store.directory.set_member(workspace.id, member.id, Role.MEMBER)
    public = await store.sessions.create(workspace.id, owner.id, title="Fix login")
    secret = await store.sessions.create(workspace.id, owner.id, private=True, title="Secret")
    return workspace.id, owner.id, member.id, [public, secret]


async def test_words_are_found_by_stem_and_prefix_best_first(
    store: Store, sessions: tuple[str, str, str, list[SessionRow]]
) -> None:
    wid, owner, _, (public, secret) = sessions
    await store.search.put(public.id, "title", "title", "Fix the login page")
    await store.search.put(public.id, "prompt", "p_1", "the login fails when fixing passwords")
    await store.search.put(secret.id, "transcript", "t_1", "Rotated the deploy keys")
    admin = Viewer(owner, is_admin=True)
    [hit] = await store.search.find(wid, admin, "fixing logi")
    assert hit.session_id == public.id and "[" in hit.snippet  # one hit per session
    assert [h.session_id for h in await store.search.find(wid, admin, "deploy")] == [secret.id]
    assert await store.search.find(wid, admin, "nothing-like-this") == []
    assert await store.search.find("w_other", admin, "login") == []


async def test_private_sessions_match_only_for_those_who_may_see_them(
    store: Store, sessions: tuple[str, str, str, list[SessionRow]]
) -> None:
    wid, owner, member, (_, secret) = sessions
    await store.search.put(secret.id, "prompt", "p_1", "rotate the deploy keys")
    assert await store.search.find(wid, Viewer(member, is_admin=False), "deploy") == []
    assert len(await store.search.find(wid, Viewer(owner, is_admin=False), "deploy")) == 1
    await store.sessions.update(secret.id, owner_id=member)  # handed off to the member
    assert len(await store.search.find(wid, Viewer(member, is_admin=False), "deploy")) == 1


async def test_replacing_and_deleting_keep_the_index_in_step(
    store: Store, sessions: tuple[str, str, str, list[SessionRow]]
) -> None:
    wid, owner, _, (public, _) = sessions
    viewer = Viewer(owner, is_admin=True)
    await store.search.put(public.id, "title", "title", "Fix login")
    await store.search.put(public.id, "title", "title", "Rework billing")
    assert await store.search.find(wid, viewer, "login") == []
    assert len(await store.search.find(wid, viewer, "billing")) == 1
    await store.search.put(public.id, "prompt", "p_1", "more billing")
    assert await store.search.count(public.id) == 2
    await store.sessions.delete(public.id)
    assert await store.search.count(public.id) == 0
    assert await store.search.find(wid, viewer, "billing") == []


async def test_search_syntax_is_never_interpreted(
    store: Store, sessions: tuple[str, str, str, list[SessionRow]]
) -> None:
    wid, owner, _, (public, _) = sessions
    await store.search.put(public.id, "prompt", "p_1", 'say "NEAR" AND (OR) * : & | !')
    viewer = Viewer(owner, is_admin=True)
    assert len(await store.search.find(wid, viewer, 'NEAR" AND ( *')) == 1
    for bad in ("", "  ()*&|  ", "x" * 201):
        with pytest.raises(InvalidInput):
            await store.search.find(wid, viewer, bad)


async def test_the_index_survives_a_restart(store_target: StoreTarget) -> None:
    async with store_target.store() as store:
        ada = await store.accounts.create_user("ada")
        workspace = await store.directory.create_workspace("Team", ada.id)
        session = await store.sessions.create(workspace.id, ada.id)
        await store.search.put(session.id, "prompt", "p_1", "persistent words")
    async with store_target.store() as store:
        hits = await store.search.find(workspace.id, Viewer(ada.id, True), "persistent")
        assert [h.session_id for h in hits] == [session.id]
