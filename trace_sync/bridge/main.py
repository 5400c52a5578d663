"""``trace bridge`` and ``trace bridge key``: the bridge process's entry points."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

import platformdirs

from trace_sync import __version__
from trace_sync.bridge.hosts import HostConfig, load_host
from trace_sync.bridge.local import stop_bridge
from trace_sync.bridge.process import Bridge, BridgeConfig
from trace_sync.bridge.registration import load_credentials, load_environment
from trace_sync.bridge.tools.settings import BridgeTools
from trace_sync.cli.client import CliError
from trace_sync.contract.local_files import locate, read_token_file
from trace_sync.logs import configure_logging
from trace_sync.settings import Settings

#: The bridge's data dir when ``--data-dir`` is not given.
DATA_DIR_VARIABLE = "TRACE_BRIDGE_DATA_DIR"


def data_dir_of(args: argparse.Namespace) -> Path:
    chosen = args.data_dir or os.environ.get(DATA_DIR_VARIABLE)
    return Path(chosen or platformdirs.user_data_dir("trace-bridge")).expanduser()


def run(args: argparse.Namespace) -> None:
    configure_logging(args.log_level)
    url, folder = locate()  # $TRACE_URL, else the local server, wherever it listens
    server = args.server or url
    data_dir = data_dir_of(args)
    os.environ.update(load_environment(data_dir))  # what a hosted bridge's host passed it
    token = args.token or os.environ.get("TRACE_TOKEN") or read_token_file(folder)
    # A hosted bridge (a container's) has only its runtime credentials, seeded by its host.
    if not token and load_credentials(data_dir, server) is None:
        raise CliError("no token: pass --token or set TRACE_TOKEN (your user token)")
    config = BridgeConfig(server, token or "", data_dir, name=args.name)
    asyncio.run(serve(config))


async def serve(config: BridgeConfig) -> None:
    """Run the bridge until SIGTERM/SIGINT, or until the server refuses it."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    bridge = Bridge(config)
    loop.add_signal_handler(signal.SIGHUP, bridge.reload_settings)  # a hang-up never ends it
    async with bridge:
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
    print("Trace bridge stopped", flush=True)


def run_key(args: argparse.Namespace) -> None:
    if sys.stdin.isatty():
        print(f"Paste the API key for {args.tool} and press Enter:", file=sys.stderr)
    key = sys.stdin.readline()
    path = BridgeTools(data_dir_of(args)).store_key(args.tool, key)
    print(f"stored in {path} (readable by you only)")


def run_stop(args: argparse.Namespace) -> None:
    """Stop the bridge on ``--data-dir``; without it, the local server's or the default one."""
    if args.sandboxes:
        run_stop_hosted()
        return
    chosen = [data_dir_of(args)] if args.data_dir else _known_data_dirs(args)
    for data_dir in chosen:
        pid = stop_bridge(data_dir)
        if pid is not None:
            print(f"stopped the bridge on {data_dir} (pid {pid})")
            return
    raise CliError(f"no bridge runs on {' or '.join(map(str, chosen))}")


def run_stop_hosted() -> None:
    """Stop the bridges the cloud host of the server on ``$TRACE_DATA_DIR`` runs (a
    sandbox outlives its server; the session's work comes back to its repo)."""
    settings = Settings.from_env()
    if settings.cloud_host is None:
        raise CliError("TRACE_CLOUD_HOST is not set: no cloud sessions run here")
    config = HostConfig(settings.data_dir, settings.cloud_host_options)
    stopped = asyncio.run(load_host(settings.cloud_host, config).stop_all())
    for session_id in stopped:
        print(f"stopped the {settings.cloud_host} bridge of session {session_id}")
    if not stopped:
        print(f"no {settings.cloud_host} bridge runs on {settings.data_dir}")


def _known_data_dirs(args: argparse.Namespace) -> list[Path]:
    return [Settings.from_env().data_dir / "bridge", data_dir_of(args)]
