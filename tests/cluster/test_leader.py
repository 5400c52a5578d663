"""The leader lock: one holder per schema, taken over when the holder goes."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.conftest import StoreTarget, _drop_schema, _raw_postgres, eventually
from trace_sync.cluster.leader import Leadership

RETRY_S = 0.1


async def test_without_a_cluster_the_process_always_leads() -> None:
    told: list[bool] = []
    async with Leadership(None, on_change=told.append) as leader:
        assert leader.leading
    assert told == [True, False]


async def test_one_of_two_leads_and_the_other_takes_over_when_it_leaves(
    postgres: StoreTarget,
) -> None:
    async with postgres.store() as one, postgres.store() as two:
        first = await Leadership(one.db, retry_s=RETRY_S).__aenter__()
        await eventually(lambda: first.leading)
        async with Leadership(two.db, retry_s=RETRY_S) as second:
            await asyncio.sleep(5 * RETRY_S)
            assert first.leading and not second.leading
            await first.__aexit__(None, None, None)
            assert not first.leading
            await eventually(lambda: second.leading)


async def test_another_schema_has_a_leader_of_its_own(postgres: StoreTarget) -> None:
    other = StoreTarget(postgres.url, f"{postgres.schema}_other")
    try:
        async with (
            postgres.store() as one,
            other.store() as two,
            Leadership(one.db, retry_s=RETRY_S) as a,
            Leadership(two.db, retry_s=RETRY_S) as b,
        ):
            await eventually(lambda: a.leading and b.leading)
    finally:
        await _drop_schema(str(other.schema))


async def test_a_leader_whose_connection_is_cut_stops_leading_and_another_takes_over(
    postgres: StoreTarget,
) -> None:
    told: list[bool] = []
    async with (
        postgres.store() as one,
        postgres.store() as two,
        Leadership(one.db, retry_s=RETRY_S, on_change=told.append) as first,
    ):
        await eventually(lambda: first.leading)
        async with Leadership(two.db, retry_s=RETRY_S) as second:
            await cut_leader_connection(str(postgres.schema))
            await eventually(lambda: False in told[told.index(True) :])  # it noticed
            await eventually(lambda: first.leading or second.leading)
            await asyncio.sleep(5 * RETRY_S)
            assert [first.leading, second.leading].count(True) == 1


async def cut_leader_connection(schema: str) -> None:
    """Terminate the backend that holds this schema's leader lock (a crash)."""
    conn = await asyncpg.connect(_raw_postgres())
    try:
        key = await conn.fetchval("SELECT hashtextextended($1, 0)", f"trace-leader:{schema}")
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory'"
            " AND granted AND ((classid::bigint << 32) | objid::bigint) = $1",
            key,
        )
        assert killed == 1
    finally:
        await conn.close()
