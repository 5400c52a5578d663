"""Reading a session from the CLI: ``trace session transcript|output|files|diff|
checkpoints|timeline|terminal``. The handlers live in
:mod:`trace_sync.cli.read_handlers`, loaded when one of these commands runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from trace_sync.cli.client import add_connection_options
from trace_sync.cli.lazy import Handler, lazy
from trace_sync.cli.output import quiet_pipe


def register(sub: Any) -> None:
    """Add to ``trace session``'s actions (``sub``, from :mod:`trace_sync.cli.sessions`)."""
    transcript = _action(
        sub,
        "transcript",
        "the transcript, oldest first",
        _handler("run_transcript"),
    )
    transcript.add_argument("--follow", "-f", action="store_true", help="then print new entries")
    output = _action(
        sub,
        "output",
        "a terminal's output (the tool's by default)",
        _handler("run_output"),
    )
    output.add_argument("--terminal", help="terminal id (`trace session terminal ID` lists them)")
    output.add_argument("--follow", "-f", action="store_true", help="then print new output")
    _action(
        sub,
        "files",
        "files changed against the base branch",
        _handler("run_files"),
    )
    diff = _action(
        sub,
        "diff",
        "a changed file's diff (or what a checkpoint changed)",
        _handler("run_diff"),
    )
    diff.add_argument("path", nargs="?", help="file path (all files of a checkpoint if left out)")
    diff.add_argument("--checkpoint", type=int, help="what this checkpoint changed")
    _action(
        sub,
        "checkpoints",
        "checkpoints, oldest first",
        _handler("run_checkpoints"),
    )
    _action(
        sub,
        "timeline",
        "every transition and command, oldest first",
        _handler("run_timeline"),
    )
    terminal = _action(
        sub,
        "terminal",
        "list, open, type into or close terminals",
        _handler("run_terminal"),
    )
    terminal.add_argument("verb", nargs="?", choices=["list", "open", "send", "close"])
    terminal.add_argument("terminal", nargs="?", help="terminal id (send, close)")
    terminal.add_argument("text", nargs="?", help="what to type (send; \\n is Enter)")


def _handler(name: str) -> Handler:
    return lazy(f"trace_sync.cli.read_handlers:{name}")


def _action(sub: Any, name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    parser.add_argument("id", help="session id")
    add_connection_options(parser)
    parser.set_defaults(run=quiet_pipe(run))
    return parser
