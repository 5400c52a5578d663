"""``trace bridge``: host sessions on this machine for a Trace server.

    trace bridge [--server URL] [--token T] [--data-dir D] [--name N]
    trace bridge key TOOL [--data-dir D]    # store a tool's API key (from stdin), 0600

SIGTERM or Ctrl-C stop it gracefully: tools are stopped (their resume ids
kept in the session documents), the documents flushed, the link closed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import platformdirs

from trace_sync import __version__
from trace_sync.cli.client import CliError
from trace_sync.logs import configure_logging
from trace_sync.runtime.bridge import Bridge, BridgeConfig
from trace_sync.runtime.local_bridge import PARENT_VARIABLE
from trace_sync.runtime.tool_settings import BridgeTools
from trace_sync.services.local_mode import read_token_file
from trace_sync.settings import Settings

#: Set by ``trace serve`` for the local bridge it starts (see runtime/local_bridge.py).
DATA_DIR_VARIABLE = "TRACE_BRIDGE_DATA_DIR"
PARENT_CHECK_S = 1.0


def register(commands: Any) -> None:
    parser = commands.add_parser("bridge", help="host sessions on this machine")
    parser.add_argument("--server", help="server URL (default: $TRACE_URL or the local server)")
    parser.add_argument("--token", help="your token (default: $TRACE_TOKEN or the local token)")
    parser.add_argument(
        "--data-dir", type=Path, help="worktrees and credentials (default: app data)"
    )
    parser.add_argument("--name", default=socket.gethostname(), help="how it is listed")
    parser.add_argument("--log-level", default="INFO")
    parser.set_defaults(run=run)
    sub = parser.add_subparsers(dest="bridge_command", metavar="COMMAND")
    key = sub.add_parser("key", help="store a tool's API key, read from stdin (0600)")
    key.add_argument("tool", help="claude_code, codex, acp or shell")
    key.add_argument("--data-dir", type=Path, help="the bridge's data dir")
    key.set_defaults(run=run_key)


def data_dir_of(args: argparse.Namespace) -> Path:
    chosen = args.data_dir or os.environ.get(DATA_DIR_VARIABLE)
    return Path(chosen or platformdirs.user_data_dir("trace-bridge")).expanduser()


def run(args: argparse.Namespace) -> None:
    configure_logging(args.log_level)
    settings = Settings.from_env()
    server = args.server or os.environ.get("TRACE_URL") or settings.base_url
    token = args.token or os.environ.get("TRACE_TOKEN") or read_token_file(settings.data_dir)
    if not token:
        raise CliError("no token: pass --token or set TRACE_TOKEN (your user token)")
    config = BridgeConfig(server, token, data_dir_of(args), name=args.name)
    asyncio.run(serve(config))


async def serve(config: BridgeConfig) -> None:
    """Run the bridge until SIGTERM/SIGINT, or until the server refuses it."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watchdog = asyncio.create_task(_parent_gone(stop))
    try:
        async with Bridge(config) as bridge:
            print(
                f"Trace bridge {__version__} {config.name!r} for {config.server_url}\n"
                f"  data:  {bridge.data_dir}",
                flush=True,
            )
            finished = asyncio.ensure_future(bridge.finished())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({finished, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if finished.done():
                finished.result()  # the server refused the bridge: its error ends the command
            finished.cancel()
    finally:
        watchdog.cancel()
    print("Trace bridge stopped", flush=True)


async def _parent_gone(stop: asyncio.Event) -> None:
    """A local bridge stops when the server that started it is gone (even by kill -9)."""
    parent = os.environ.get(PARENT_VARIABLE, "")
    if not parent.isdigit():
        return
    try:
        pidfd = os.pidfd_open(int(parent))
    except ProcessLookupError:
        stop.set()
        return
    except (AttributeError, OSError):  # no pidfd here (macOS): look now and then
        while os.getppid() == int(parent) and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PARENT_CHECK_S)
        stop.set()
        return
    loop = asyncio.get_running_loop()
    loop.add_reader(pidfd, stop.set)  # readable once the process is gone
    try:
        await stop.wait()
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


def run_key(args: argparse.Namespace) -> None:
    if sys.stdin.isatty():
        print(f"Paste the API key for {args.tool} and press Enter:", file=sys.stderr)
    key = sys.stdin.readline()
    path = BridgeTools(data_dir_of(args)).store_key(args.tool, key)
    print(f"stored in {path} (readable by you only)")
