"""``trace notify``: where your inbox is sent (any Apprise URL), for which events, when not."""

from __future__ import annotations

import argparse
from typing import Any

from trace_sync.cli.client import add_connection_options, connect
from trace_sync.cli.output import show

PATH = "/api/me/notify"
COLUMNS = ["id", "hint", "events", "quiet", "timezone"]


def register(commands: Any) -> None:
    notify = commands.add_parser("notify", help="send what needs you to ntfy, Slack, e-mail...")
    sub = notify.add_subparsers(dest="notify_command", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="add a destination (an Apprise URL, e.g. ntfys://host/topic)")
    add.add_argument("url")
    add.add_argument(
        "--events", help="comma-separated: approval,question,failed,... (default: all)"
    )
    add.add_argument("--quiet", help="quiet hours, HH:MM-HH:MM (nothing is sent then)")
    add.add_argument("--timezone", default="UTC", help="the quiet hours' time zone")
    listing = sub.add_parser("list", help="your destinations (their secrets masked)")
    remove = sub.add_parser("remove", help="stop sending to a destination")
    test = sub.add_parser("test", help="send a test notification now")
    for parser in (remove, test):
        parser.add_argument("id", help="destination id (`trace notify list`)")
    for parser, run in (
        (add, run_add),
        (listing, run_list),
        (remove, run_remove),
        (test, run_test),
    ):
        add_connection_options(parser)
        parser.set_defaults(run=run)


def run_add(args: argparse.Namespace) -> None:
    events = [e.strip() for e in (args.events or "").split(",") if e.strip()]
    body = {"url": args.url, "events": events, "quiet": args.quiet, "timezone": args.timezone}
    added = connect(args).post(PATH, body)
    show([_row(added)], COLUMNS, args.json)


def run_list(args: argparse.Namespace) -> None:
    found = connect(args).get(PATH)["items"]
    show([_row(d) for d in found], COLUMNS, args.json)


def run_remove(args: argparse.Namespace) -> None:
    connect(args).delete(f"{PATH}/{args.id}")
    if not args.json:
        print(f"removed {args.id}")


def run_test(args: argparse.Namespace) -> None:
    connect(args).post(f"{PATH}/{args.id}/test")
    if not args.json:
        print(f"sent a test notification to {args.id}")


def _row(destination: dict[str, Any]) -> dict[str, Any]:
    return destination | {"events": ",".join(destination["events"]) or "all"}
