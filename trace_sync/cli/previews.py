"""``trace session preview SID [PORT]``: declare the port of a session's dev server
and print your link to it, or show the preview and the ports its processes listen on."""

from __future__ import annotations

import argparse
from typing import Any

from trace_sync.cli.client import add_connection_options, connect
from trace_sync.cli.output import show_one
from trace_sync.contract.errors import NotFound


def register(sub: Any) -> None:
    """Add ``preview`` to ``trace session``'s actions."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "preview", help="open the session's dev server through Trace: declare its port, get a link"
    )
    parser.add_argument("id", help="session id")
    parser.add_argument("port", nargs="?", type=int, help="declare this port (needs a writer)")
    add_connection_options(parser)
    parser.set_defaults(run=run_preview)


def run_preview(args: argparse.Namespace) -> None:
    client = connect(args)
    path = f"/api/sessions/{args.id}/preview"
    if args.port is not None:
        shown = client.put(path, {"port": args.port})
    else:
        try:
            shown = client.get(path)
        except NotFound:
            ports = client.get(f"{path}/ports")["ports"]
            listed = ", ".join(map(str, ports)) or "none yet"
            print(f"{args.id} has no preview; its processes listen on: {listed}")
            print(f"declare one: trace session preview {args.id} PORT")
            return
    if args.json:
        show_one(shown, [], as_json=True)
        return
    print(shown["url"])
    print(f"port {shown['port']}; this link admits you until {shown['expires_at']}")
