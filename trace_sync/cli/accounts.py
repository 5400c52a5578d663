"""``trace token`` and ``trace user``: tokens, users and their roles."""

from __future__ import annotations

import argparse
from typing import Any

from trace_sync.cli.client import add_connection_options, connect, workspace_of
from trace_sync.cli.output import show
from trace_sync.contract.roles import Role

ROLES = [r.value for r in Role]


def register(commands: Any) -> None:
    _register_token(commands)
    _register_user(commands)


def _register_token(commands: Any) -> None:
    token = commands.add_parser("token", help="print your token and a sign-in link; manage tokens")
    add_connection_options(token)
    token.set_defaults(run=print_token)
    sub = token.add_subparsers(dest="token_command", metavar="ACTION")
    listing = sub.add_parser("list", help="your tokens")
    add_connection_options(listing)
    listing.set_defaults(run=list_tokens)
    revoke = sub.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id")
    add_connection_options(revoke)
    revoke.set_defaults(run=revoke_token)


def _register_user(commands: Any) -> None:
    user = commands.add_parser("user", help="add and list users")
    sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = sub.add_parser(
        "add", help="create an account in a workspace and print its token (instance admins)"
    )
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="member")
    add.add_argument(
        "--instance-admin",
        action="store_true",
        help="the new user may also connect server directories, create accounts"
        " and revoke any token",
    )
    add.add_argument("--workspace", help="workspace id (default: your first workspace)")
    add_connection_options(add)
    add.set_defaults(run=add_user)
    listing = sub.add_parser("list", help="members of a workspace and their roles")
    listing.add_argument("--workspace", help="workspace id (default: your first workspace)")
    add_connection_options(listing)
    listing.set_defaults(run=list_users)


def print_token(args: argparse.Namespace) -> None:
    client = connect(args)
    link = client.post("/api/signin-links")["url"]
    if args.json:
        show([{"token": client.token, "sign_in_url": link}], [], as_json=True)
        return
    print(f"token:   {client.token}\nsign in: {link}  (one-time link)")


def list_tokens(args: argparse.Namespace) -> None:
    tokens = list(connect(args).items("/api/tokens"))
    show(tokens, ["id", "label", "kind", "created_at", "last_used_at", "revoked_at"], args.json)


def revoke_token(args: argparse.Namespace) -> None:
    record = connect(args).post(f"/api/tokens/{args.token_id}/revoke")
    show([record], ["id", "label", "revoked_at"], args.json)


def add_user(args: argparse.Namespace) -> None:
    client = connect(args)
    path = f"/api/workspaces/{workspace_of(client, args.workspace)}/members"
    body = {"name": args.name, "role": args.role, "instance_admin": args.instance_admin}
    created = client.post(path, body)
    if args.json:
        show([created], [], as_json=True)
        return
    print(f"added {created['user']['name']} as {created['role']}")
    print(f"token (shown once): {created['token']}")


def list_users(args: argparse.Namespace) -> None:
    client = connect(args)
    members = client.items(f"/api/workspaces/{workspace_of(client, args.workspace)}/members")
    rows = [{"id": m["user"]["id"], "name": m["user"]["name"], "role": m["role"]} for m in members]
    show(rows, ["id", "name", "role"], args.json)
