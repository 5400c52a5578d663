"""Budgets: caps in USD and tokens per session and per workspace, and new sessions' default."""

from __future__ import annotations

from pydantic import Field

from trace_sync.api.endpoints import Call, Endpoint
from trace_sync.api.models import Model
from trace_sync.services.budgets import Standing
from trace_sync.store.budgets import Cap


class CapIn(Model):
    usd: float | None = Field(None, ge=0, lt=1e9, description="null: no cap in USD")
    tokens: int | None = Field(None, ge=0, lt=2**62, description="null: no cap in tokens")

    def cap(self) -> Cap:
        return Cap(self.usd, self.tokens)


class CapOut(Model):
    usd: float | None
    tokens: int | None

    @classmethod
    def of(cls, cap: Cap) -> CapOut:
        return cls(usd=cap.usd, tokens=cap.tokens)


class BudgetOut(Model):
    cap: CapOut
    spent_usd: float
    spent_tokens: int

    @classmethod
    def of(cls, standing: Standing) -> BudgetOut:
        return cls(
            cap=CapOut.of(standing.cap),
            spent_usd=round(standing.spent_usd, 6),
            spent_tokens=standing.spent_tokens,
        )


class WorkspaceBudgetOut(BudgetOut):
    #: The cap every new session of the workspace starts with.
    session_default: CapOut


def _workspace(found: tuple[Standing, Cap]) -> WorkspaceBudgetOut:
    standing, default = found
    return WorkspaceBudgetOut(
        **BudgetOut.of(standing).model_dump(), session_default=CapOut.of(default)
    )


async def session_budget(call: Call) -> BudgetOut:
    return BudgetOut.of(await call.ctx.budgets.of_session(call.actor, call.path["sid"]))


async def set_session_budget(call: Call) -> BudgetOut:
    body: CapIn = call.body
    return BudgetOut.of(
        await call.ctx.budgets.set_session(call.actor, call.path["sid"], body.cap())
    )


async def workspace_budget(call: Call) -> WorkspaceBudgetOut:
    return _workspace(await call.ctx.budgets.of_workspace(call.actor, call.path["wid"]))


async def set_workspace_budget(call: Call) -> WorkspaceBudgetOut:
    body: CapIn = call.body
    found = await call.ctx.budgets.set_workspace(call.actor, call.path["wid"], body.cap())
    return _workspace(found)


async def set_default_budget(call: Call) -> WorkspaceBudgetOut:
    body: CapIn = call.body
    budgets = call.ctx.budgets
    found = await budgets.set_workspace(call.actor, call.path["wid"], body.cap(), default=True)
    return _workspace(found)


endpoints = [
    Endpoint(
        "GET",
        "/api/sessions/{sid}/budget",
        session_budget,
        "A session's cap and what it spent",
        response=BudgetOut,
    ),
    Endpoint(
        "PUT",
        "/api/sessions/{sid}/budget",
        set_session_budget,
        "Cap a session in USD and/or tokens (its owner or an admin); at the cap it pauses",
        body=CapIn,
        response=BudgetOut,
    ),
    Endpoint(
        "GET",
        "/api/workspaces/{wid}/budget",
        workspace_budget,
        "A workspace's cap, what its sessions spent, and new sessions' default cap",
        response=WorkspaceBudgetOut,
    ),
    Endpoint(
        "PUT",
        "/api/workspaces/{wid}/budget",
        set_workspace_budget,
        "Cap the workspace's sessions together (admins); at the cap a session pauses",
        body=CapIn,
        response=WorkspaceBudgetOut,
    ),
    Endpoint(
        "PUT",
        "/api/workspaces/{wid}/budget/default",
        set_default_budget,
        "The cap every new session of the workspace starts with (admins)",
        body=CapIn,
        response=WorkspaceBudgetOut,
    ),
]
