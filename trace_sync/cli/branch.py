"""A session's branch from the CLI: ``trace session push|fetch|update|merge|pr``. The
handlers live in :mod:`trace_sync.cli.branch_handlers`, loaded when one runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from trace_sync.cli.client import add_connection_options
from trace_sync.cli.lazy import lazy
from trace_sync.cli.output import quiet_pipe


def register(sub: Any) -> None:
    """Add to ``trace session``'s actions (``sub``, from :mod:`trace_sync.cli.sessions`)."""
    _action(sub, "push", "push the session's branch to its repo's remote", "run_push")
    _action(sub, "fetch", "fetch the session's branch and base from the remote", "run_fetch")
    update = _action(sub, "update", "bring the base branch into the session's branch", "run_update")
    how = update.add_mutually_exclusive_group()
    _choice(how, "--merge", "mode", "merge", "by a merge commit")
    _choice(how, "--rebase", "mode", "rebase", "by replaying the session's commits")
    update.add_argument(
        "--hand-off", action="store_true", help="on conflicts, ask the tool to resolve them"
    )
    merge = _action(sub, "merge", "merge the session's branch into its base branch", "run_merge")
    strategy = merge.add_mutually_exclusive_group()
    _choice(strategy, "--squash", "strategy", "squash", "as one commit")
    _choice(strategy, "--rebase", "strategy", "rebase", "by replaying its commits on the base")
    merge.set_defaults(strategy="merge")
    pr = _action(sub, "pr", "open, show or merge the session's pull request", "run_pr")
    pr.add_argument("verb", nargs="?", choices=["open", "show", "merge"], default="show")
    pr.add_argument("--title", help="open: the title (default: drafted from the session)")
    pr.add_argument("--body", help="open: the body (default: drafted from the session)")
    way = pr.add_mutually_exclusive_group()
    _choice(way, "--squash", "method", "squash", "merge: as one commit")
    _choice(way, "--rebase", "method", "rebase", "merge: its commits replayed")
    pr.set_defaults(method="merge")


def _choice(group: Any, flag: str, dest: str, value: str, help_text: str) -> None:
    group.add_argument(flag, dest=dest, action="store_const", const=value, help=help_text)


def _action(sub: Any, name: str, help_text: str, handler: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    parser.add_argument("id", help="session id")
    add_connection_options(parser)
    run = lazy(f"trace_sync.cli.branch_handlers:{handler}")
    parser.set_defaults(run=quiet_pipe(run))
    return parser
