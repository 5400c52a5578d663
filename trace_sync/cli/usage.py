"""``trace usage``: cost and tokens of a workspace's sessions per day, member or tool."""

from __future__ import annotations

import argparse
from typing import Any

from trace_sync.cli.client import add_connection_options, connect, workspace_of
from trace_sync.cli.output import show


def register(commands: Any) -> None:
    usage = commands.add_parser("usage", help="cost and tokens per day, member or tool")
    usage.add_argument("--by", choices=["day", "member", "tool"], default="day")
    usage.add_argument("--workspace", help="workspace id (default: your first workspace)")
    add_connection_options(usage)
    usage.set_defaults(run=run_usage)


def run_usage(args: argparse.Namespace) -> None:
    client = connect(args)
    path = f"/api/workspaces/{workspace_of(client, args.workspace)}/usage"
    totals = list(client.items(path, by=args.by))
    if args.json:
        show(totals, [], as_json=True)
        return
    rows = [t | {args.by: t["label"] + ("" if not t["estimated"] else " (est.)")} for t in totals]
    show(rows, [args.by, "sessions", "input_tokens", "output_tokens", "cost_usd"], False)
