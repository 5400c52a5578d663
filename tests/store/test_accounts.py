"""Users and tokens in the real databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from trace_sync.contract.errors import Conflict, InvalidInput, NotFound
from trace_sync.store import Store
from trace_sync.store.records import TokenKind


async def test_users_are_unique_by_name_and_validated(store: Store) -> None:
    ada = await store.accounts.create_user("ada")
    bob = await store.accounts.create_user("bob.smith@example")
    assert await store.accounts.find_user("ada") == ada == await store.accounts.get_user(ada.id)
    assert ada.created_at.tzinfo is not None
    assert await store.accounts.list_users() == [ada, bob]
    assert await store.accounts.count_users() == 2
    with pytest.raises(Conflict, match="ada"):
        await store.accounts.create_user("ada")
    for bad in ("ada lovelace", "", "x" * 65):
        with pytest.raises(InvalidInput):
            await store.accounts.create_user(bad)


async def test_missing_users_are_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.accounts.get_user("u_nobody")
    with pytest.raises(NotFound):
        await store.accounts.find_user("nobody")
    with pytest.raises(NotFound):
        await store.accounts.add_token("u_nobody", b"h" * 32, label="x")


async def test_a_token_is_found_by_its_hash_used_and_revoked_once(store: Store) -> None:
    ada = await store.accounts.create_user("ada")
    record = await store.accounts.add_token(
        ada.id, b"h" * 32, label="bridge", kind=TokenKind.RUNTIME, runtime_id="r1"
    )
    assert await store.accounts.token_by_hash(b"h" * 32) == record
    assert await store.accounts.token_by_hash(b"x" * 32) is None
    assert await store.accounts.credentials(record.id) == (record, b"h" * 32)
    when = datetime(2026, 1, 2, 3, 0, tzinfo=timezone(timedelta(hours=2)))
    await store.accounts.touch_token(record.id, when)
    first = await store.accounts.revoke_token(record.id)
    again = await store.accounts.revoke_token(record.id)
    assert first.revoked_at is not None and again.revoked_at == first.revoked_at
    assert again.last_used_at == datetime(2026, 1, 2, 1, 0, tzinfo=UTC)
    revoked = await store.accounts.token_by_hash(b"h" * 32)
    assert revoked is not None and revoked.revoked_at == first.revoked_at


async def test_tokens_are_listed_per_user_and_hashes_are_unique(store: Store) -> None:
    ada, bob = await store.accounts.create_user("ada"), await store.accounts.create_user("bob")
    first = await store.accounts.add_token(ada.id, b"a" * 32, label="laptop")
    second = await store.accounts.add_token(bob.id, b"b" * 32, label="phone")
    assert await store.accounts.list_tokens(ada.id) == [first]
    assert await store.accounts.list_tokens() == [first, second]
    with pytest.raises(Conflict):
        await store.accounts.add_token(bob.id, b"a" * 32, label="copy")


async def test_unknown_tokens_are_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.accounts.revoke_token("t_missing")
    with pytest.raises(NotFound):
        await store.accounts.touch_token("t_missing", datetime.now(UTC))
    assert await store.accounts.credentials("t_missing") is None
