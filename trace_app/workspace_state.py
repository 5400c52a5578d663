"""The session list, repos and members of a workspace, as the views draw them.

The workspace document (synced, so live and kept offline) is the main
source; sessions the API listed besides (private ones, which that document
leaves out) are merged in by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pycrdt import Doc

from trace_sync.docs import entries as e
from trace_sync.docs import typed
from trace_sync.docs.layouts import WORKSPACE

#: Status -> label and the group a filter chip selects.
STATUS_LABELS: dict[str, str] = {
    "created": "created",
    "starting": "starting",
    "running": "running",
    "waiting_approval": "waiting for approval",
    "waiting_input": "waiting for input",
    "idle": "idle",
    "paused": "paused",
    "stopped": "stopped",
    "failed": "failed",
    "archived": "archived",
}
FILTERS: dict[str, tuple[str, ...]] = {
    "active": ("created", "starting", "running", "waiting_approval", "waiting_input", "idle"),
    "needs me": ("waiting_approval", "waiting_input"),
    "paused": ("paused", "stopped"),
    "failed": ("failed",),
    "archived": ("archived",),
    "all": tuple(STATUS_LABELS),
}
ATTENTION = ("waiting_approval", "waiting_input")


@dataclass(frozen=True)
class SessionRow:
    id: str
    title: str
    status: str
    tool: str
    branch: str | None
    owner_id: str
    last_activity: str
    cost_usd: float
    cost_estimated: bool
    private: bool = False

    @property
    def needs_attention(self) -> bool:
        return self.status in ATTENTION


def session_rows(doc: Doc[Any], listed: list[dict[str, Any]]) -> list[SessionRow]:
    """Every session, most recent activity first."""
    rows = {row.id: row for row in map(_from_api, listed)}
    for sid, summary in typed.read_map(doc, WORKSPACE, "sessions").items():
        if isinstance(summary, e.SessionSummary):
            known = rows.get(sid)
            rows[sid] = _from_summary(sid, summary, private=bool(known and known.private))
    return sorted(rows.values(), key=lambda r: (r.last_activity, r.id), reverse=True)


def select(rows: list[SessionRow], filter_name: str = "all", query: str = "") -> list[SessionRow]:
    """The rows a filter chip and a search box let through (search: title, branch, tool, id)."""
    statuses = FILTERS.get(filter_name, FILTERS["all"])
    words = query.lower().split()
    return [
        row
        for row in rows
        if row.status in statuses
        and all(w in f"{row.title} {row.branch or ''} {row.tool} {row.id}".lower() for w in words)
    ]


def total_cost(rows: list[SessionRow]) -> tuple[float, bool]:
    """The cost of ``rows`` and whether any part of it is an estimate."""
    return sum(r.cost_usd for r in rows), any(r.cost_estimated for r in rows)


def repos(doc: Doc[Any]) -> list[e.RepoEntry]:
    values = typed.read_map(doc, WORKSPACE, "repos").values()
    return sorted((r for r in values if isinstance(r, e.RepoEntry)), key=lambda r: r.name)


def members(doc: Doc[Any]) -> dict[str, e.MemberEntry]:
    return {
        uid: m
        for uid, m in typed.read_map(doc, WORKSPACE, "members").items()
        if isinstance(m, e.MemberEntry)
    }


def runtimes(doc: Doc[Any]) -> dict[str, e.RuntimeEntry]:
    """Members' bridges, by runtime id."""
    values = typed.read_map(doc, WORKSPACE, "runtimes").items()
    return {rid: r for rid, r in values if isinstance(r, e.RuntimeEntry)}


def workspace_name(doc: Doc[Any], fallback: str) -> str:
    name = typed.root_of(doc, WORKSPACE, "meta").get("name")
    return str(name) if name else fallback


def _from_summary(sid: str, s: e.SessionSummary, private: bool) -> SessionRow:
    return SessionRow(
        sid,
        s.title,
        s.status.value,
        s.tool,
        s.branch,
        s.owner_id,
        s.last_activity.isoformat(),
        s.cost_usd,
        s.cost_estimated,
        private or s.private,
    )


def _from_api(s: dict[str, Any]) -> SessionRow:
    return SessionRow(
        str(s["id"]),
        str(s.get("title") or s["id"]),
        str(s.get("status") or "created"),
        str(s.get("tool") or ""),
        s.get("branch"),
        str(s.get("owner_id") or ""),
        str(s.get("last_activity_at") or s.get("created_at") or ""),
        float(s.get("cost_usd") or 0.0),
        bool(s.get("cost_estimated")),
        bool(s.get("private")),
    )
