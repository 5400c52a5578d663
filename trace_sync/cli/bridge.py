"""``trace bridge``: host sessions on this machine for a Trace server.

    trace bridge [--server URL] [--token T] [--data-dir D] [--name N]
    trace bridge key TOOL [--data-dir D]    # store a tool's API key (from stdin), 0600
    trace bridge stop [--data-dir D]        # stop the bridge running on that data dir

SIGTERM, Ctrl-C or ``trace bridge stop`` stop it gracefully: tools are stopped (their resume ids
kept in the session documents), the documents flushed, the link closed.
SIGHUP reads ``tools.toml`` again (a changed file is also noticed before each
tool run); the next tool run uses it.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from trace_sync.cli.lazy import lazy
from trace_sync.contract.tools import TOOLS


def register(commands: Any) -> None:
    parser = commands.add_parser("bridge", help="host sessions on this machine")
    parser.add_argument("--server", help="server URL (default: $TRACE_URL or the local server)")
    parser.add_argument("--token", help="your token (default: $TRACE_TOKEN or the local token)")
    parser.add_argument(
        "--data-dir", type=Path, help="worktrees and credentials (default: app data)"
    )
    parser.add_argument("--name", default=socket.gethostname(), help="how it is listed")
    parser.add_argument("--log-level", default="INFO")
    parser.set_defaults(run=lazy("trace_sync.bridge.main:run"))
    sub = parser.add_subparsers(dest="bridge_command", metavar="COMMAND")
    key = sub.add_parser("key", help="store a tool's API key, read from stdin (0600)")
    key.add_argument("tool", choices=TOOLS, help="the tool whose key it is")
    key.add_argument("--data-dir", type=Path, help="the bridge's data dir")
    key.set_defaults(run=lazy("trace_sync.bridge.main:run_key"))
    stop = sub.add_parser("stop", help="stop the bridge running on a data dir (SIGTERM)")
    stop.add_argument("--data-dir", type=Path, help="the bridge's data dir")
    stop.add_argument(
        "--sandboxes",
        action="store_true",
        help="stop the cloud sessions' bridges of the server on $TRACE_DATA_DIR instead "
        "(they outlive the server)",
    )
    stop.set_defaults(run=lazy("trace_sync.bridge.main:run_stop"))
