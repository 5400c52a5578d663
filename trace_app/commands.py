"""The commands a person gives, as the HTTP requests of the API contract.

Each function returns a :class:`ApiCommand`; the client hands it to the outbox,
which sends it (now or after reconnecting) with an idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from trace_sync.contract.session_spec import SessionSpec

LIFECYCLE = ("pause", "resume", "rerun", "stop", "archive", "restore")
Behavior = Literal["allow", "allow_always", "deny", "answer"]
Mode = Literal["queue", "interrupt"]
GrantVerb = Literal["approve", "deny", "revoke"]


@dataclass(frozen=True)
class ApiCommand:
    method: str
    path: str
    body: dict[str, Any] | None
    label: str
    scope: str | None = None


def lifecycle(sid: str, verb: str) -> ApiCommand:
    if verb not in LIFECYCLE:
        raise ValueError(f"not a session command: {verb!r}")
    return ApiCommand("POST", f"/api/sessions/{sid}/{verb}", None, verb, sid)


def prompt(sid: str, text: str, mode: Mode = "queue") -> ApiCommand:
    label = "interrupt with a prompt" if mode == "interrupt" else "send prompt"
    return ApiCommand(
        "POST", f"/api/sessions/{sid}/prompts", {"text": text, "mode": mode}, label, sid
    )


def fork(sid: str, checkpoint: int | None = None, title: str | None = None) -> ApiCommand:
    body = _some(checkpoint=checkpoint, title=title)
    label = "fork" if checkpoint is None else f"fork from checkpoint {checkpoint}"
    return ApiCommand("POST", f"/api/sessions/{sid}/fork", body, label, sid)


def hand_off(sid: str, owner_id: str) -> ApiCommand:
    return ApiCommand(
        "POST", f"/api/sessions/{sid}/handoff", {"owner_id": owner_id}, "hand off", sid
    )


def restore_checkpoint(sid: str, n: int) -> ApiCommand:
    path = f"/api/sessions/{sid}/checkpoints/{n}/restore"
    return ApiCommand("POST", path, None, f"restore checkpoint {n}", sid)


def push(sid: str) -> ApiCommand:
    return ApiCommand("POST", f"/api/sessions/{sid}/push", None, "push the branch", sid)


def fetch(sid: str) -> ApiCommand:
    return ApiCommand("POST", f"/api/sessions/{sid}/fetch", None, "check the remote", sid)


def update(sid: str, hand_off: bool = False) -> ApiCommand:
    body = {"hand_off": hand_off}
    return ApiCommand("POST", f"/api/sessions/{sid}/update", body, "update from base", sid)


def merge(sid: str, strategy: str = "merge") -> ApiCommand:
    body = {"strategy": strategy}
    return ApiCommand("POST", f"/api/sessions/{sid}/merge", body, f"{strategy} into base", sid)


def open_pull_request(sid: str) -> ApiCommand:
    path = f"/api/sessions/{sid}/pull-request"
    return ApiCommand("POST", path, {}, "open a pull request", sid)


def merge_pull_request(sid: str, method: str = "merge") -> ApiCommand:
    path = f"/api/sessions/{sid}/pull-request/merge"
    return ApiCommand("POST", path, {"method": method}, "merge the pull request", sid)


def decide(
    sid: str, request_id: str, behavior: Behavior, *, message: str = "", answer: str = ""
) -> ApiCommand:
    """Answer an approval request (permission, question or plan)."""
    body = {"behavior": behavior} | _some(message=message or None, answer=answer or None)
    label = {
        "allow": "approve",
        "allow_always": "allow for this session",
        "deny": "deny",
        "answer": "answer",
    }[behavior]
    return ApiCommand("POST", f"/api/sessions/{sid}/approvals/{request_id}", body, label, sid)


def ask_for_access(runtime_id: str, capabilities: list[str], sid: str | None = None) -> ApiCommand:
    """Ask a bridge's owner for access (to run sessions on it, to type into its terminals)."""
    body = {"capabilities": capabilities} | _some(session_id=sid)
    label = f"ask for {' and '.join(capabilities)} access"
    return ApiCommand("POST", f"/api/runtimes/{runtime_id}/grants", body, label, sid)


def decide_grant(grant_id: str, verb: GrantVerb) -> ApiCommand:
    return ApiCommand("POST", f"/api/grants/{grant_id}/{verb}", None, f"{verb} access")


def start_session(workspace_id: str, spec: SessionSpec) -> ApiCommand:
    body = spec.model_dump(mode="json", exclude_none=True)
    return ApiCommand("POST", f"/api/workspaces/{workspace_id}/sessions", body, "start session")


def add_repo(workspace_id: str, source: str, name: str | None = None) -> ApiCommand:
    body = _some(source=source, name=name)
    return ApiCommand("POST", f"/api/workspaces/{workspace_id}/repos", body, f"add repo {source}")


def add_member(workspace_id: str, name: str, role: str) -> ApiCommand:
    body = {"name": name, "role": role}
    return ApiCommand("POST", f"/api/workspaces/{workspace_id}/members", body, f"add {name}")


def set_role(workspace_id: str, user_id: str, role: str) -> ApiCommand:
    path = f"/api/workspaces/{workspace_id}/members/{user_id}"
    return ApiCommand("PATCH", path, {"role": role}, f"make {role}")


def remove_member(workspace_id: str, user_id: str) -> ApiCommand:
    path = f"/api/workspaces/{workspace_id}/members/{user_id}"
    return ApiCommand("DELETE", path, None, "remove member")


def place(sid: str, runtime_id: str, name: str) -> ApiCommand:
    """Run a session on a chosen bridge (yours, or one whose owner granted you sessions)."""
    body = {"runtime_id": runtime_id}
    return ApiCommand("POST", f"/api/sessions/{sid}/runtime", body, f"run on {name}", sid)


def _some(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None and v != ""}
