"""``trace runtime``: the bridges you may use, and access to them (grants)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from trace_sync.cli.client import add_connection_options, connect
from trace_sync.cli.output import show

if TYPE_CHECKING:
    from trace_sync.client.blocking import BlockingApiClient

GRANT_COLUMNS = ["id", "grantee_id", "capabilities", "session_id", "state", "expires_at"]


def register(commands: Any) -> None:
    runtime = commands.add_parser("runtime", help="runtimes (bridges) and who may use them")
    sub = runtime.add_subparsers(dest="runtime_command", required=True, metavar="ACTION")
    _action(sub, "list", "runtimes you may use", run_list)
    grants = _action(sub, "grants", "grants on a runtime (owners see all)", run_grants)
    grants.add_argument("runtime", help="runtime id or name")
    grant = _action(sub, "grant", "ask a runtime's owner for access", run_request)
    grant.add_argument("runtime", help="runtime id or name")
    grant.add_argument(
        "--capability",
        action="append",
        choices=["session", "terminal"],
        help="run sessions, type into terminals (repeat for both; default: session)",
    )
    grant.add_argument("--session", help="only for this session (default: all sessions)")
    grant.add_argument("--expires", help="ISO time with zone when it ends")
    for verb, help_text in [
        ("approve", "approve a grant (the runtime's owner)"),
        ("deny", "deny a grant (the runtime's owner)"),
        ("revoke", "revoke a grant (closes the grantee's terminals)"),
    ]:
        parser = _action(sub, verb, help_text, run_decide)
        parser.add_argument("grant", help="grant id")
        parser.set_defaults(verb=verb)


def _action(sub: Any, name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    add_connection_options(parser)
    parser.set_defaults(run=run)
    return parser


def run_list(args: argparse.Namespace) -> None:
    runtimes = list(connect(args).items("/api/runtimes"))
    if args.json:
        show(runtimes, [], as_json=True)
        return
    rows = [
        r | {"tools": ",".join(t["name"] for t in r["tools"] if t["available"])} for r in runtimes
    ]
    show(rows, ["id", "name", "kind", "owner_id", "online", "last_seen_at", "tools"], False)


def _tools(runtime: dict[str, Any]) -> str:
    return ",".join(t["name"] for t in runtime["tools"] if t["available"])


def run_grants(args: argparse.Namespace) -> None:
    client = connect(args)
    grants = list(client.items(f"/api/runtimes/{_runtime(client, args.runtime)}/grants"))
    show(_readable(grants, args.json), GRANT_COLUMNS, args.json)


def run_request(args: argparse.Namespace) -> None:
    client = connect(args)
    body: dict[str, Any] = {"capabilities": sorted(set(args.capability or ["session"]))}
    if args.session:
        body["session_id"] = args.session
    if args.expires:
        body["expires_at"] = args.expires
    grant = client.post(f"/api/runtimes/{_runtime(client, args.runtime)}/grants", body)
    show(_readable([grant], args.json), GRANT_COLUMNS, args.json)
    if not args.json:
        print(f"the runtime's owner approves it: trace runtime approve {grant['id']}")


def run_decide(args: argparse.Namespace) -> None:
    grant = connect(args).post(f"/api/grants/{args.grant}/{args.verb}")
    show(_readable([grant], args.json), GRANT_COLUMNS + ["decided_by"], args.json)


def _readable(grants: list[dict[str, Any]], as_json: bool) -> list[dict[str, Any]]:
    if as_json:
        return grants
    return [g | {"capabilities": ",".join(g["capabilities"])} for g in grants]


def _runtime(client: BlockingApiClient, ref: str) -> str:
    """The id of the runtime named ``ref``; else ``ref`` itself, as an id (a
    workspace member's runtime is listed to others only once they ask for it)."""
    for runtime in client.items("/api/runtimes"):
        if ref in (runtime["id"], runtime["name"]):
            return str(runtime["id"])
    return ref
