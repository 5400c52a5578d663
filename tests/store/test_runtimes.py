"""Runtimes and grants on both databases: registration, lookups, compare-and-set decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trace_sync.contract.errors import Conflict, NotFound
from trace_sync.store import Store
from trace_sync.store.records import Capability, GrantState


async def test_registering_an_instance_twice_keeps_one_runtime_and_its_new_name(
    store: Store,
) -> None:
    ada = await store.accounts.create_user("ada")
    first = await store.runtimes.register(ada.id, "laptop-1", "old name", "desktop")
    again = await store.runtimes.register(ada.id, "laptop-1", "new name", "desktop")
    assert again.id == first.id and again.name == "new name"
    other = await store.runtimes.register(ada.id, "laptop-2", "second", "desktop")
    assert other.id != first.id
    bob = await store.accounts.create_user("bob")
    assert (await store.runtimes.register(bob.id, "laptop-1", "bob's", "desktop")).id != first.id


async def test_hello_facts_are_kept_and_the_most_recently_seen_comes_first(store: Store) -> None:
    ada = await store.accounts.create_user("ada")
    old = await store.runtimes.register(ada.id, "i-1", "old", "desktop")
    new = await store.runtimes.register(ada.id, "i-2", "new", "desktop")
    never = await store.runtimes.register(ada.id, "i-3", "never", "desktop")
    at = datetime.now(UTC)
    tools = {"tools": [{"name": "claude", "available": True}]}
    await store.runtimes.update(old.id, last_seen_at=at - timedelta(minutes=5))
    await store.runtimes.update(new.id, last_seen_at=at, version="1.2", capabilities=tools)
    found = await store.runtimes.of_owners([ada.id])
    assert [r.id for r in found] == [new.id, old.id, never.id]
    assert found[0].capabilities == tools and found[0].version == "1.2"
    with pytest.raises(NotFound):
        await store.runtimes.get("rt_missing")


async def test_sessions_on_a_runtime_and_those_waiting_for_one(store: Store) -> None:
    ada = await store.accounts.create_user("ada")
    workspace = await store.directory.create_workspace("W", ada.id)
    runtime = await store.runtimes.register(ada.id, "i-1", "laptop", "desktop")
    placed = await store.sessions.create(workspace.id, ada.id, status="running")
    waiting = await store.sessions.create(workspace.id, ada.id, status="starting")
    await store.sessions.assign_runtime(placed.id, runtime.id)
    assert [s.id for s in await store.sessions.on_runtime(runtime.id)] == [placed.id]
    assert await store.sessions.on_runtime(runtime.id, ["stopped"]) == []
    assert [s.id for s in await store.sessions.awaiting_runtime(ada.id, "starting")] == [waiting.id]
    assert await store.sessions.runtimes_hosting(["running"]) == {runtime.id}


async def test_a_grant_is_decided_once(store: Store) -> None:
    ada = await store.accounts.create_user("ada")
    bob = await store.accounts.create_user("bob")
    runtime = await store.runtimes.register(ada.id, "i-1", "laptop", "desktop")
    soon = datetime.now(UTC) + timedelta(hours=1)
    grant = await store.grants.add(
        runtime.id, bob.id, [Capability.TERMINAL, Capability.SESSION], expires_at=soon
    )
    assert grant.state is GrantState.PENDING and grant.capabilities == set(Capability)
    approved = await store.grants.decide(
        grant.id, GrantState.APPROVED, by=ada.id, expect=[GrantState.PENDING]
    )
    assert approved.decided_by == ada.id and approved.expires_at == soon
    with pytest.raises(Conflict, match="is approved"):
        await store.grants.decide(
            grant.id, GrantState.DENIED, by=ada.id, expect=[GrantState.PENDING]
        )
    assert [g.id for g in await store.grants.held(runtime.id, bob.id)] == [grant.id]
    assert await store.grants.due(datetime.now(UTC)) == []
    assert [g.id for g in await store.grants.due(soon + timedelta(seconds=1))] == [grant.id]
    assert approved.allows(Capability.TERMINAL, "s_any", datetime.now(UTC))
    assert not approved.allows(Capability.TERMINAL, "s_any", soon + timedelta(seconds=1))


async def test_a_grant_for_an_unknown_runtime_is_not_found(store: Store) -> None:
    bob = await store.accounts.create_user("bob")
    with pytest.raises(NotFound):
        await store.grants.add("rt_missing", bob.id, [Capability.SESSION])
