"""The real app served by uvicorn in this process, on a free port of 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette

from trace_sync.app import Context, create_app
from trace_sync.serve import uvicorn_config
from trace_sync.settings import Settings
from trace_sync.sync.wire import FramedWebSocketProtocol


@dataclass
class LiveServer:
    app: Starlette
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def ctx(self) -> Context:
        ctx: Context = self.app.state.ctx
        return ctx

    @property
    def token(self) -> str:
        return self.ctx.owner.token


@asynccontextmanager
async def serve(
    settings: Settings,
    ws: type[asyncio.Protocol] | str = FramedWebSocketProtocol,
    port: int = 0,
    keepalive: bool = True,
) -> AsyncIterator[LiveServer]:
    """Run ``create_app(settings)`` until the block ends, then shut it down cleanly.
    ``ws`` picks uvicorn's websocket implementation: ours by default, as
    ``trace serve`` runs it; any other runs the plain-ASGI fallback. On a free
    port, unless ``port`` names one (the one ``settings.base_url`` says).
    ``keepalive=False`` sends no pings: a client that stalls on purpose cannot
    answer them, and one unanswered for 20 s closes its socket."""
    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    config = uvicorn_config(app, settings, ws=ws)
    if not keepalive:
        config.ws_ping_interval = None
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises the start-up error
            await asyncio.sleep(0.01)
        yield LiveServer(app, sock.getsockname()[1])
    finally:
        server.should_exit = True
        try:
            await task
        finally:
            sock.close()
