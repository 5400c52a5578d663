"""``trace budget``: caps in USD and tokens per session and per workspace."""

from __future__ import annotations

import argparse
from typing import Any

from trace_sync.cli.client import add_connection_options, connect, workspace_of
from trace_sync.cli.output import money, show_one


def register(commands: Any) -> None:
    budget = commands.add_parser("budget", help="spending caps: a session pauses at its cap")
    sub = budget.add_subparsers(dest="budget_command", required=True, metavar="ACTION")
    showing = sub.add_parser("show", help="a cap and what was spent against it")
    setting = sub.add_parser("set", help="set a cap (no --usd and no --tokens: remove it)")
    setting.add_argument("--usd", type=float, help="cap in US dollars")
    setting.add_argument("--tokens", type=int, help="cap in tokens (input and output)")
    setting.add_argument(
        "--default", action="store_true", help="the cap new sessions of the workspace start with"
    )
    for parser, run in ((showing, run_show), (setting, run_set)):
        parser.add_argument("--session", help="a session's cap (default: the workspace's)")
        parser.add_argument("--workspace", help="workspace id (default: your first workspace)")
        add_connection_options(parser)
        parser.set_defaults(run=run)


def _path(args: argparse.Namespace, client: Any) -> str:
    if args.session:
        return f"/api/sessions/{args.session}/budget"
    return f"/api/workspaces/{workspace_of(client, args.workspace)}/budget"


def run_show(args: argparse.Namespace) -> None:
    client = connect(args)
    _print(client.get(_path(args, client)), args.json)


def run_set(args: argparse.Namespace) -> None:
    client = connect(args)
    path = _path(args, client) + ("/default" if args.default and not args.session else "")
    _print(client.put(path, {"usd": args.usd, "tokens": args.tokens}), args.json)


def _print(found: dict[str, Any], as_json: bool) -> None:
    if as_json:
        show_one(found, [], as_json=True)
        return
    record = {
        "cap": _cap(found["cap"]),
        "spent": f"{money(found['spent_usd'])}, {found['spent_tokens']:,} tokens",
    }
    if "session_default" in found:
        record["new sessions"] = _cap(found["session_default"])
    show_one(record, list(record), False)


def _cap(cap: dict[str, Any]) -> str:
    parts = [money(cap["usd"])] if cap["usd"] is not None else []
    parts += [f"{cap['tokens']:,} tokens"] if cap["tokens"] is not None else []
    return " or ".join(parts) or "none"
