"""``trace app``'s own server: the web app (the same one the server mounts) on a free
loopback port of this process, behind the launch gate, for one window.

Every tab connects with the desktop's origin (its server, token and replicas),
not with a cookie's token as on the server. It serves until the window closes
or the process is told to stop (Ctrl+C, SIGTERM), then closes the window, the
app's links (their replicas kept on disk) and runs ``on_stop`` (the bridge).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import uvicorn

from trace_app.launch_gate import LaunchGate
from trace_app.ui.shell import Origin
from trace_app.web import WebApp

#: Opens the window at the launch URL; returns (or raises) once the window is gone.
Window = Callable[[str], Coroutine[Any, Any, object]]


class WindowServer:
    """``WindowServer(origin, on_stop).run(window)``: see the module doc."""

    def __init__(self, origin: Callable[[], Origin], on_stop: Callable[[], None]) -> None:
        self.web = WebApp(origin=origin)
        self.gate = LaunchGate(self.web.asgi)
        self._on_stop = on_stop
        # Bound now, so the address is known before serving; loopback only.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    async def run(self, window: Window) -> None:
        """Serve until ``window`` returns or a signal stops the process."""
        config = uvicorn.Config(
            self.gate, lifespan="off", log_config=None, timeout_graceful_shutdown=5
        )
        opened: asyncio.Task[object] | None = None

        async def closing() -> None:
            if opened is not None:
                opened.cancel()  # closes the window if the app stops first
                await asyncio.gather(opened, return_exceptions=True)
            await self.web.__aexit__(None, None, None)  # tabs' links flush their replicas
            await asyncio.to_thread(self._on_stop)

        def started() -> None:
            nonlocal opened
            opened = asyncio.create_task(window(self.gate.launch_url(self.url)))
            opened.add_done_callback(lambda _: setattr(server, "should_exit", True))

        server = _Server(config, started, closing)
        await self.web.__aenter__()
        await server.serve(sockets=[self._socket])
        if not server.started:  # it failed to start: nothing was closed yet
            await self.web.__aexit__(None, None, None)
            await asyncio.to_thread(self._on_stop)
        if opened is not None and opened.done() and not opened.cancelled():
            opened.result()  # the window's own failure, said by the caller


class _Server(uvicorn.Server):
    """Runs ``started`` once it listens, and ``closing`` once it has closed its
    connections: in ``shutdown``, not after ``serve``, because uvicorn raises a
    captured SIGTERM again once it has shut down; after the connections, because
    closing a window first drops its websocket while uvicorn closes it (a traceback
    and exit code 1, seen on SIGTERM)."""

    def __init__(
        self,
        config: uvicorn.Config,
        started: Callable[[], None],
        closing: Callable[[], Awaitable[None]],
    ) -> None:
        super().__init__(config)
        self._started, self._closing = started, closing

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._started()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        await self._closing()
