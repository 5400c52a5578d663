"""``trace serve``: run the server (what ``python server.py`` does)."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from trace_sync import __version__
from trace_sync.api.accounts import sign_in_url
from trace_sync.app import Context, create_app
from trace_sync.logs import configure_logging
from trace_sync.runtime.local_bridge import LocalBridge
from trace_sync.services.local_mode import TOKEN_FILE
from trace_sync.settings import Settings
from trace_sync.sync.wire import FramedWebSocketProtocol


def register(commands: Any) -> None:
    parser = commands.add_parser("serve", help="run the Trace server")
    parser.add_argument("--host", help="bind address (default: $TRACE_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: $TRACE_PORT or 4000)")
    parser.add_argument("--data-dir", type=Path, help="data directory (default: $TRACE_DATA_DIR)")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--no-bridge", action="store_true", help="do not start the local bridge for the owner"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    configure_logging(args.log_level)
    settings = _settings(args)
    wanted = not args.no_bridge and os.environ.get("TRACE_LOCAL_BRIDGE", "1") not in _OFF
    bridge = LocalBridge(settings.data_dir / "bridge", enabled=wanted)

    def ready(ctx: Context) -> None:
        bridge.start(_local_url(ctx.settings), ctx.owner.token)
        announce(ctx, bridge.state)

    app = create_app(settings, on_ready=ready)
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
    try:
        _Server(config, before_shutdown=bridge.stop).run()
    finally:
        bridge.stop()


_OFF = ("0", "false", "no", "off")


class _Server(uvicorn.Server):
    """Stops the local bridge before the server goes, so it can still flush its documents."""

    def __init__(self, config: uvicorn.Config, before_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._before_shutdown = before_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await asyncio.to_thread(self._before_shutdown)
        await super().shutdown(sockets)


def _local_url(settings: Settings) -> str:
    """This server as a process on the same machine reaches it."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}"


def _settings(args: argparse.Namespace) -> Settings:
    """Flags win over the environment; both go through the one parser of settings."""
    env = dict(os.environ)
    flags = {"TRACE_HOST": args.host, "TRACE_PORT": args.port, "TRACE_DATA_DIR": args.data_dir}
    env.update({name: str(value) for name, value in flags.items() if value is not None})
    return Settings.from_env(env)


def announce(ctx: Context, bridge: str) -> None:
    link = sign_in_url(ctx.settings.base_url, ctx.signin.mint(ctx.owner.user_id))
    print(
        f"\nTrace {__version__} is running at {ctx.settings.base_url}\n"
        f"  data:    {ctx.settings.data_dir}\n"
        f"  sign in: {link}  (one-time link)\n"
        f"  token:   {ctx.settings.data_dir / TOKEN_FILE}  (`trace token` prints it)\n"
        f"  bridge:  {bridge}\n",
        flush=True,
    )
