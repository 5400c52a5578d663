"""The ``trace`` command line: ``serve`` runs the server; everything else talks
to a running server over its HTTP API."""

from __future__ import annotations

import argparse
import sys

from trace_sync.cli import accounts, app, repos, serve, sessions
from trace_sync.cli.client import CliError
from trace_sync.errors import TraceError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trace", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.register(commands)
    accounts.register(commands)
    repos.register(commands)
    sessions.register(commands)
    app.register(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (CliError, TraceError) as exc:
        print(f"trace: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
