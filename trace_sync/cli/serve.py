"""``trace serve``: run the Trace server (the embedded default, or one member of a cluster)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trace_sync.cli.lazy import lazy


def register(commands: Any) -> None:
    parser = commands.add_parser("serve", help="run the Trace server")
    parser.add_argument("--host", help="bind address (default: $TRACE_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: $TRACE_PORT or 4000)")
    parser.add_argument("--data-dir", type=Path, help="data directory (default: $TRACE_DATA_DIR)")
    parser.add_argument(
        "--role",
        choices=("all", "web", "sync"),
        help="what to serve: web (the browser app only), sync (the API, /sync, /bridge), "
        "all (default: $TRACE_ROLE or all)",
    )
    parser.add_argument(
        "--api-url", help="role web: where its tabs reach the API (default: $TRACE_API_URL)"
    )
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of start-up errors")
    parser.add_argument(
        "--no-bridge", action="store_true", help="do not start the local bridge for the owner"
    )
    parser.add_argument(
        "--stop-bridge",
        action="store_true",
        help="stop the local bridge with the server (by default it keeps sessions running)",
    )
    parser.set_defaults(run=lazy("trace_sync.serve:run"))
