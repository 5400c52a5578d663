"""Who may type into a session's terminals, as far as the app can tell.

The server decides (ARCHITECTURE.md §5): a person with a writing role who owns
the runtime hosting the session, or holds an approved, unexpired grant with
``terminal`` for that session (or every session) on it. The app asks the same
question only to offer the right thing: an input, a way to ask for access,
or nothing for a viewer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from trace_sync.client.api import ApiClient
from trace_sync.contract.errors import NotFound
from trace_sync.docs import entries as e

Access = Literal["yours", "granted", "asked", "ask", "viewer", "no runtime"]
#: The answers that let a person type.
TYPING: tuple[Access, ...] = ("yours", "granted")


async def terminal_access(
    api: ApiClient, user_id: str, role: str, sid: str, runtime: e.RuntimeEntry | None
) -> Access:
    """``runtime``: the hosting bridge as the workspace document lists it."""
    if role == "viewer":
        return "viewer"
    if runtime is None:
        return "no runtime"
    if runtime.owner_id == user_id:
        return "yours"
    try:
        grants = await api.all(f"/api/runtimes/{runtime.id}/grants")
    except NotFound:
        return "no runtime"
    mine = [g for g in grants if g["grantee_id"] == user_id and _covers(g, sid)]
    if any(g["state"] == "approved" and not _expired(g) for g in mine):
        return "granted"
    return "asked" if any(g["state"] == "pending" for g in mine) else "ask"


def _covers(grant: dict[str, Any], sid: str) -> bool:
    return "terminal" in grant["capabilities"] and grant.get("session_id") in (None, sid)


def _expired(grant: dict[str, Any]) -> bool:
    expires = grant.get("expires_at")
    return expires is not None and datetime.fromisoformat(expires) <= datetime.now(UTC)


async def session_bridges(
    api: ApiClient, user_id: str, sid: str, known: dict[str, e.RuntimeEntry]
) -> list[e.RuntimeEntry]:
    """The online bridges ``user_id`` may run session ``sid`` on: their own, and
    others' on which they hold an approved, unexpired ``session`` grant."""
    usable = []
    for runtime in known.values():
        if not runtime.online:
            continue
        if runtime.owner_id == user_id or await _granted(api, user_id, sid, runtime.id):
            usable.append(runtime)
    return usable


async def _granted(api: ApiClient, user_id: str, sid: str, runtime_id: str) -> bool:
    try:
        grants = await api.all(f"/api/runtimes/{runtime_id}/grants")
    except NotFound:
        return False
    return any(
        g["grantee_id"] == user_id
        and "session" in g["capabilities"]
        and g.get("session_id") in (None, sid)
        and g["state"] == "approved"
        and not _expired(g)
        for g in grants
    )
