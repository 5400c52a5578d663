"""What authentication and the policy read, kept in memory between joins.

A join used to cost four database round trips before its first byte of sync
(the token, its user, the session, the member's role), so a thousand clients
reconnecting at once queued behind the database. :class:`CachedFacts` serves
those facts from memory and asks the store once per fact, however many joins
ask at the same moment::

    facts = CachedFacts(store.accounts, store.directory, store.sessions)
    authority.subscribe(facts.changed)  # before the endpoints that re-check
    gate = Gatekeeper(facts, facts, facts)

Security comes first. Every service that changes who may do what publishes an
:class:`AuthorityChanged` right after storing it, and :meth:`CachedFacts.changed`
forgets what it may affect before any open socket is checked again, so a
revoked token or a removed member is refused at the very next join. Absent
facts (unknown token, non-member, no such session) are never kept, so
granting access needs no event. A lookup that began before a change never
stores its (maybe stale) answer, and nothing is kept longer than
:data:`MAX_AGE_S`, which bounds the harm of a change made behind the
authority's back (by hand in the database, say). In a cluster the changes
come from every process (:mod:`trace_sync.cluster.authority`); while they
cannot, ``trusted`` is False and every answer comes from the store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from trace_sync.auth.authenticator import TOUCH_INTERVAL
from trace_sync.services.authority import AuthorityChanged
from trace_sync.store.records import Role, SessionAccess, TokenRecord, User

#: Longest time a fact is served from memory without asking the store again.
MAX_AGE_S = 30.0

T = TypeVar("T")


class FactSource(Protocol):
    """The store's reads that :class:`CachedFacts` keeps (accounts, directory, sessions)."""

    async def credentials(self, token_id: str) -> tuple[TokenRecord, bytes] | None: ...

    async def get_user(self, user_id: str) -> User: ...

    async def touch_token(self, token_id: str, when: datetime) -> None: ...

    async def role_of(self, workspace_id: str, user_id: str) -> Role | None: ...

    async def access(self, session_id: str) -> SessionAccess | None: ...


class _Memo:
    """Answers by key, each asked once at a time, dropped when stale or forgotten."""

    def __init__(self, max_age_s: float, trusted: Callable[[], bool]) -> None:
        self._max_age_s = max_age_s
        self._trusted = trusted
        self._kept: dict[Hashable, tuple[float, Any]] = {}
        self._asking: dict[Hashable, asyncio.Future[Any]] = {}
        #: Bumped by every forget: an answer asked for before it is not kept.
        self.generation = 0

    async def get(self, key: Hashable, ask: Callable[[], Awaitable[T]]) -> T:
        kept = self._kept.get(key)
        if kept is not None and time.monotonic() - kept[0] < self._max_age_s and self._trusted():
            return kept[1]  # type: ignore[no-any-return]
        asking = self._asking.get(key)
        if asking is None:
            asking = asyncio.ensure_future(self._ask(key, ask))
            self._asking[key] = asking
        return await asyncio.shield(asking)

    async def _ask(self, key: Hashable, ask: Callable[[], Awaitable[T]]) -> T:
        generation = self.generation
        try:
            answer = await ask()
        finally:
            if self._asking.get(key) is asyncio.current_task():
                del self._asking[key]
        if answer is not None and generation == self.generation and self._trusted():
            self._kept[key] = (time.monotonic(), answer)
        return answer

    def peek(self, key: Hashable) -> Any:
        """The kept answer, however old, or None."""
        kept = self._kept.get(key)
        return None if kept is None else kept[1]

    def put(self, key: Hashable, answer: Any) -> None:
        """Replace a kept answer (a change this process made itself)."""
        if key in self._kept:
            self._kept[key] = (self._kept[key][0], answer)

    def forget(self, matches: Callable[[Hashable, Any], bool]) -> None:
        """Drop every answer for which ``matches(key, answer)`` (answers being
        asked for: ``matches(key, None)``)."""
        self.generation += 1
        for key in [k for k, (_, answer) in self._kept.items() if matches(k, answer)]:
            del self._kept[key]
        for key in [k for k in self._asking if matches(k, None)]:
            del self._asking[key]  # later askers ask again; earlier ones keep nothing

    def clear(self) -> None:
        self.forget(lambda key, answer: True)


class CachedFacts:
    """The store's answers to authentication and the policy, from memory.

    It is the ``Credentials``, ``Memberships`` and ``SessionFacts`` of a
    :class:`~trace_sync.auth.gate.Gatekeeper`.
    """

    def __init__(
        self,
        accounts: Any,
        directory: Any,
        sessions: Any,
        *,
        max_age_s: float = MAX_AGE_S,
        trusted: Callable[[], bool] = lambda: True,
    ) -> None:
        """``trusted``: whether every authority change reaches :meth:`changed`
        now (``Authority.listening``); while not, answers come from the store."""
        self._accounts = accounts
        self._directory = directory
        self._sessions = sessions
        self._tokens = _Memo(max_age_s, trusted)
        self._users = _Memo(max_age_s, trusted)
        self._roles = _Memo(max_age_s, trusted)
        self._access = _Memo(max_age_s, trusted)

    @property
    def generation(self) -> int:
        """Changes forgotten so far: a join that saw it move must be decided again."""
        memos = (self._tokens, self._users, self._roles, self._access)
        return sum(m.generation for m in memos)

    async def credentials(self, token_id: str) -> tuple[TokenRecord, bytes] | None:
        found: tuple[TokenRecord, bytes] | None = await self._tokens.get(
            token_id, lambda: self._accounts.credentials(token_id)
        )
        return found

    async def get_user(self, user_id: str) -> User:
        user: User = await self._users.get(user_id, lambda: self._accounts.get_user(user_id))
        return user

    async def touch_token(self, token_id: str, when: datetime) -> None:
        # Noted in memory before the write, so the joins arriving meanwhile
        # (a thousand, in a reconnect storm) do not each write it again.
        found: tuple[TokenRecord, bytes] | None = self._tokens.peek(token_id)
        if found is not None:
            last = found[0].last_used_at
            if last is not None and when - last < TOUCH_INTERVAL:
                return
            self._tokens.put(token_id, (dataclasses.replace(found[0], last_used_at=when), found[1]))
        await self._accounts.touch_token(token_id, when)

    async def role_of(self, workspace_id: str, user_id: str) -> Role | None:
        role: Role | None = await self._roles.get(
            (workspace_id, user_id), lambda: self._directory.role_of(workspace_id, user_id)
        )
        return role

    async def access(self, session_id: str) -> SessionAccess | None:
        found: SessionAccess | None = await self._access.get(
            session_id, lambda: self._sessions.access(session_id)
        )
        return found

    async def changed(self, change: AuthorityChanged) -> None:
        """Forget every fact ``change`` may affect (an ``Authority`` listener)."""
        if change.user_id is None and change.token_id is None and change.session_id is None:
            for memo in (self._tokens, self._users, self._roles, self._access):
                memo.clear()
            return
        token, user, session = change.token_id, change.user_id, change.session_id
        if token is not None:
            self._tokens.forget(lambda key, answer: key == token)
        if user is not None:
            # An answer still being asked for may be this user's token: ask again.
            self._tokens.forget(lambda key, answer: answer is None or answer[0].user_id == user)
            self._users.forget(lambda key, answer: key == user)
            self._roles.forget(lambda key, answer: key[1] == user)  # type: ignore[index]
        if session is not None:
            self._access.forget(lambda key, answer: key == session)
