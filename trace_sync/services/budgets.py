"""Budgets: caps in USD and tokens per session and per workspace, and a
default cap every new session of a workspace starts with.

After each usage report the session's totals are held against its cap, then
the workspace's totals against the workspace's; at a cap a session at work
pauses with the reason on its row and timeline (``session.budget_reached``,
which reaches its followers' inboxes and notifications). It is not set going
again (resume, rerun) while it is still at a cap: raise the cap first.
"""

from __future__ import annotations

from dataclasses import dataclass

from trace_sync.auth.principal import Principal
from trace_sync.contract.errors import Conflict, InvalidInput
from trace_sync.services.access import (
    require_admin,
    require_session_control,
    role_in,
    visible_session,
)
from trace_sync.services.sessions import SessionService
from trace_sync.store import Store
from trace_sync.store.budgets import Cap, default_scope, session_scope, workspace_scope
from trace_sync.store.records import SessionRow


@dataclass(frozen=True)
class Standing:
    """A cap and what was spent against it."""

    cap: Cap
    spent_usd: float
    spent_tokens: int


class BudgetService:
    def __init__(self, store: Store, sessions: SessionService) -> None:
        self._store = store
        self._sessions = sessions

    async def of_session(self, actor: Principal, session_id: str) -> Standing:
        session, _ = await visible_session(self._store, session_id, actor)
        cap = await self._store.budgets.get(session_scope(session_id))
        return Standing(cap, session.cost_usd, session.tokens)

    async def set_session(self, actor: Principal, session_id: str, cap: Cap) -> Standing:
        """The session's owner or an admin sets (or, empty, removes) its cap."""
        session, role = await visible_session(self._store, session_id, actor)
        require_session_control(session, role, actor, "setting a session's budget")
        await self._store.budgets.set(session_scope(session_id), _checked(cap))
        return await self.of_session(actor, session_id)

    async def of_workspace(self, actor: Principal, workspace_id: str) -> tuple[Standing, Cap]:
        """The workspace's cap and spending, and the default cap of new sessions."""
        await role_in(self._store, workspace_id, actor)
        cap = await self._store.budgets.get(workspace_scope(workspace_id))
        usd, tokens = await self._store.budgets.spent(workspace_id)
        return Standing(cap, usd, tokens), await self._store.budgets.get(
            default_scope(workspace_id)
        )

    async def set_workspace(
        self, actor: Principal, workspace_id: str, cap: Cap, *, default: bool = False
    ) -> tuple[Standing, Cap]:
        """Admins set the workspace's cap, or (``default``) new sessions' cap."""
        require_admin(await role_in(self._store, workspace_id, actor), "setting budgets")
        scope = default_scope if default else workspace_scope
        await self._store.budgets.set(scope(workspace_id), _checked(cap))
        return await self.of_workspace(actor, workspace_id)

    async def usage_reported(self, session: SessionRow) -> None:
        """The ``on_usage`` hook: pause a session at work that reached a cap."""
        reached = await self.reached(session)
        if reached is not None:
            await self._sessions.pause_at_budget(session.id, reached)

    async def before_running(self, session: SessionRow) -> None:
        """The ``before_running`` hook: no resume while at a cap."""
        reached = await self.reached(session)
        if reached is not None:
            raise Conflict(f"this session {reached}; raise the budget to go on")

    async def reached(self, session: SessionRow) -> str | None:
        """Which cap the session reached (said for people), or None."""
        own = await self._store.budgets.get(session_scope(session.id))
        said = _reached(own, session.cost_usd, session.tokens, "its budget")
        if said is not None:
            return said
        workspace = await self._store.budgets.get(workspace_scope(session.workspace_id))
        if workspace.empty:
            return None
        usd, tokens = await self._store.budgets.spent(session.workspace_id)
        return _reached(workspace, usd, tokens, "the workspace's budget")


def _reached(cap: Cap, usd: float, tokens: int, whose: str) -> str | None:
    if cap.usd is not None and usd >= cap.usd:
        return f"reached {whose} of ${cap.usd:.2f} (spent ${usd:.2f})"
    if cap.tokens is not None and tokens >= cap.tokens:
        return f"reached {whose} of {cap.tokens:,} tokens (used {tokens:,})"
    return None


def _checked(cap: Cap) -> Cap:
    if (cap.usd is not None and not 0 <= cap.usd < 1e9) or (
        cap.tokens is not None and not 0 <= cap.tokens < 2**62
    ):
        raise InvalidInput("a budget is a positive amount of USD or tokens")
    return cap
