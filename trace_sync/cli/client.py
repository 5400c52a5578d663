"""How CLI commands reach the server: connection options and the shared client."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trace_sync.client.blocking import BlockingApiClient


class CliError(Exception):
    """Something the person at the terminal must fix; printed without a traceback."""


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", help="server URL (default: $TRACE_URL or the local server)")
    parser.add_argument("--token", help="API token (default: $TRACE_TOKEN or the local token)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def connect(args: argparse.Namespace) -> BlockingApiClient:
    """The API client for ``--server``/``--token``, or the local server."""
    # Imported here: it loads httpx and asyncio, which ``--help`` does without.
    from trace_sync.client.blocking import BlockingApiClient

    return BlockingApiClient.local(args.server, args.token)


def workspace_of(client: BlockingApiClient, chosen: str | None) -> str:
    """``--workspace`` if given, else the caller's first workspace."""
    if chosen:
        return chosen
    workspaces = client.get("/api/me")["workspaces"]
    if not workspaces:
        raise CliError("you are not a member of any workspace; pass --workspace")
    return str(workspaces[0]["id"])
