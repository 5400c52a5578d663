"""``trace app``: the Trace desktop app (Flet) for the local server, or any server,
in an app window of a Chromium-family browser (trace_sync/cli/desktop.py).

Like ``trace serve``, it runs a bridge for its user (unless ``--no-bridge``),
so sessions started from the app run on this machine: for the local server
that is the server's own bridge when one runs (one per data dir), else one
of the app's own, stopped when the app closes.
"""

from __future__ import annotations

from typing import Any

from trace_sync.cli.lazy import lazy


def register(commands: Any) -> None:
    parser = commands.add_parser("app", help="open the Trace desktop app")
    parser.add_argument("--server", help="server URL (default: $TRACE_URL or the local server)")
    parser.add_argument("--token", help="token (default: $TRACE_TOKEN, the saved one, or local)")
    parser.add_argument("--web", action="store_true", help="open it in a default-browser tab")
    parser.add_argument(
        "--no-bridge", action="store_true", help="do not run sessions on this machine"
    )
    parser.set_defaults(run=lazy("trace_sync.cli.desktop:run"))
