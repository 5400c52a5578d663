"""``trace repo``: connect, list and remove the repositories sessions run on."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trace_sync.cli.client import CliError, add_connection_options, connect, workspace_of
from trace_sync.cli.output import show
from trace_sync.contract.errors import InvalidInput
from trace_sync.contract.repo_urls import kind_of

if TYPE_CHECKING:
    from trace_sync.client.blocking import BlockingApiClient

COLUMNS = ["id", "name", "default_branch", "source"]


def register(commands: Any) -> None:
    repo = commands.add_parser("repo", help="connect, list and remove repositories")
    sub = repo.add_subparsers(dest="repo_command", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="connect a local checkout or clone a git URL")
    add.add_argument("source", metavar="PATH|URL")
    add.add_argument("--name", help="name in Trace (default: the directory or URL's name)")
    listing = sub.add_parser("list", help="the workspace's repositories")
    remove = sub.add_parser("remove", help="disconnect a repository no session uses")
    remove.add_argument("repo", metavar="REPO", help="id, name or local path")
    setup = sub.add_parser("setup", help="what each new worktree gets before its tool starts")
    setup.add_argument("repo", metavar="REPO", help="id, name or local path")
    setup.add_argument(
        "--copy", action="append", default=[], metavar="GLOB", help="git-ignored files (.env)"
    )
    setup.add_argument("--command", help="a command run in the new worktree (npm ci)")
    setup.add_argument(
        "--update",
        choices=["merge", "rebase"],
        default="merge",
        help="how `session update` takes in the base branch (default: merge)",
    )
    setup.add_argument("--forge", choices=["github", "gitlab", "gitea"], help="a self-hosted forge")
    setup.add_argument("--forge-url", help="the forge's API root (https://git.example.com/api/v1)")
    parsers = ((add, add_repo), (listing, list_repos), (remove, remove_repo), (setup, set_setup))
    for parser, run in parsers:
        parser.add_argument("--workspace", help="workspace id (default: your first workspace)")
        add_connection_options(parser)
        parser.set_defaults(run=run)


def add_repo(args: argparse.Namespace) -> None:
    client = connect(args)
    source = _source(args.source)
    body = {"source": source} | ({"name": args.name} if args.name else {})
    repo = client.post(f"/api/workspaces/{workspace_of(client, args.workspace)}/repos", body)
    show([repo], COLUMNS, args.json)


def _source(raw: str) -> str:
    """URLs as given; a path made absolute (the server resolves nothing relative)."""
    try:
        remote = kind_of(raw) == "remote"
    except InvalidInput:
        return raw  # the server says why it refuses it
    return raw if remote or "://" in raw else str(Path(raw).resolve())


def list_repos(args: argparse.Namespace) -> None:
    client = connect(args)
    repos = client.items(f"/api/workspaces/{workspace_of(client, args.workspace)}/repos")
    show(list(repos), COLUMNS, args.json)


def remove_repo(args: argparse.Namespace) -> None:
    client = connect(args)
    wid = workspace_of(client, args.workspace)
    repo = find_repo(client, wid, args.repo)
    client.delete(f"/api/workspaces/{wid}/repos/{repo['id']}")
    if args.json:
        show([repo], [], as_json=True)
    else:
        print(f"removed {repo['name']} ({repo['id']})")


def set_setup(args: argparse.Namespace) -> None:
    client = connect(args)
    wid = workspace_of(client, args.workspace)
    repo = find_repo(client, wid, args.repo)
    body = {"copy_files": args.copy, "command": args.command, "update_mode": args.update}
    body |= {"forge": args.forge, "forge_url": args.forge_url}
    repo = client.put(f"/api/workspaces/{wid}/repos/{repo['id']}/setup", body)
    if args.json:
        show([repo], [], as_json=True)
        return
    setup = repo["setup"]
    copied = ", ".join(setup["copy_files"]) or "nothing"
    runs = setup["command"] or "no command"
    print(f"{repo['name']}: copies {copied}; runs {runs}; updates by {setup['update_mode']}")


def find_repo(client: BlockingApiClient, workspace_id: str, ref: str) -> dict[str, Any]:
    """The repo whose id, name, source or checkout path is ``ref`` (a path may be relative)."""
    local = Path(ref).expanduser()
    path = str(local.resolve()) if local.exists() else None
    for repo in client.items(f"/api/workspaces/{workspace_id}/repos"):
        if ref in (repo["id"], repo["name"], repo["source"]) or path in (
            repo["source"],
            repo["path"],
        ):
            return dict(repo)
    raise CliError(f"no repo {ref!r} here: `trace repo list` shows them, `trace repo add` adds one")
