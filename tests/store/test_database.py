"""The engine's settings and its error translation."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from trace_sync.contract.errors import InvalidInput, StoreError
from trace_sync.store import Store


async def test_sqlite_runs_in_wal_with_foreign_keys_in_a_new_directory(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "trace.db"
    async with Store(f"sqlite+aiosqlite:///{path}") as store, store.db.begin() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await conn.execute(text("PRAGMA synchronous"))).scalar() == 1  # NORMAL
    assert path.exists()


def test_unsupported_urls_and_options_are_refused() -> None:
    with pytest.raises(InvalidInput):
        Store("mysql+aiomysql://localhost/trace")
    with pytest.raises(InvalidInput):
        Store("sqlite+aiosqlite://")  # in memory: every connection would see another database
    with pytest.raises(InvalidInput):
        Store("sqlite+aiosqlite:///x.db", schema="other")
    with pytest.raises(InvalidInput):
        Store("postgresql+asyncpg://localhost/trace", schema='x"; DROP TABLE users; --')


async def test_an_unreachable_database_is_a_store_error() -> None:
    with pytest.raises(StoreError):
        async with Store("postgresql+asyncpg://postgres@127.0.0.1:1/test"):
            pass
