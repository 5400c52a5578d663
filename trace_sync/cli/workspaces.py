"""``trace workspace``: invite people to a workspace, and join one."""

from __future__ import annotations

import argparse
from typing import Any

from trace_sync.cli import secrets
from trace_sync.cli.client import add_connection_options, connect, workspace_of
from trace_sync.cli.output import show
from trace_sync.contract.roles import Role

ROLES = [r.value for r in Role]


def register(commands: Any) -> None:
    workspace = commands.add_parser("workspace", help="invite people; join or rename a workspace")
    sub = workspace.add_subparsers(dest="workspace_command", required=True, metavar="ACTION")
    invite = sub.add_parser("invite", help="a one-time code to join a workspace (admins)")
    invite.add_argument("--role", choices=ROLES, default="member")
    invite.add_argument("--workspace", help="workspace id (default: your first workspace)")
    add_connection_options(invite)
    invite.set_defaults(run=invite_someone)
    join = sub.add_parser("join", help="accept an invitation code")
    join.add_argument("code")
    add_connection_options(join)
    join.set_defaults(run=join_workspace)
    rename = sub.add_parser("rename", help="rename a workspace (admins)")
    rename.add_argument("name")
    rename.add_argument("--workspace", help="workspace id (default: your first workspace)")
    add_connection_options(rename)
    rename.set_defaults(run=rename_workspace)
    secrets.register(sub)


def invite_someone(args: argparse.Namespace) -> None:
    client = connect(args)
    path = f"/api/workspaces/{workspace_of(client, args.workspace)}/invitations"
    invitation = client.post(path, {"role": args.role})
    if args.json:
        show([invitation], [], as_json=True)
        return
    print(f"invitation as {invitation['role']}, good once until {invitation['expires_at']}")
    print(f"they run: trace workspace join {invitation['code']}")


def join_workspace(args: argparse.Namespace) -> None:
    joined = connect(args).post(f"/api/invitations/{args.code}/accept")
    show([joined], ["id", "name", "role"], args.json)


def rename_workspace(args: argparse.Namespace) -> None:
    client = connect(args)
    renamed = client.patch(
        f"/api/workspaces/{workspace_of(client, args.workspace)}", {"name": args.name}
    )
    show([renamed], ["id", "name", "role"], args.json)
