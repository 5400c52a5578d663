"""``trace workspace secret set|list|remove``: a workspace's secrets (admins). A
value is read from stdin, never from the command line (shell history, ps)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trace_sync.cli.client import CliError, add_connection_options, connect, workspace_of
from trace_sync.cli.output import show


def register(sub: Any) -> None:
    """Add ``secret`` to ``trace workspace``'s actions."""
    secret = sub.add_parser("secret", help="set, list or remove a secret (admins)")
    secret.add_argument("verb", choices=["set", "list", "remove"])
    secret.add_argument("name", nargs="?", help="e.g. forge_token or forge_token:github.com")
    secret.add_argument("--workspace", help="workspace id (default: your first workspace)")
    add_connection_options(secret)
    secret.set_defaults(run=run_secret)


def run_secret(args: argparse.Namespace) -> None:
    client = connect(args)
    base = f"/api/workspaces/{workspace_of(client, args.workspace)}/secrets"
    if args.verb == "list":
        show(client.get(base)["items"], ["name", "set_by", "set_at"], args.json)
        return
    if not args.name:
        raise CliError(f"secret {args.verb} needs a NAME")
    if args.verb == "remove":
        client.delete(f"{base}/{args.name}")
        return
    value = sys.stdin.readline().strip()
    if not value:
        raise CliError("give the secret's value on stdin (echo … | trace workspace secret set N)")
    show([client.put(f"{base}/{args.name}", {"value": value})], ["name", "set_at"], args.json)
