"""The server process: uvicorn serving the app, the local bridge, the sign-in announcement."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import socket
import traceback
from collections.abc import Callable

import uvicorn
from starlette.types import ASGIApp

from trace_sync import __version__
from trace_sync.api.accounts import sign_in_url
from trace_sync.app import Context, create_app
from trace_sync.bridge.local import LocalBridge
from trace_sync.cluster.claim import AlreadyServed, claimed
from trace_sync.cluster.documents import DocumentStreams
from trace_sync.cluster.redis_link import RedisLink
from trace_sync.contract.errors import StoreError
from trace_sync.contract.local_files import (
    TOKEN_FILE,
    LocalServer,
    remove_server_file,
    write_server_file,
)
from trace_sync.logs import configure_logging
from trace_sync.settings import Settings
from trace_sync.store import Store
from trace_sync.sync.upgrade import UpgradingHttpProtocol
from trace_sync.sync.wire import FramedWebSocketProtocol


def run(args: argparse.Namespace) -> None:
    configure_logging(args.log_level)
    settings = _settings(args)
    if not settings.serves_api:
        _serve_web(settings)
        return
    check_database(settings, debug=args.debug)
    wanted = not args.no_bridge and os.environ.get("TRACE_LOCAL_BRIDGE", "1") not in _OFF
    bridge = LocalBridge(settings.data_dir / "bridge", enabled=wanted)

    async def ready(ctx: Context | None) -> None:
        assert ctx is not None  # every role but web starts the services
        settle_collector()
        url = _local_url(ctx.settings)
        bridge.start(url, ctx.owner.token)
        write_server_file(LocalServer(url, os.getpid(), ctx.settings.data_dir))
        await announce(ctx, bridge.state)

    app = create_app(settings, on_ready=ready, claim=True)
    # The bridge outlives the server (sessions keep running across a restart)
    # unless asked; stopping it first lets it still flush into this server.
    leave = bridge.stop_all if args.stop_bridge else bridge.leave_running
    try:
        _Server(uvicorn_config(app, settings), before_shutdown=leave).run()
    finally:
        remove_server_file(os.getpid())
        leave()


def _serve_web(settings: Settings) -> None:
    """Role web: the browser tabs' app sessions only. No database, bridge or
    server file: the tabs, like the CLI, talk to the API tier."""

    async def ready(_: Context | None) -> None:
        settle_collector()
        print(
            f"\nTrace {__version__} web app is running at {_local_url(settings)}\n"
            f"  public:  {settings.base_url}\n"
            f"  api:     {settings.api_url}  (its tabs talk to the API there)\n",
            flush=True,
        )

    uvicorn.Server(uvicorn_config(create_app(settings, on_ready=ready), settings)).run()


#: Allocations between two young collections (Python's default: 700).
GC_YOUNG_THRESHOLD = 20_000


def settle_collector() -> None:
    """Tune the garbage collector for a server once start-up is done.

    What start-up made (modules, the app, ~200k objects) lives as long as the
    server: frozen out of the collector's sight, a full collection while a
    thousand clients join costs a few ms instead of hundreds. A join allocates
    a few hundred containers that live until its handshake ends, so at the
    default threshold a thousand joins at once ran ~280 collections, each
    scanning (and promoting) the joins still in flight: a fifth of the
    server's CPU. At 20,000 most of them are freed before any scan (9
    collections, 0.03 s instead of 0.2 s, ``bench/reconnect_storm.py``);
    cyclic garbage waits a little longer, a few MB at most.
    """
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


#: Longer than any client keeps an idle connection (httpx: 5 s, browsers: about 60 s),
#: so the client closes first. Equal timeouts race: a request sent as the server closes
#: fails with a read error (seen by a loaded test run, at uvicorn's default of 5 s).
KEEP_ALIVE_S = 75


def uvicorn_config(
    app: ASGIApp, settings: Settings, ws: type[asyncio.Protocol] | str = FramedWebSocketProtocol
) -> uvicorn.Config:
    """How ``trace serve`` runs uvicorn; ``ws`` other than ours runs the plain-ASGI
    websocket fallback (tests of that fallback pass another)."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        lifespan="on",  # a start-up that fails stops the server
        http=UpgradingHttpProtocol,  # opens plain websocket upgrades on parsed headers
        ws=ws,  # ours: broadcast frames go straight to each socket
        # Above our own frame limit, so the sync endpoint closes with 4413 itself.
        ws_max_size=2 * settings.limits.max_frame_bytes,
        # Compression would run once per receiver for every broadcast frame,
        # undoing encode-once fan-out; Yjs updates are small binary anyway.
        ws_per_message_deflate=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=10,  # a stalled peer cannot hang the shutdown
    )


_OFF = ("0", "false", "no", "off")


def check_database(settings: Settings, *, debug: bool = False) -> None:
    """Open the database once before serving, so a wrong or unreachable one, or
    one another server holds, is one line (what, where, how to change it)
    instead of the lifespan's traceback. The lifespan claims the data for good."""

    async def open_once() -> None:
        async with claimed(Store(settings.database_url, schema=settings.database_schema), settings):
            pass

    async def reach_redis(link: RedisLink) -> None:
        async with DocumentStreams(link):
            pass

    try:
        asyncio.run(open_once())
    except AlreadyServed:
        raise
    except StoreError as exc:
        if debug:
            traceback.print_exception(exc)
        hint = "" if debug else "; --debug shows the traceback"
        raise StoreError(f"{exc} (TRACE_DATABASE_URL sets the database{hint})") from exc
    link = RedisLink.of(settings)
    if link is not None:
        asyncio.run(reach_redis(link))  # one line if Redis is not there


class _Server(uvicorn.Server):
    """Runs ``before_shutdown`` (the local bridge's) before the server stops serving."""

    def __init__(self, config: uvicorn.Config, before_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._before_shutdown = before_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Here, not only after run(): uvicorn re-raises SIGTERM once it has shut down.
        remove_server_file(os.getpid())
        await asyncio.to_thread(self._before_shutdown)
        await super().shutdown(sockets)


def _local_url(settings: Settings) -> str:
    """This server as a process on the same machine reaches it."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}"


def _settings(args: argparse.Namespace) -> Settings:
    """Flags win over the environment; both go through the one parser of settings."""
    env = dict(os.environ)
    flags = {
        "TRACE_HOST": args.host,
        "TRACE_PORT": args.port,
        "TRACE_DATA_DIR": args.data_dir,
        "TRACE_ROLE": args.role,
        "TRACE_API_URL": args.api_url,
    }
    env.update({name: str(value) for name, value in flags.items() if value is not None})
    return Settings.from_env(env)


async def announce(ctx: Context, bridge: str) -> None:
    link = sign_in_url(ctx.settings.base_url, await ctx.signin.mint(ctx.owner.user_id))
    print(
        f"\nTrace {__version__} is running at {ctx.settings.base_url}\n"
        f"  data:    {ctx.settings.data_dir}\n"
        f"  sign in: {link}  (one-time link)\n"
        f"  token:   {ctx.settings.data_dir / TOKEN_FILE}  (`trace token` prints it)\n"
        f"  bridge:  {bridge}\n",
        flush=True,
    )
