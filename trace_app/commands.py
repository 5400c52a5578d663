"""The commands a person gives, as the HTTP requests of the API contract.

Each function returns a :class:`Request`; the client hands it to the outbox,
which sends it (now or after reconnecting) with an idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

LIFECYCLE = ("pause", "resume", "stop", "archive", "restore")
Behavior = Literal["allow", "allow_always", "deny", "answer"]
Mode = Literal["queue", "interrupt"]
GrantVerb = Literal["approve", "deny", "revoke"]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: dict[str, Any] | None
    label: str
    scope: str | None = None


def lifecycle(sid: str, verb: str) -> Request:
    if verb not in LIFECYCLE:
        raise ValueError(f"not a session command: {verb!r}")
    return Request("POST", f"/api/sessions/{sid}/{verb}", None, verb, sid)


def prompt(sid: str, text: str, mode: Mode = "queue") -> Request:
    label = "interrupt with a prompt" if mode == "interrupt" else "send prompt"
    return Request("POST", f"/api/sessions/{sid}/prompts", {"text": text, "mode": mode}, label, sid)


def fork(sid: str, checkpoint: int | None = None, title: str | None = None) -> Request:
    body = _some(checkpoint=checkpoint, title=title)
    label = "fork" if checkpoint is None else f"fork from checkpoint {checkpoint}"
    return Request("POST", f"/api/sessions/{sid}/fork", body, label, sid)


def hand_off(sid: str, owner_id: str) -> Request:
    return Request("POST", f"/api/sessions/{sid}/handoff", {"owner_id": owner_id}, "hand off", sid)


def restore_checkpoint(sid: str, n: int) -> Request:
    path = f"/api/sessions/{sid}/checkpoints/{n}/restore"
    return Request("POST", path, None, f"restore checkpoint {n}", sid)


def decide(
    sid: str, request_id: str, behavior: Behavior, *, message: str = "", answer: str = ""
) -> Request:
    """Answer an approval request (permission, question or plan)."""
    body = {"behavior": behavior} | _some(message=message or None, answer=answer or None)
    label = {
        "allow": "approve",
        "allow_always": "allow for this session",
        "deny": "deny",
        "answer": "answer",
    }[behavior]
    return Request("POST", f"/api/sessions/{sid}/approvals/{request_id}", body, label, sid)


def ask_for_access(runtime_id: str, capabilities: list[str], sid: str | None = None) -> Request:
    """Ask a bridge's owner for access (to run sessions on it, to type into its terminals)."""
    body = {"capabilities": capabilities} | _some(session_id=sid)
    label = f"ask for {' and '.join(capabilities)} access"
    return Request("POST", f"/api/runtimes/{runtime_id}/grants", body, label, sid)


def decide_grant(grant_id: str, verb: GrantVerb) -> Request:
    return Request("POST", f"/api/grants/{grant_id}/{verb}", None, f"{verb} access")


def start_session(workspace_id: str, **fields: Any) -> Request:
    body = _some(**fields)
    return Request("POST", f"/api/workspaces/{workspace_id}/sessions", body, "start session")


def add_repo(workspace_id: str, source: str, name: str | None = None) -> Request:
    body = _some(source=source, name=name)
    return Request("POST", f"/api/workspaces/{workspace_id}/repos", body, f"add repo {source}")


def add_member(workspace_id: str, name: str, role: str) -> Request:
    body = {"name": name, "role": role}
    return Request("POST", f"/api/workspaces/{workspace_id}/members", body, f"add {name}")


def set_role(workspace_id: str, user_id: str, role: str) -> Request:
    path = f"/api/workspaces/{workspace_id}/members/{user_id}"
    return Request("PATCH", path, {"role": role}, f"make {role}")


def remove_member(workspace_id: str, user_id: str) -> Request:
    path = f"/api/workspaces/{workspace_id}/members/{user_id}"
    return Request("DELETE", path, None, "remove member")


def _some(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None and v != ""}
