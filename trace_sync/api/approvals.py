"""What a session's tool asks, and people's answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from trace_sync.api.endpoints import Call, Endpoint
from trace_sync.api.models import Model
from trace_sync.docs.entries import ApprovalRequest, Decision
from trace_sync.services.approvals import MAX_ANSWER, MAX_MESSAGE

APPROVALS = "/api/sessions/{sid}/approvals"


class ApprovalOut(Model):
    id: str
    kind: Literal["permission", "question", "plan"]
    tool: str
    title: str
    input: dict[str, Any]
    detail: dict[str, Any]
    options: list[str]
    at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, request: ApprovalRequest) -> ApprovalOut:
        values = request.model_dump(mode="json", include=set(cls.model_fields))
        return cls.model_validate(values)


class ApprovalList(Model):
    items: list[ApprovalOut]


class DecisionIn(Model):
    behavior: Literal["allow", "allow_always", "deny", "answer"] = Field(
        description="allow_always also allows the same kind of request for the rest of the session"
    )
    message: str | None = Field(None, max_length=MAX_MESSAGE, description="why, on a deny")
    answer: str | None = Field(None, max_length=MAX_ANSWER, description="for a question")


class AnswerIn(Model):
    text: str = Field(min_length=1, max_length=MAX_ANSWER)
    request_id: str | None = Field(None, description="default: the one open question")


class DecisionOut(Model):
    request_id: str
    behavior: str
    message: str | None
    answer: str | None
    by: str
    at: datetime

    @classmethod
    def of(cls, decision: Decision) -> DecisionOut:
        return cls.model_validate(decision.model_dump(include=set(cls.model_fields)))


async def pending(call: Call) -> ApprovalList:
    requests = await call.ctx.approvals.pending(call.actor, call.path["sid"])
    return ApprovalList(items=[ApprovalOut.of(r) for r in requests])


async def decide(call: Call) -> DecisionOut:
    body: DecisionIn = call.body
    decision = await call.ctx.approvals.decide(
        call.actor,
        call.path["sid"],
        call.path["rid"],
        body.behavior,
        message=body.message,
        answer=body.answer,
    )
    return DecisionOut.of(decision)


async def answer(call: Call) -> DecisionOut:
    body: AnswerIn = call.body
    decision = await call.ctx.approvals.answer(
        call.actor, call.path["sid"], body.text, body.request_id
    )
    return DecisionOut.of(decision)


endpoints = [
    Endpoint(
        "GET",
        APPROVALS,
        pending,
        "Requests of the session's tool waiting for a person: exactly what each asks",
        response=ApprovalList,
    ),
    Endpoint(
        "POST",
        f"{APPROVALS}/{{rid}}",
        decide,
        "Allow, deny or answer a pending request (writers; the first decision wins)",
        body=DecisionIn,
        response=DecisionOut,
    ),
    Endpoint(
        "POST",
        "/api/sessions/{sid}/answer",
        answer,
        "Answer the session's open question",
        body=AnswerIn,
        response=DecisionOut,
    ),
]
