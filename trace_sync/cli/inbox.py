"""``trace inbox``: what needs you across workspaces; mark it read; follow sessions."""

from __future__ import annotations

import argparse
from typing import Any

from trace_sync.cli.client import add_connection_options, connect
from trace_sync.cli.output import show

COLUMNS = ["id", "kind", "session_id", "title", "body", "new"]


def register(commands: Any) -> None:
    inbox = commands.add_parser("inbox", help="what needs you: approvals, questions, failures")
    sub = inbox.add_subparsers(dest="inbox_command", metavar="ACTION")
    listing = sub.add_parser("list", help="your items, newest first (the default)")
    read = sub.add_parser("read", help="mark items read on all your devices")
    read.add_argument("ids", nargs="*", type=int, help="item ids (default: all)")
    follow = sub.add_parser("follow", help="hear of a session's finished turns and failures")
    follow.add_argument("session", help="session id")
    follow.add_argument("--off", action="store_true", help="stop following it")
    for parser in (inbox, listing):
        parser.add_argument("--unread", action="store_true", help="only items not read yet")
        parser.add_argument("--all", action="store_true", help="also items that need nothing more")
        parser.add_argument("--limit", type=int, default=50)
    for parser, run in (
        (inbox, run_list),
        (listing, run_list),
        (read, run_read),
        (follow, run_follow),
    ):
        add_connection_options(parser)
        parser.set_defaults(run=run)


def run_list(args: argparse.Namespace) -> None:
    client = connect(args)
    query = {"unread": str(args.unread).lower(), "all": str(args.all).lower()}
    page = client.get("/api/inbox", limit=args.limit, **query)
    if args.json:
        show(page["items"], [], as_json=True)
        return
    rows = [item | {"new": "" if item["read"] else "*"} for item in page["items"]]
    show(rows, COLUMNS, False)
    print(f"{page['unread']} unread")


def run_read(args: argparse.Namespace) -> None:
    client = connect(args)
    done = client.post("/api/inbox/read", {"ids": args.ids or None})
    if args.json:
        show([done], [], as_json=True)
    else:
        print(f"marked {done['marked']} read; {done['unread']} unread")


def run_follow(args: argparse.Namespace) -> None:
    client = connect(args)
    client.post(f"/api/sessions/{args.session}/follow", {"follow": not args.off})
    if not args.json:
        print(f"{'stopped following' if args.off else 'following'} {args.session}")
