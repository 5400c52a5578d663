"""The session list, repos and members of a workspace, as the views draw them.

The workspace document (synced, so live and kept offline) is the main
source; sessions the API listed besides (private ones, which that document
leaves out) are merged in by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
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
    "interrupted": "interrupted",
    "archived": "archived",
}
FILTERS: dict[str, tuple[str, ...]] = {
    "active": ("created", "starting", "running", "waiting_approval", "waiting_input", "idle"),
    "needs me": ("waiting_approval", "waiting_input"),
    "paused": ("paused", "stopped"),
    "failed": ("failed", "interrupted"),
    "archived": ("archived",),
    "all": tuple(STATUS_LABELS),
}
ATTENTION = ("waiting_approval", "waiting_input")


@dataclass(frozen=True)
class SessionListRow:
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
    repo_id: str = ""
    permission_mode: str = "ask"
    lines_added: int = 0
    lines_removed: int = 0
    #: Why a starting session has no runtime yet (None: it is not waiting for one).
    waiting_reason: str | None = None
    #: Its pull request: number, state (open, merged, closed) and checks in one word.
    pr_number: int | None = None
    pr_state: str | None = None
    pr_checks: str | None = None

    @property
    def needs_attention(self) -> bool:
        return self.status in ATTENTION

    @property
    def waiting_for_runtime(self) -> bool:
        return self.waiting_reason is not None and self.status in ("created", "starting")


def session_rows(doc: Doc[Any], listed: list[dict[str, Any]]) -> list[SessionListRow]:
    """Every session, most recent activity first."""
    rows = {row.id: row for row in map(_from_api, listed)}
    for sid, summary in typed.read_map(doc, WORKSPACE, "sessions").items():
        if isinstance(summary, e.SessionSummary):
            known = rows.get(sid)
            rows[sid] = _from_summary(sid, summary, private=bool(known and known.private))
    return sorted(rows.values(), key=lambda r: (r.last_activity, r.id), reverse=True)


def select(
    rows: list[SessionListRow], filter_name: str = "all", query: str = ""
) -> list[SessionListRow]:
    """The rows a filter chip and a search box let through (search: title, branch, tool, id)."""
    statuses = FILTERS.get(filter_name, FILTERS["all"])
    words = query.lower().split()
    return [
        row
        for row in rows
        if row.status in statuses
        and all(w in f"{row.title} {row.branch or ''} {row.tool} {row.id}".lower() for w in words)
    ]


def total_cost(rows: list[SessionListRow]) -> tuple[float, bool]:
    """The cost of ``rows`` and whether any part of it is an estimate."""
    return sum(r.cost_usd for r in rows), any(r.cost_estimated for r in rows)


def attention_text(rows: list[SessionListRow]) -> str:
    """One line naming every session in ``rows`` and what it waits for."""
    approval = [f"“{r.title}”" for r in rows if r.status == "waiting_approval"]
    answer = [f"“{r.title}”" for r in rows if r.status != "waiting_approval"]
    parts = [
        f"{_and(names)} {'needs' if len(names) == 1 else 'need'} your {what}"
        for names, what in ((approval, "approval"), (answer, "input"))
        if names
    ]
    return "; ".join(parts)


def ago(stamp: str, now: datetime | None = None) -> str:
    """``stamp`` (ISO 8601) as a person reads it: "just now", "3 min ago", "2 d ago"."""
    try:
        then = datetime.fromisoformat(stamp)
    except ValueError:
        return ""
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = ((now or datetime.now(UTC)) - then).total_seconds()
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def diff_stat(row: SessionListRow) -> str:
    """Lines added and removed ("+12 −3", a no-break space between: never split over
    two lines), or "" for a session that changed nothing yet."""
    if not (row.lines_added or row.lines_removed):
        return ""
    return f"+{row.lines_added}\u00a0−{row.lines_removed}"


#: How a pull request's checks read in a list row.
CHECKS_SAID = {"success": "checks passed", "failure": "checks failed", "pending": "checks running"}


def pull_chip(row: SessionListRow) -> str:
    """``PR #12 open`` (`` · checks failed`` when it has checks), or "" without one."""
    if row.pr_number is None:
        return ""
    said = f"PR #{row.pr_number} {row.pr_state or ''}".rstrip()
    checks = CHECKS_SAID.get(row.pr_checks or "")
    return f"{said} · {checks}" if checks else said


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


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


def grant_steps(doc: Doc[Any], since: int) -> tuple[int, bool]:
    """The timeline's length, and whether a grant was asked for or decided
    after entry ``since`` (grants live in the API; their steps are on the timeline)."""
    timeline = typed.root_of(doc, WORKSPACE, "timeline")
    length = len(timeline)
    newer = (timeline[i] for i in range(min(since, length), length))
    return length, any(str(dict(entry).get("kind", "")).startswith("grant.") for entry in newer)


def workspace_name(doc: Doc[Any], fallback: str) -> str:
    name = typed.root_of(doc, WORKSPACE, "meta").get("name")
    return str(name) if name else fallback


def _from_summary(sid: str, s: e.SessionSummary, private: bool) -> SessionListRow:
    return SessionListRow(
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
        s.repo_id,
        s.permission_mode,
        s.lines_added,
        s.lines_removed,
        s.waiting_reason,
        s.pr_number,
        s.pr_state,
        s.pr_checks,
    )


def _from_api(s: dict[str, Any]) -> SessionListRow:
    return SessionListRow(
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
        str(s.get("repo_id") or ""),
        str(s.get("permission_mode") or "ask"),
        int(s.get("lines_added") or 0),
        int(s.get("lines_removed") or 0),
        pr_number=s.get("pr_number"),
        pr_state=s.get("pr_state"),
        pr_checks=s.get("pr_checks"),
    )
