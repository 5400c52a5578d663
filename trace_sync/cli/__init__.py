"""The ``trace`` command line: ``serve`` runs the server; everything else talks
to a running server over its HTTP API."""

from __future__ import annotations

import argparse
import os
import sys

from trace_sync.cli import (
    accounts,
    app,
    bridge,
    budgets,
    inbox,
    members,
    notify,
    repos,
    runtimes,
    serve,
    sessions,
    usage,
    workspaces,
)
from trace_sync.cli.client import CliError
from trace_sync.contract.errors import TraceError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trace", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.register(commands)
    accounts.register(commands)
    workspaces.register(commands)
    repos.register(commands)
    sessions.register(commands)
    members.register(commands)
    runtimes.register(commands)
    usage.register(commands)
    inbox.register(commands)
    notify.register(commands)
    budgets.register(commands)
    app.register(commands)
    bridge.register(commands)
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
    except BrokenPipeError:  # the reader left (`trace session watch --json | head`)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the flush at exit does not fail again
        sys.exit(141)
