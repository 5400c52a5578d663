"""``trace serve``: run the server (what ``python server.py`` does)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import uvicorn

from trace_sync import __version__
from trace_sync.api.accounts import sign_in_url
from trace_sync.app import Context, create_app
from trace_sync.logs import configure_logging
from trace_sync.services.local_mode import TOKEN_FILE
from trace_sync.settings import Settings
from trace_sync.sync.wire import FramedWebSocketProtocol


def register(commands: Any) -> None:
    parser = commands.add_parser("serve", help="run the Trace server")
    parser.add_argument("--host", help="bind address (default: $TRACE_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: $TRACE_PORT or 4000)")
    parser.add_argument("--data-dir", type=Path, help="data directory (default: $TRACE_DATA_DIR)")
    parser.add_argument("--log-level", default="INFO")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    configure_logging(args.log_level)
    settings = _settings(args)
    app = create_app(settings, on_ready=announce)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        # Above our own frame limit, so the sync endpoint closes with 4413 itself.
        ws=FramedWebSocketProtocol,  # broadcast frames go straight to each socket
        ws_max_size=2 * settings.limits.max_frame_bytes,
        # Compression would run once per receiver for every broadcast frame,
        # undoing encode-once fan-out; Yjs updates are small binary anyway.
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()


def _settings(args: argparse.Namespace) -> Settings:
    """Flags win over the environment; both go through the one parser of settings."""
    env = dict(os.environ)
    flags = {"TRACE_HOST": args.host, "TRACE_PORT": args.port, "TRACE_DATA_DIR": args.data_dir}
    env.update({name: str(value) for name, value in flags.items() if value is not None})
    return Settings.from_env(env)


def announce(ctx: Context) -> None:
    link = sign_in_url(ctx.settings.base_url, ctx.signin.mint(ctx.owner.user_id))
    print(
        f"\nTrace {__version__} is running at {ctx.settings.base_url}\n"
        f"  data:    {ctx.settings.data_dir}\n"
        f"  sign in: {link}  (one-time link)\n"
        f"  token:   {ctx.settings.data_dir / TOKEN_FILE}  (`trace token` prints it)\n",
        flush=True,
    )
