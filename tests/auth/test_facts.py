"""Joins decided from memory: asked once however many join, forgotten on change."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from trace_sync.auth.authenticator import Authenticator
from trace_sync.auth.facts import CachedFacts
from trace_sync.auth.tokens import format_token, hash_secret
from trace_sync.services.authority import AuthorityChanged, Reason
from trace_sync.store.records import Role, SessionAccess, TokenKind, TokenRecord, User


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SlowDirectory:
    """A directory whose answers take a while, counting how often it is asked."""

    roles: dict[tuple[str, str], Role] = field(default_factory=dict)
    asked: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def role_of(self, workspace_id: str, user_id: str) -> Role | None:
        self.asked += 1
        answer = self.roles.get((workspace_id, user_id))
        await self.release.wait()
        return answer

    async def access(self, session_id: str) -> SessionAccess | None:
        return None


def facts_over(directory: SlowDirectory) -> CachedFacts:
    return CachedFacts(None, directory, directory)


async def test_a_thousand_joins_at_once_ask_the_store_once() -> None:
    directory = SlowDirectory({("w", "u"): Role.MEMBER})
    facts = facts_over(directory)
    joins = [asyncio.create_task(facts.role_of("w", "u")) for _ in range(1000)]
    await asyncio.sleep(0)  # every join is waiting on the one question
    directory.release.set()
    assert set(await asyncio.gather(*joins)) == {Role.MEMBER}
    assert await facts.role_of("w", "u") is Role.MEMBER
    assert directory.asked == 1


async def test_a_role_change_is_seen_by_the_next_join() -> None:
    directory = SlowDirectory({("w", "u"): Role.MEMBER})
    directory.release.set()
    facts = facts_over(directory)
    assert await facts.role_of("w", "u") is Role.MEMBER
    directory.roles[("w", "u")] = Role.VIEWER
    await facts.changed(AuthorityChanged(Reason.ROLE, user_id="u"))
    assert await facts.role_of("w", "u") is Role.VIEWER


async def test_an_answer_asked_for_before_a_change_is_not_kept() -> None:
    directory = SlowDirectory({("w", "u"): Role.MEMBER})
    facts = facts_over(directory)
    before = asyncio.create_task(facts.role_of("w", "u"))
    await asyncio.sleep(0)
    del directory.roles[("w", "u")]  # removed while the question was out
    await facts.changed(AuthorityChanged(Reason.MEMBERSHIP, user_id="u"))
    directory.release.set()
    await before
    assert await facts.role_of("w", "u") is None
    assert directory.asked == 2


async def test_absent_facts_are_not_kept_so_granting_needs_no_event() -> None:
    directory = SlowDirectory()
    directory.release.set()
    facts = facts_over(directory)
    assert await facts.role_of("w", "u") is None
    directory.roles[("w", "u")] = Role.MEMBER  # invited and joined
    assert await facts.role_of("w", "u") is Role.MEMBER


@dataclass
class CountingAccounts:
    """One token that was never used; counts the writes of its last use."""

    touched: int = 0

    async def credentials(self, token_id: str) -> tuple[TokenRecord, bytes] | None:
        await asyncio.sleep(0)
        record = TokenRecord(token_id, "u", TokenKind.USER, "l", None, now(), None, None)
        return record, hash_secret("s" * 40)

    async def get_user(self, user_id: str) -> User:
        return User(user_id, "ursula", now())

    async def touch_token(self, token_id: str, when: datetime) -> None:
        self.touched += 1
        await asyncio.sleep(0)


async def test_a_storm_of_joins_with_one_token_records_its_use_once() -> None:
    accounts = CountingAccounts()
    authenticator = Authenticator(CachedFacts(accounts, None, None))
    token = format_token("t_abc", "s" * 40)
    joins = [authenticator.authenticate(token) for _ in range(1000)]
    assert {p.user_name for p in await asyncio.gather(*joins)} == {"ursula"}
    assert accounts.touched == 1


async def test_while_changes_go_unheard_every_join_asks_the_store() -> None:
    # In a cluster with Redis out of reach, a change made on another process
    # could not reach the cache: it must not answer from memory then.
    directory = SlowDirectory({("w", "u"): Role.MEMBER})
    directory.release.set()
    hearing = [True]
    facts = CachedFacts(None, directory, directory, trusted=lambda: hearing[0])
    await facts.role_of("w", "u")
    hearing[0] = False
    directory.roles[("w", "u")] = Role.VIEWER  # changed elsewhere, unheard
    assert await facts.role_of("w", "u") is Role.VIEWER
    directory.roles[("w", "u")] = Role.ADMIN
    assert await facts.role_of("w", "u") is Role.ADMIN
    assert directory.asked == 3
