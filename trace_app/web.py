"""The web app, mounted by the server at ``/`` (Flet web, served without a CDN).

Each browser tab gets a Flet session running in the server process; its
:class:`~trace_app.client.TraceClient` speaks the public protocol to this
very server over loopback (the address the tab's websocket came in on), or,
in a process of role ``web``, to the API tier at ``api_url``, with the token
of the ``trace_token`` cookie that the one-time sign-in link set. Without the
cookie the tab shows the sign-in form.

A tab's session is state in the process that serves it: when that process
dies, the page's link watch waits until the address answers again (a
balancer answers at once from another process), Flet's client registers anew
there, and the tab's route and cookie bring it back to the same view, signed in.

    web = WebApp()
    routes.append(Mount("/", app=web.asgi))
    async with web:  # in the server's lifespan
        ...

``trace app`` mounts the same app behind its launch gate with ``origin`` given:
every window then connects as the desktop does (its own server, token and replicas).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import flet as ft
import flet.fastapi as flet_fastapi
import flet_web
import flet_web.version
import platformdirs
from starlette.requests import HTTPConnection
from starlette.types import Receive, Scope, Send

from trace_app.client import UNREACHABLE
from trace_app.ui.shell import Origin, Shell
from trace_app.ui.widgets import ASSETS
from trace_app.web_files import WebFiles
from trace_sync.contract.errors import TraceError

log = logging.getLogger(__name__)

COOKIE = "trace_token"  # set by /signin (trace_sync.auth.bearer.COOKIE)
_origin: contextvars.ContextVar[Origin] = contextvars.ContextVar("trace_web_origin")


class WebApp:
    """The mounted Flet app; ``async with`` it in the server's lifespan."""

    def __init__(
        self,
        cache_dir: Path | None = None,
        api_url: str | None = None,
        origin: Callable[[], Origin] | None = None,
    ) -> None:
        """``cache_dir`` keeps the client's files compressed, made once each; by default
        the user's cache folder, shared by all their servers (the files are the same).
        ``api_url``: where tabs reach the API (by default, this process itself).
        ``origin``: where and as whom every tab connects (``trace app``), asked anew
        for each tab; by default this server with the tab's sign-in cookie."""
        self._api_url = api_url
        self._origin = origin
        cache_dir = cache_dir or Path(platformdirs.user_cache_dir("trace")) / "web"
        flet_asgi = flet_fastapi.app(
            self._main,
            no_cdn=True,
            assets_dir=str(ASSETS),
            app_name="Trace",
            app_short_name="Trace",
            app_description="Follow and steer AI coding sessions",
        )
        script = _page_script(terminals_in_page=origin is None)
        self._files = WebFiles(flet_asgi, cache_dir, _client_version(), script=script)
        self._shells: weakref.WeakSet[Shell] = weakref.WeakSet()

    async def __aenter__(self) -> WebApp:
        await flet_fastapi.app_manager.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for shell in list(self._shells):  # their sync links point at this server
            await shell.close()
        await flet_fastapi.app_manager.shutdown()

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app to mount: remembers, per tab, where and as whom to connect."""
        if scope["type"] == "websocket":
            fixed = self._origin
            _origin.set(fixed() if fixed is not None else _origin_of(scope, self._api_url))
        await self._files(scope, receive, send)

    async def _main(self, page: ft.Page) -> None:
        shell = Shell(page, _origin.get())
        self._shells.add(shell)

        async def reconnected(_e: object) -> None:
            await self._reconnected(shell)

        page.on_connect = reconnected
        await shell.run()

    async def _reconnected(self, shell: Shell) -> None:
        """A tab reloaded keeps its Flet session (``_main`` does not run again): if it
        now brings the sign-in cookie (the one-time link opened in the same tab), sign in."""
        shell.reconnected()
        origin = _origin.get(None)
        if shell.client is None and origin is not None and origin.token:
            try:
                await shell.sign_in(origin.server_url, origin.token)
            except TraceError as exc:
                log.info("the cookie's token did not sign in", extra={"reason": str(exc)})


def _page_script(terminals_in_page: bool) -> str:
    """The page's own scripts, run before Flet starts: the link watch (the last view
    stays under a banner while the server is away), early keys (the letters typed
    into a field at once after tapping it are kept) and, where the tabs' app sessions
    connect to this server with the tab's cookie, the terminals drawn by the page."""
    here = Path(__file__).parent
    watch = (here / "link_watch.js").read_text().replace('"{message}"', json.dumps(UNREACHABLE))
    script = watch + (here / "early_keys.js").read_text()
    return script + (here / "terminal_loader.js").read_text() if terminals_in_page else script


def _client_version() -> str:
    """Names what the browser caches for a year: the flet-web client and the app's assets."""
    digest = hashlib.sha256(flet_web.get_package_web_dir().encode())
    for path in sorted(ASSETS.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(ASSETS)).encode() + b"\0" + path.read_bytes())
    return f"{flet_web.version.version}-{digest.hexdigest()[:12]}"


def _origin_of(scope: Scope, api_url: str | None) -> Origin:
    return Origin(
        server_url=api_url or _own_url(scope),
        token=HTTPConnection(scope).cookies.get(COOKIE) or None,  # as the server's auth reads it
        data_dir=None,
        editable_server=False,
        terminals_in_page=True,
    )


def _own_url(scope: Scope) -> str:
    host, port = scope.get("server") or ("127.0.0.1", 4000)
    host = str(host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"
