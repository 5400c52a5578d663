"""Answering what a session's tool asks: permissions, questions and plans.

The runtime hosting the session writes each pending request into
``session/<sid>/io`` ``approvals`` (exactly what the tool asks: command, file,
diff); anyone who may see the session and has a writing role decides here,
from any client. The decision goes into ``session/<sid>`` ``decisions``,
where the runtime picks it up, hands it to the tool and removes the request.
The first decision on a request wins; a second is refused naming the first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pycrdt import Doc

from trace_sync.auth.principal import Principal
from trace_sync.contract.errors import Conflict, InvalidInput, NotFound
from trace_sync.docs import typed
from trace_sync.docs.entries import ApprovalRequest, Decision
from trace_sync.docs.layouts import SESSION, SESSION_IO
from trace_sync.services.access import require_writer, visible_session
from trace_sync.services.documents import SERVICES, Documents, event, session_doc
from trace_sync.store import Store

Behavior = Literal["allow", "allow_always", "deny", "answer"]
MAX_MESSAGE = 2_000
MAX_ANSWER = 10_000
#: What each kind of request can be answered with.
FITTING: dict[str, frozenset[str]] = {
    "permission": frozenset({"allow", "allow_always", "deny"}),
    "question": frozenset({"answer", "deny"}),
    "plan": frozenset({"allow", "deny"}),
}


class ApprovalService:
    def __init__(self, store: Store, documents: Documents) -> None:
        self._store = store
        self._documents = documents

    async def pending(self, actor: Principal, session_id: str) -> list[ApprovalRequest]:
        """The requests waiting for a person, oldest first."""
        await visible_session(self._store, session_id, actor)
        requests = await self._requests(session_id)
        async with self._documents.document(session_doc(session_id)) as doc:
            decided = set(typed.root_of(doc, SESSION, "decisions").keys())
        waiting = [r for r in requests.values() if r.id not in decided]
        return sorted(waiting, key=lambda r: r.at)

    async def decide(
        self,
        actor: Principal,
        session_id: str,
        request_id: str,
        behavior: Behavior,
        *,
        message: str | None = None,
        answer: str | None = None,
    ) -> Decision:
        """Allow, deny or answer one pending request."""
        _, role = await visible_session(self._store, session_id, actor)
        require_writer(role, "answering a session's requests")
        request = (await self._requests(session_id)).get(request_id)
        if request is None:
            await self._refuse_if_decided(session_id, request_id)
            raise NotFound(f"session {session_id} has no pending request {request_id}")
        _check_fits(request, behavior, message, answer)
        decision = Decision(
            request_id=request_id,
            behavior=behavior,
            message=message,
            answer=answer,
            by=actor.user_id,
            at=datetime.now(UTC),
        )
        async with self._documents.document(session_doc(session_id)) as doc:
            earlier = _record(doc, request, decision)
        if earlier is not None:
            raise await self._already_decided(request_id, earlier)
        await self._store.sessions.touch(session_id)
        return decision

    async def answer(
        self, actor: Principal, session_id: str, text: str, request_id: str | None = None
    ) -> Decision:
        """Answer the session's question (the only one pending, or ``request_id``)."""
        if request_id is None:
            asked = [r for r in await self.pending(actor, session_id) if r.kind == "question"]
            if len(asked) != 1:
                raise InvalidInput(
                    f"session {session_id} has {len(asked)} open questions; name the one to answer"
                )
            request_id = asked[0].id
        return await self.decide(actor, session_id, request_id, "answer", answer=text)

    async def _refuse_if_decided(self, session_id: str, request_id: str) -> None:
        """A request the tool no longer waits for because someone decided it: say who."""
        async with self._documents.document(session_doc(session_id)) as doc:
            earlier = typed.root_of(doc, SESSION, "decisions").get(request_id)
        if isinstance(earlier, dict):
            raise await self._already_decided(request_id, earlier)

    async def _already_decided(self, request_id: str, earlier: dict[str, Any]) -> Conflict:
        try:
            who = (await self._store.accounts.get_user(str(earlier.get("by")))).name
        except NotFound:
            who = "someone no longer here"
        return Conflict(
            f"request {request_id} was already answered ({earlier.get('behavior')}) by {who}"
        )

    async def _requests(self, session_id: str) -> dict[str, ApprovalRequest]:
        """Pending requests as the runtime wrote them (malformed ones are left out)."""
        async with self._documents.document(f"{session_doc(session_id)}/io") as doc:
            found = typed.read_map(doc, SESSION_IO, "approvals")
        return {key: r for key, r in found.items() if isinstance(r, ApprovalRequest)}


def _check_fits(
    request: ApprovalRequest, behavior: str, message: str | None, answer: str | None
) -> None:
    fitting = FITTING.get(request.kind, frozenset())
    if behavior not in fitting:
        raise InvalidInput(
            f"a {request.kind} request takes {', '.join(sorted(fitting))}, not {behavior}"
        )
    if behavior == "answer" and not (answer and answer.strip()):
        raise InvalidInput("an answer cannot be empty")
    if answer is not None and len(answer) > MAX_ANSWER:
        raise InvalidInput(f"an answer is at most {MAX_ANSWER} characters")
    if message is not None and len(message) > MAX_MESSAGE:
        raise InvalidInput(f"a message is at most {MAX_MESSAGE} characters")
    if request.expires_at is not None and request.expires_at < datetime.now(UTC):
        raise Conflict(f"request {request.id} expired at {request.expires_at.isoformat()}")


def _record(doc: Doc[Any], request: ApprovalRequest, decision: Decision) -> dict[str, Any] | None:
    """Store the decision unless someone decided first (no await in between: atomic);
    the earlier decision if there was one."""
    decisions = typed.root_of(doc, SESSION, "decisions")
    earlier = decisions.get(request.id)
    if earlier is not None:
        return dict(earlier)
    change = event(
        decision.by,
        "approval.decided",
        request_id=request.id,
        asked=request.kind,
        tool=request.tool,
        title=request.title,
        behavior=decision.behavior,
    )
    with doc.transaction(origin=SERVICES):
        typed.put(doc, SESSION, "decisions", request.id, decision, origin=SERVICES)
        typed.append(doc, SESSION, "timeline", change, origin=SERVICES)
    return None
