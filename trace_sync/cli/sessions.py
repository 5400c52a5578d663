"""``trace session``: start, follow and steer sessions over the HTTP API."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from trace_sync.cli import branch, previews, reads
from trace_sync.cli.client import CliError, add_connection_options, connect, workspace_of
from trace_sync.cli.lazy import lazy
from trace_sync.cli.output import show, show_one
from trace_sync.cli.repos import find_repo
from trace_sync.contract import tools
from trace_sync.contract.errors import InvalidInput
from trace_sync.contract.session_status import SessionStatus
from trace_sync.contract.tools import PERMISSION_LABELS, PERMISSION_MODES, TOOL_LABELS, TOOLS

if TYPE_CHECKING:
    from trace_sync.client.blocking import BlockingApiClient

COLUMNS = ["id", "title", "status", "tool", "branch", "pr", "cost_usd", "last_activity_at"]
DETAIL = [
    "id",
    "title",
    "status",
    "reason",
    "tool",
    "model",
    "repo_id",
    "base_branch",
    "branch",
    "location",
    "private",
    "owner_id",
    "creator_id",
    "parent_id",
    "parent_checkpoint",
    "cost_usd",
    "cost_estimated",
    "permission_mode",
    "created_at",
    "last_activity_at",
    "heartbeat_at",
    "cpu_percent",
    "memory_bytes",
    "disk_bytes",
    "lines_added",
    "lines_removed",
    "pr_number",
    "pr_state",
    "pr_checks",
]
STATUSES = [s.value for s in SessionStatus]
LIFECYCLE = {
    "pause": "pause a running session",
    "resume": "resume a paused, stopped, failed or interrupted session",
    "rerun": "run again the prompt a restart cut off (an interrupted session)",
    "stop": "stop a session",
    "archive": "archive a stopped session (history is kept)",
    "restore": "restore an archived session",
}
#: What to do next, printed after a command that changes a session.
NEXT = {
    "start": "follow it: trace session transcript {id} --follow",
    "pause": "resume it: trace session resume {id}",
    "resume": "follow it: trace session transcript {id} --follow",
    "stop": "resume it: trace session resume {id}; archive it: trace session archive {id}",
    "archive": "bring it back: trace session restore {id}",
    "restore": "resume it: trace session resume {id}",
}


def register(commands: Any) -> None:
    session = commands.add_parser("session", help="start, list, follow and steer sessions")
    sub = session.add_subparsers(dest="session_command", required=True, metavar="ACTION")
    start = _action(sub, "start", "start a session", run_start, workspace=True)
    start.add_argument("--repo", required=True, help="repo id, name or local path (added)")
    start.add_argument(
        "--tool",
        required=True,
        choices=TOOLS,
        help="; ".join(f"{name}: {label}" for name, label in TOOL_LABELS.items()),
    )
    start.add_argument("-m", "--prompt", help="the first prompt")
    start.add_argument("--title", help="title (default: the prompt's first line)")
    start.add_argument("--branch", help="base branch (default: the repo's default branch)")
    start.add_argument("--model", help="the tool's model")
    start.add_argument("--private", action="store_true", help="only you and admins see it")
    start.add_argument(
        "--cloud", action="store_true", help="run it on the server's cloud host, not your bridge"
    )
    _permission_mode_option(start, default="ask")
    listing = _action(sub, "list", "sessions you may see, most recent first", run_list, True)
    listing.add_argument(
        "--status",
        action="append",
        type=_statuses,
        metavar="STATUS[,STATUS]",
        help="repeat or separate with commas: " + ", ".join(STATUSES),
    )
    listing.add_argument("--limit", type=int, default=50)
    _action(sub, "show", "a session's facts", run_show).add_argument("id")
    send = _action(sub, "send", "send a prompt (queued while the tool is busy)", run_send)
    send.add_argument("id")
    send.add_argument("text")
    send.add_argument("--interrupt", action="store_true", help="interrupt the current turn")
    for command, help_text in LIFECYCLE.items():
        parser = _action(sub, command, help_text, run_lifecycle)
        parser.add_argument("id")
        parser.set_defaults(command_name=command)
        if command == "restore":
            parser.set_defaults(run=run_restore)
            checkpoint = "bring files and conversation back to this checkpoint"
            parser.add_argument("--checkpoint", type=int, help=checkpoint)
    fork = _action(sub, "fork", "a new session continuing this one", run_fork)
    fork.add_argument("id")
    fork.add_argument("--checkpoint", type=int, help="fork from this checkpoint (default: head)")
    fork.add_argument("--title")
    fork.add_argument("-m", "--prompt")
    fork.add_argument("--model", help="the tool's model (default: the parent's)")
    _permission_mode_option(fork, default=None)
    handoff = _action(sub, "handoff", "give the session to another member", run_handoff)
    handoff.add_argument("id")
    handoff.add_argument("user", help="user name or id")
    rename = _action(sub, "rename", "rename a session", run_rename)
    rename.add_argument("id")
    rename.add_argument("title")
    _action(sub, "delete", "delete a stopped session", run_delete).add_argument("id")
    search = _action(sub, "search", "search titles, prompts and transcripts", run_search, True)
    search.add_argument("query")
    watching = _action(
        sub, "watch", "follow status and transcript live", lazy("trace_sync.cli.watch:run")
    )
    watching.add_argument("id")
    watching.add_argument(
        "--until",
        type=statuses,
        help="exit 0 once the session is in one of these statuses (comma list, e.g. idle,stopped);"
        " exit 1 with the reason if it fails first",
    )
    _register_approvals(sub)
    reads.register(sub)
    branch.register(sub)
    previews.register(sub)


def _permission_mode_option(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument(
        "--permission-mode",
        type=_permission_mode,
        default=default,
        metavar="{" + ",".join(m.replace("_", "-") for m in PERMISSION_MODES) + "}",
        help="; ".join(PERMISSION_LABELS.values())
        + (" (default: ask)" if default else " (default: the parent's)"),
    )


def _permission_mode(value: str) -> str:
    try:
        return tools.permission_mode(value)  # accept-edits, as people type it here
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _register_approvals(sub: Any) -> None:
    listing = _action(sub, "approvals", "what the tool asks and waits for", run_approvals)
    listing.add_argument("id")
    approve = _action(sub, "approve", "allow a pending request", run_approve)
    approve.add_argument("id")
    approve.add_argument("request")
    approve.add_argument("--always", action="store_true", help="also for the rest of the session")
    deny = _action(sub, "deny", "deny a pending request", run_deny)
    deny.add_argument("id")
    deny.add_argument("request")
    deny.add_argument("-m", "--message", help="why (the tool is told)")
    answer = _action(sub, "answer", "answer the tool's open question", run_answer)
    answer.add_argument("id")
    answer.add_argument("text")
    answer.add_argument("--request", help="which question (default: the only open one)")


def statuses(text: str) -> frozenset[str]:
    """``--until idle,stopped``: known statuses only."""
    wanted = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = wanted - {s.value for s in SessionStatus}
    if not wanted or unknown:
        known = ", ".join(s.value for s in SessionStatus)
        raise argparse.ArgumentTypeError(f"not a status: {text!r} (one or more of {known})")
    return wanted


def _action(
    sub: Any, name: str, help_text: str, run: Any, workspace: bool = False
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    if workspace:
        parser.add_argument("--workspace", help="workspace id (default: your first workspace)")
    add_connection_options(parser)
    parser.set_defaults(run=run)
    return parser


def run_start(args: argparse.Namespace) -> None:
    # Imported here: building its pydantic model costs every other command ~70 ms.
    from trace_sync.contract.session_spec import SessionSpec

    client = connect(args)
    wid = workspace_of(client, args.workspace)
    spec = SessionSpec.of(
        repo_id=find_repo(client, wid, args.repo)["id"],
        tool=args.tool,
        prompt=args.prompt,
        title=args.title,
        base_branch=args.branch,
        model=args.model,
        private=args.private,
        location="cloud" if args.cloud else "local",
        permission_mode=args.permission_mode,
    )
    body = spec.model_dump(mode="json", exclude_none=True)
    session = client.post(f"/api/workspaces/{wid}/sessions", body)
    show_one(session, DETAIL, args.json)
    if not args.json:
        print("\n" + NEXT["start"].format(id=session["id"]))


def run_list(args: argparse.Namespace) -> None:
    client = connect(args)
    path = f"/api/workspaces/{workspace_of(client, args.workspace)}/sessions"
    wanted = [status for group in args.status or [] for status in group]
    sessions = list(client.items(path, limit=args.limit, status=wanted or None))
    show(sessions if args.json else [_with_pr(s) for s in sessions], COLUMNS, args.json)


def _with_pr(session: dict[str, Any]) -> dict[str, Any]:
    """The ``pr`` column: ``#12 open`` (`` (checks: failure)`` when it has checks)."""
    if session.get("pr_number") is None:
        return session
    said = f"#{session['pr_number']} {session.get('pr_state')}"
    checks = session.get("pr_checks")
    return session | {"pr": f"{said} (checks: {checks})" if checks else said}


def run_show(args: argparse.Namespace) -> None:
    show_one(connect(args).get(f"/api/sessions/{args.id}"), DETAIL, args.json)


def run_send(args: argparse.Namespace) -> None:
    mode = "interrupt" if args.interrupt else "queue"
    body = {"text": args.text, "mode": mode}
    prompt = connect(args).post(f"/api/sessions/{args.id}/prompts", body)
    show_one(prompt, ["id", "mode", "at"], args.json)


def run_lifecycle(args: argparse.Namespace) -> None:
    session = connect(args).post(f"/api/sessions/{args.id}/{args.command_name}")
    _done(session, args.json)
    if not args.json and args.command_name in NEXT:
        print(NEXT[args.command_name].format(id=session["id"]))


def run_restore(args: argparse.Namespace) -> None:
    """``restore``, or with ``--checkpoint N`` files and conversation back to checkpoint N."""
    if args.checkpoint is None:
        run_lifecycle(args)
        return
    path = f"/api/sessions/{args.id}/checkpoints/{args.checkpoint}/restore"
    answer = connect(args).post(path)
    if args.json:
        show_one(answer, [], as_json=True)
        return
    # The bridge's own sentence: rewound, kept or none, said plainly.
    why = answer.get("why") or "the bridge did not say what became of the conversation"
    print(f"{args.id}: files back at checkpoint {args.checkpoint}; {why}")
    print(f"see what changed since: trace session files {args.id}")


def run_fork(args: argparse.Namespace) -> None:
    body = {
        "checkpoint": args.checkpoint,
        "title": args.title,
        "prompt": args.prompt,
        "model": args.model,
        "permission_mode": args.permission_mode,
    }
    session = connect(args).post(f"/api/sessions/{args.id}/fork", _set(body))
    show_one(session, DETAIL, args.json)


def run_handoff(args: argparse.Namespace) -> None:
    client = connect(args)
    session = client.get(f"/api/sessions/{args.id}")
    owner = _member(client, session["workspace_id"], args.user)
    _done(client.post(f"/api/sessions/{args.id}/handoff", {"owner_id": owner}), args.json)


def run_rename(args: argparse.Namespace) -> None:
    _done(connect(args).patch(f"/api/sessions/{args.id}", {"title": args.title}), args.json)


def run_delete(args: argparse.Namespace) -> None:
    answer = connect(args).delete(f"/api/sessions/{args.id}") or {}
    removed = answer.get("removed") or {}
    if args.json:
        show([{"id": args.id, "deleted": True, "removed": removed}], [], as_json=True)
        return
    print(f"deleted {args.id}")
    if removed.get("state") == "done":
        count = removed.get("checkpoints") or 0
        tree = "worktree removed" if removed.get("worktree") else "no worktree"
        print(f"  {tree}, {count} checkpoint(s) removed, branch {removed.get('branch')}")
    elif removed:
        print(f"  worktree, checkpoints and branch: {removed['state']} ({removed.get('why')})")


def run_search(args: argparse.Namespace) -> None:
    client = connect(args)
    path = f"/api/workspaces/{workspace_of(client, args.workspace)}/search"
    hits = list(client.items(path, q=args.query))
    if args.json:
        show(hits, [], as_json=True)
        return
    rows = [
        {"id": h["session"]["id"], "title": h["session"]["title"], "in": h["kind"]}
        | {"match": h["snippet"]}
        for h in hits
    ]
    show(rows, ["id", "title", "in", "match"], False)


def run_approvals(args: argparse.Namespace) -> None:
    requests = connect(args).get(f"/api/sessions/{args.id}/approvals")["items"]
    if args.json:
        show(requests, [], as_json=True)
        return
    rows = [r | {"asks": _asks(r)} for r in requests]
    show(rows, ["id", "kind", "tool", "asks", "at"], False)


def _asks(request: dict[str, Any]) -> str:
    detail = request["detail"]
    return str(detail.get("command") or detail.get("path") or request["title"])


def run_approve(args: argparse.Namespace) -> None:
    behavior = "allow_always" if args.always else "allow"
    _decided(args, {"behavior": behavior})


def run_deny(args: argparse.Namespace) -> None:
    _decided(args, _set({"behavior": "deny", "message": args.message}))


def _decided(args: argparse.Namespace, body: dict[str, Any]) -> None:
    path = f"/api/sessions/{args.id}/approvals/{args.request}"
    decision = connect(args).post(path, body)
    if args.json:
        show_one(decision, [], as_json=True)
    else:
        print(f"{decision['request_id']}: {decision['behavior']}")


def run_answer(args: argparse.Namespace) -> None:
    body = _set({"text": args.text, "request_id": args.request})
    decision = connect(args).post(f"/api/sessions/{args.id}/answer", body)
    if args.json:
        show_one(decision, [], as_json=True)
    else:
        print(f"{decision['request_id']}: answered")


def _done(session: dict[str, Any], as_json: bool) -> None:
    if as_json:
        show_one(session, [], as_json=True)
    else:
        print(f"{session['id']}  {session['status']}  {session['title']}")


def _member(client: BlockingApiClient, workspace_id: str, user: str) -> str:
    for member in client.items(f"/api/workspaces/{workspace_id}/members"):
        if user in (member["user"]["id"], member["user"]["name"]):
            return str(member["user"]["id"])
    raise CliError(f"{user} is not a member of this workspace (`trace user list` shows them)")


def _statuses(raw: str) -> list[str]:
    chosen = [s.strip() for s in raw.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in STATUSES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"not a status: {raw!r} (one of {', '.join(STATUSES)})")
    return chosen


def _set(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}
