"""Session rows, repos and idempotency keys in the real databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import Boolean, Column, MetaData, Table, Text, insert, select, text

from tests.conftest import StoreTarget
from trace_sync.contract.errors import Conflict, InvalidInput, NotFound
from trace_sync.store import Store
from trace_sync.store.database import Database
from trace_sync.store.records import User
from trace_sync.store.schema import MIGRATIONS, Timestamp, metadata, schema_version
from trace_sync.store.sessions import PageAfter, Viewer


@pytest.fixture
async def ada(store: Store) -> User:
    return await store.accounts.create_user("ada")


async def test_sessions_record_what_the_policy_needs(store: Store, ada: User) -> None:
    workspace = await store.directory.create_workspace("Team", ada.id)
    session = await store.sessions.create(workspace.id, ada.id, private=True, title="Fix login")
    assert await store.sessions.get(session.id) == session
    assert session.owner_id == ada.id and session.status == "created"
    await store.sessions.assign_runtime(session.id, "r1")
    access = await store.sessions.access(session.id)
    assert access is not None and access.private and access.runtime_id == "r1"
    await store.sessions.assign_runtime(session.id, None)
    access = await store.sessions.access(session.id)
    assert access is not None and access.runtime_id is None


async def test_session_ids_and_missing_sessions(store: Store, ada: User) -> None:
    workspace = await store.directory.create_workspace("Team", ada.id)
    chosen = await store.sessions.create(workspace.id, ada.id, session_id="s_chosen")
    assert chosen.id == "s_chosen" and not chosen.private
    with pytest.raises(Conflict):
        await store.sessions.create(workspace.id, ada.id, session_id="s_chosen")
    with pytest.raises(InvalidInput):
        await store.sessions.create(workspace.id, ada.id, session_id="../etc")
    with pytest.raises(NotFound):
        await store.sessions.create("w_missing", ada.id)
    assert await store.sessions.access("s_missing") is None
    with pytest.raises(NotFound):
        await store.sessions.assign_runtime("s_missing", "r1")
    with pytest.raises(NotFound):
        await store.sessions.delete("s_missing")


async def test_a_status_change_decided_on_a_stale_status_loses(store: Store, ada: User) -> None:
    workspace = await store.directory.create_workspace("Team", ada.id)
    session = await store.sessions.create(workspace.id, ada.id, status="running")
    pause = store.sessions.update(session.id, expect={"status": "running"}, status="paused")
    stop = store.sessions.update(session.id, expect={"status": "running"}, status="stopped")
    results = await asyncio.gather(pause, stop, return_exceptions=True)
    assert sum(isinstance(r, Conflict) for r in results) == 1
    winner = next(r for r in results if not isinstance(r, BaseException))
    assert (await store.sessions.get(session.id)).status == winner.status


async def test_pages_follow_activity_and_hide_others_private_sessions(
    store: Store, ada: User
) -> None:
    bob = await store.accounts.create_user("bob")
    workspace = await store.directory.create_workspace("Team", ada.id)
    made = [await store.sessions.create(workspace.id, ada.id, title=f"s{i}") for i in range(5)]
    hidden = await store.sessions.create(workspace.id, ada.id, private=True)
    await store.sessions.touch(made[0].id)  # now the most recent
    as_bob = Viewer(bob.id, is_admin=False)
    first = await store.sessions.page(workspace.id, as_bob, limit=3)
    assert first[0].id == made[0].id
    last = first[-1]
    rest = await store.sessions.page(
        workspace.id, as_bob, after=PageAfter(last.last_activity_at, last.id), limit=3
    )
    seen = [s.id for s in first + rest]
    assert sorted(seen) == sorted(s.id for s in made) and hidden.id not in seen
    as_ada = await store.sessions.page(workspace.id, Viewer(ada.id, is_admin=False))
    assert hidden.id in {s.id for s in as_ada}
    await store.sessions.update(made[1].id, status="archived")
    archived = await store.sessions.page(workspace.id, as_bob, statuses=["archived"])
    assert [s.id for s in archived] == [made[1].id]


async def test_repos_are_unique_by_name_per_workspace(store: Store, ada: User) -> None:
    workspace = await store.directory.create_workspace("Team", ada.id)
    repo = await store.repos.add(
        workspace.id, name="app", source="/src/app", path="/src/app", default_branch="main",
        added_by=ada.id,
    )  # fmt: skip
    assert await store.repos.in_workspace(workspace.id) == [repo]
    assert await store.repos.get(workspace.id, repo.id) == repo
    with pytest.raises(Conflict):
        await store.repos.add(
            workspace.id, name="app", source="/x", path="/x", default_branch="main",
            added_by=ada.id,
        )  # fmt: skip
    other = await store.directory.create_workspace("Other", ada.id)
    with pytest.raises(NotFound):
        await store.repos.get(other.id, repo.id)
    await store.repos.remove(workspace.id, repo.id)
    assert await store.repos.in_workspace(workspace.id) == []


async def test_an_idempotency_key_is_claimed_once(store: Store, ada: User) -> None:
    claims = await asyncio.gather(
        *(store.idempotency.claim(ada.id, "k1", "POST /x") for _ in range(3))
    )
    assert claims.count(None) == 1  # exactly one request runs the command
    running = next(c for c in claims if c is not None)
    assert running.status is None and running.fingerprint == "POST /x"
    await store.idempotency.complete(ada.id, "k1", 201, b'{"ok":true}')
    done = await store.idempotency.claim(ada.id, "k1", "POST /x")
    assert done is not None and (done.status, done.body) == (201, b'{"ok":true}')
    await store.idempotency.release(ada.id, "k1")
    assert await store.idempotency.claim(ada.id, "k1", "POST /x") is None


async def test_a_version_1_database_keeps_its_sessions(store_target: StoreTarget) -> None:
    """Databases made before sessions had titles, statuses and repos migrate in place."""
    async with store_target.store():
        pass  # a database at the latest version, to be taken back to version 1
    v1 = MetaData()
    old_sessions = Table(
        "sessions",
        v1,
        Column("id", Text, primary_key=True),
        Column("workspace_id", Text, nullable=False),
        Column("creator_id", Text, nullable=False),
        Column("private", Boolean, nullable=False),
        Column("runtime_id", Text),
        Column("created_at", Timestamp, nullable=False),
    )
    created = datetime(2026, 1, 2, tzinfo=UTC)
    db = Database(str(store_target.url), store_target.schema)
    async with db, db.begin() as conn:
        later = ("inbox_items", "follows", "notify_destinations", "action_uses", "budgets")
        old = ("search_fts", "search_entries", "grants", "runtimes", "idempotency", "sessions")
        for table in (*later, *old, "repos", "schema_version"):  # newest first
            await conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        await conn.run_sync(lambda sync: schema_version.create(sync))
        await conn.run_sync(lambda sync: old_sessions.create(sync))
        await conn.execute(insert(schema_version).values(version=1, applied_at=created))
        user = {"id": "u_ada", "name": "ada", "created_at": created}
        await conn.execute(insert(metadata.tables["users"]).values(user))
        workspace = {"id": "w_1", "name": "Team", "created_at": created}
        await conn.execute(insert(metadata.tables["workspaces"]).values(workspace))
        row = {"id": "s_old", "workspace_id": "w_1", "creator_id": "u_ada", "private": False}
        await conn.execute(insert(old_sessions).values(**row, created_at=created))
    async with store_target.store() as store:
        session = await store.sessions.get("s_old")
        assert (session.owner_id, session.status, session.title) == ("u_ada", "created", "")
        assert session.last_activity_at == created
        async with store.db.begin() as conn:
            versions = (await conn.execute(select(schema_version.c.version))).scalars().all()
        assert sorted(versions) == list(range(1, len(MIGRATIONS) + 1))
        await store.search.put("s_old", "title", "title", "migrated and searchable")
        hits = await store.search.find("w_1", Viewer("u_ada", True), "searchable")
        assert [h.session_id for h in hits] == ["s_old"]
