"""Live previews: declare a session's dev-server port, get your link, and the proxy
at ``/preview/<sid>/<grant>/...`` (HTTP and websockets) that the link opens.

The proxy is not under ``/api``: the grant in the path admits the request (see
:mod:`trace_sync.services.bridges.previews`), and Trace's own credentials are
never forwarded to the app. Failures to reach the app are 502 (nothing
listens, refused, too large) or 504 (no answer in time), in plain text.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from trace_sync.api.bodies import read_body, reply
from trace_sync.api.credentials import person_of
from trace_sync.api.endpoints import Endpoint
from trace_sync.api.runtime_models import PreviewIn, PreviewOut, PreviewPortsOut
from trace_sync.auth.bearer import COOKIE
from trace_sync.contract.errors import Conflict, TraceError
from trace_sync.services.bridges.previews import PreviewService, PreviewSocket

#: Headers that belong to one hop (RFC 9110 §7.6.1) or that the proxy sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
#: Trace's credentials and the websocket handshake's own headers never reach the app.
NOT_FORWARDED = HOP_BY_HOP | {"authorization", "cookie"}
#: The page gets an opaque origin: its scripts run, but cannot use Trace's API as the reader.
SANDBOX = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"
#: Largest websocket message from the browser (the bridge takes as much from the app).
MAX_FRAME = 1024 * 1024
#: Where a previewed app's redirect to an absolute path is kept inside the preview.
PREFIX = "/preview/{sid}/{grant}"


def _previews(conn: Request | WebSocket) -> PreviewService:
    previews: PreviewService = conn.app.state.ctx.previews
    return previews


# -- the API -------------------------------------------------------------------------


async def declare(request: Request) -> Response:
    actor = await person_of(request)
    body = await read_body(request, PreviewIn)
    shown = await _previews(request).declare(actor, request.path_params["sid"], body.port)
    return reply(PreviewOut.model_validate(shown))


async def show(request: Request) -> Response:
    actor = await person_of(request)
    shown = await _previews(request).show(actor, request.path_params["sid"])
    return reply(PreviewOut.model_validate(shown))


async def ports(request: Request) -> Response:
    actor = await person_of(request)
    found = await _previews(request).ports(actor, request.path_params["sid"])
    return reply(PreviewPortsOut(ports=found))


_PREVIEW = "/api/sessions/{sid}/preview"

endpoints = [
    Endpoint.of_request(
        "PUT",
        _PREVIEW,
        declare,
        "Declare the port of the session's dev server; your preview link (writers)",
        body=PreviewIn,
        response=PreviewOut,
    ),
    Endpoint.of_request(
        "GET", _PREVIEW, show, "The session's preview: its port and your link", response=PreviewOut
    ),
    Endpoint.of_request(
        "GET",
        f"{_PREVIEW}/ports",
        ports,
        "Ports the session's processes listen on now",
        response=PreviewPortsOut,
    ),
]


# -- the proxy ----------------------------------------------------------------------


async def proxy(request: Request) -> Response:
    sid, grant = request.path_params["sid"], request.path_params["grant"]
    previews = _previews(request)
    session, port = await previews.admit(sid, grant)
    body = await request.body()
    try:
        answer = await previews.http(
            session,
            port,
            method=request.method,
            target=_target(request),
            headers=_forwarded(request.headers.items()),
            body=base64.b64encode(body).decode(),
        )
    except Conflict as exc:  # the bridge is away or silent
        return PlainTextResponse(f"preview unavailable: {exc}", status_code=502)
    if "failure" in answer:
        status = 504 if answer["failure"] == "timeout" else 502
        return PlainTextResponse(f"preview: {answer.get('message', '')}", status_code=status)
    response = Response(base64.b64decode(answer.get("body") or ""), int(answer["status"]))
    prefix = PREFIX.format(sid=sid, grant=grant)
    _copy_headers(response, answer.get("headers") or [], prefix, request.method == "HEAD")
    return response


async def to_slash(request: Request) -> Response:
    """``/preview/<sid>/<grant>`` -> with a slash, so the app's relative links resolve."""
    return RedirectResponse(f"{request.url.path}/", status_code=307)


def _target(conn: Request | WebSocket) -> str:
    """The app's path and query exactly as the browser sent them (still encoded:
    an encoded ``?`` or ``/`` stays what it was)."""
    prefix = PREFIX.format(**conn.path_params)  # its characters need no encoding
    raw = conn.scope.get("raw_path") or conn.url.path.encode()
    path = raw.decode("latin-1")[len(prefix) :] or "/"
    query = conn.url.query
    return path + (f"?{query}" if query else "")


def _forwarded(headers: Any, also: frozenset[str] = frozenset()) -> list[list[str]]:
    kept = []
    for name, value in headers:
        lower = name.lower()
        if lower == "cookie":
            value = _without_trace_cookie(value)
            if value:
                kept.append([name, value])
        elif lower not in NOT_FORWARDED and lower not in also:
            kept.append([name, value])
    return kept


def _without_trace_cookie(header: str) -> str:
    parts = [p.strip() for p in header.split(";")]
    return "; ".join(p for p in parts if p and p.split("=", 1)[0].strip() != COOKIE)


def _copy_headers(
    response: Response, headers: list[list[str]], prefix: str, head: bool = False
) -> None:
    del response.headers["content-length"]
    for name, value in headers:
        lower = name.lower()
        if lower in HOP_BY_HOP and not (lower == "content-length" and head):
            continue
        if lower == "set-cookie" and value.split("=", 1)[0].strip() == COOKIE:
            continue  # the app may not replace the reader's sign-in
        if lower == "location" and value.startswith("/") and not value.startswith("//"):
            value = prefix + value
        response.headers.append(name, value)
    if "content-length" not in response.headers:  # a HEAD's is the app's
        response.headers["content-length"] = str(len(response.body))
    # Appended: every policy is enforced, the app's own and this one.
    response.headers.append("content-security-policy", SANDBOX)
    # The link's grant must not leave in a Referer to the sites the app links to.
    response.headers["referrer-policy"] = "no-referrer"
    if "access-control-allow-origin" not in response.headers:
        # Its opaque origin makes the page's module scripts and fetches cross-origin.
        response.headers["access-control-allow-origin"] = "*"


# -- websockets ---------------------------------------------------------------------

#: The handshake's own headers: the bridge makes its handshake with the app.
_HANDSHAKE = frozenset(
    {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "origin"}
)


async def proxy_socket(websocket: WebSocket) -> None:
    sid, grant = websocket.path_params["sid"], websocket.path_params["grant"]
    previews = _previews(websocket)
    offered = websocket.headers.get("sec-websocket-protocol", "")
    try:
        session, port = await previews.admit(sid, grant)
        channel, answer = await previews.open(
            session,
            port,
            target=_target(websocket),
            headers=_forwarded(websocket.headers.items(), _HANDSHAKE | {"sec-websocket-protocol"}),
            subprotocols=[p.strip() for p in offered.split(",") if p.strip()],
        )
    except TraceError:
        await websocket.close(code=1008)  # before accepting: the browser sees 403
        return
    if "failure" in answer:
        await websocket.close(code=1011)
        return
    await websocket.accept(subprotocol=answer.get("subprotocol"))
    await _relay(websocket, previews, channel)


async def _relay(websocket: WebSocket, previews: PreviewService, channel: PreviewSocket) -> None:
    inbound = asyncio.create_task(_from_browser(websocket, previews, channel))
    outbound = asyncio.create_task(_to_browser(websocket, previews, channel))
    try:
        await asyncio.wait({inbound, outbound}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (inbound, outbound):
            task.cancel()
        await asyncio.gather(inbound, outbound, return_exceptions=True)
        await previews.close(channel)
        with contextlib.suppress(RuntimeError, OSError):
            await websocket.close()


async def _from_browser(
    websocket: WebSocket, previews: PreviewService, channel: PreviewSocket
) -> None:
    with contextlib.suppress(WebSocketDisconnect, TraceError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            frame = message.get("text")
            frame = frame if frame is not None else message.get("bytes", b"")
            if len(frame) > MAX_FRAME:
                await websocket.close(code=1009, reason="a preview message is at most 1 MiB")
                return
            await previews.send(channel, frame)


async def _to_browser(
    websocket: WebSocket, previews: PreviewService, channel: PreviewSocket
) -> None:
    while (frame := await previews.next_frame(channel)) is not None:
        if isinstance(frame, str):
            await websocket.send_text(frame)
        else:
            await websocket.send_bytes(frame)


_PROXIED = "/preview/{sid}/{grant}"
_ALL = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

routes = [
    WebSocketRoute(f"{_PROXIED}/{{path:path}}", proxy_socket),
    Route(f"{_PROXIED}/{{path:path}}", proxy, methods=_ALL),
    Route(_PROXIED, to_slash, methods=_ALL),
]
