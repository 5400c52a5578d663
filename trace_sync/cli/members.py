"""``trace member``: a workspace's members and their roles."""

from __future__ import annotations

import argparse
from typing import Any

from trace_sync.cli.accounts import list_users
from trace_sync.cli.client import CliError, add_connection_options, connect, workspace_of
from trace_sync.cli.output import show
from trace_sync.contract.roles import Role


def register(commands: Any) -> None:
    member = commands.add_parser("member", help="a workspace's members and their roles")
    sub = member.add_subparsers(dest="member_command", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="members and roles (as `trace user list`)")
    role = sub.add_parser("role", help="change a member's role (admins; owners for owners)")
    role.add_argument("user", help="user name or id")
    role.add_argument("role", choices=[r.value for r in Role])
    for parser, run in ((listing, list_users), (role, set_role)):
        parser.add_argument("--workspace", help="workspace id (default: your first workspace)")
        add_connection_options(parser)
        parser.set_defaults(run=run)


def set_role(args: argparse.Namespace) -> None:
    client = connect(args)
    wid = workspace_of(client, args.workspace)
    for member in client.items(f"/api/workspaces/{wid}/members"):
        if args.user in (member["user"]["id"], member["user"]["name"]):
            changed = client.patch(
                f"/api/workspaces/{wid}/members/{member['user']['id']}", {"role": args.role}
            )
            row = {"id": changed["user"]["id"], "name": changed["user"]["name"]}
            show([row | {"role": changed["role"]}], ["id", "name", "role"], args.json)
            return
    raise CliError(f"{args.user} is not a member of this workspace (`trace member list`)")
