"""Migrations: recorded once, applied once, safe when processes start together."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import StoreTarget
from trace_sync.store import Store, schema


async def versions(store: Store) -> list[int]:
    query = select(schema.schema_version.c.version).order_by(schema.schema_version.c.version)
    async with store.db.begin() as conn:
        return list((await conn.execute(query)).scalars())


async def test_a_fresh_database_records_the_latest_version(store: Store) -> None:
    assert await versions(store) == list(range(1, len(schema.MIGRATIONS) + 1))


async def test_a_new_step_runs_once_on_an_existing_database(
    store_target: StoreTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with store_target.store() as store:
        await store.accounts.create_user("ada")
    runs: list[int] = []

    async def add_flag(conn: AsyncConnection) -> None:
        runs.append(1)
        await conn.execute(text("ALTER TABLE sessions ADD COLUMN flagged INTEGER"))

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, add_flag])
    for _ in range(2):
        async with store_target.store() as store:
            assert [u.name for u in await store.accounts.list_users()] == ["ada"]
            assert await versions(store) == list(range(1, len(schema.MIGRATIONS) + 1))
    assert runs == [1]


async def test_processes_starting_together_migrate_once(store_target: StoreTarget) -> None:
    stores = [store_target.store() for _ in range(3)]
    await asyncio.gather(*(s.__aenter__() for s in stores))
    try:
        assert await versions(stores[0]) == list(range(1, len(schema.MIGRATIONS) + 1))
    finally:
        await asyncio.gather(*(s.__aexit__(None, None, None) for s in stores))


async def test_upgrading_makes_the_oldest_user_the_instance_admin(
    store_target: StoreTarget,
) -> None:
    """A database from before instance admins: its first owner keeps the power
    to connect local paths, and nobody else gains it."""
    step = schema.MIGRATIONS.index(schema._instance_admins_and_invitations) + 1
    async with store_target.store() as store:
        ada = await store.accounts.create_user("ada")
        await store.accounts.create_user("bob")
        async with store.db.begin() as conn:
            await conn.execute(text("DROP TABLE invitations"))
            await conn.execute(text("ALTER TABLE users DROP COLUMN instance_admin"))
            older = schema.schema_version.c.version >= step
            await conn.execute(schema.schema_version.delete().where(older))
    async with store_target.store() as store:
        users = {u.name: u.instance_admin for u in await store.accounts.list_users()}
        assert users == {"ada": True, "bob": False}
        assert (await store.accounts.get_user(ada.id)).instance_admin
        assert await store.invitations.count_open("w_none") == 0


async def test_upgrading_indexes_the_idempotency_keys_by_age(store_target: StoreTarget) -> None:
    """Each claim of a key deletes the expired ones: without the index, a scan of them all."""
    step = schema.MIGRATIONS.index(schema._idempotency_by_age) + 1
    async with store_target.store() as store:
        assert "idempotency_by_age" in await _indexes(store, "idempotency")  # a fresh one
        async with store.db.begin() as conn:
            await conn.execute(text("DROP INDEX idempotency_by_age"))
            older = schema.schema_version.c.version >= step
            await conn.execute(schema.schema_version.delete().where(older))
    async with store_target.store() as store:
        assert "idempotency_by_age" in await _indexes(store, "idempotency")


async def _indexes(store: Store, table: str) -> set[str]:
    async with store.db.begin() as conn:
        found = await conn.run_sync(lambda sync: inspect(sync).get_indexes(table))
    return {str(i["name"]) for i in found}
