"""The launch gate: ``trace app``'s loopback server answers its own window only.

A port on 127.0.0.1 is open to every user and process of the machine, and the
app behind it is signed in (the desktop's token, its replicas). So the window
is opened at ``/?launch=<secret>``, a random secret that works once: it is
exchanged for an HttpOnly, SameSite=Strict cookie (a second random value,
never in a URL) and the window goes on to ``/``. Every other request and
websocket without that cookie gets 403, and so does the secret used again.

The window goes on by a page of its own (not a redirect): it may come from a
file (trace_app/window.py), and a browser sends a SameSite=Strict cookie only
on a navigation the site itself started.

    gate = LaunchGate(app)
    window_url = gate.launch_url("http://127.0.0.1:8123")
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

COOKIE = "trace_window"
PARAM = "launch"
ONWARD = '<!doctype html><title>Trace</title><script>location.replace("/")</script>'
REFUSED = "This is the Trace app's own server: only its window may use it (run `trace app`)."
REUSED = (
    "This launch link was already used: it opens one window once. "
    "If that was not your window, something else on this machine tried it."
)


class LaunchGate:
    """ASGI middleware: one launch secret, exchanged once for the window's cookie."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._secret: str | None = secrets.token_urlsafe(32)
        self._used: str | None = None
        self._cookie = secrets.token_urlsafe(32)
        #: Called once the secret is exchanged (a file holding it can go).
        self.on_launch: Callable[[], object] | None = None

    def launch_url(self, base_url: str) -> str:
        """The window's first address (``base_url`` is this server's own)."""
        if self._secret is None:
            raise RuntimeError("the launch secret was already used")
        return f"{base_url.rstrip('/')}/?{PARAM}={self._secret}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # the lifespan
            return
        offered = _param(scope, PARAM)
        if offered is not None and scope["type"] == "http":
            await self._launch(offered)(scope, receive, send)
        elif _has_cookie(scope, self._cookie):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # before accept: a 403
        else:
            await PlainTextResponse(REFUSED, status_code=403)(scope, receive, send)

    def _launch(self, offered: str) -> Response:
        """The secret's one exchange for the cookie; refused otherwise."""
        if self._secret is not None and _same(offered, self._secret):
            self._used, self._secret = self._secret, None
            if self.on_launch is not None:
                self.on_launch()
            # On to "/", in place: the secret leaves the address bar and the history.
            reply: Response = HTMLResponse(ONWARD, headers={"Cache-Control": "no-store"})
            reply.set_cookie(COOKIE, self._cookie, httponly=True, samesite="strict", path="/")
            return reply
        if self._used is not None and _same(offered, self._used):
            log.warning("the app's launch secret was used a second time: refused")
            return PlainTextResponse(REUSED, status_code=403)
        return PlainTextResponse(REFUSED, status_code=403)


def _param(scope: Scope, name: str) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None


def _has_cookie(scope: Scope, value: str) -> bool:
    """Any cookie of that name (not Starlette's last one): cookies ignore ports, so
    another site on 127.0.0.1 could set one of its own beside the window's."""
    for key, header in scope.get("headers") or []:
        if key == b"cookie":
            for part in header.decode("latin-1").split(";"):
                name, _, given = part.strip().partition("=")
                if name == COOKIE and _same(given, value):
                    return True
    return False


def _same(given: str, secret: str) -> bool:
    """In constant time, and as bytes: what a request carries may be any text."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode())
