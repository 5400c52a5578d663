"""Cross-site requests: a cookie travels with any page's request, so a request
it authenticates must come from this app's own origin.

Browsers send ``Origin`` on every cross-origin request and on websockets, and
``Sec-Fetch-Site`` on every request; a page on another site (or another port
of this host, such as a dev server a session starts) cannot forge either.
Clients that send neither (the CLI, scripts) present bearer tokens, which no
page can make a browser attach, so only cookie-authenticated requests are
checked::

    check_origin(websocket, settings.base_url)  # raises Forbidden for a foreign page
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from trace_sync.auth.bearer import by_cookie
from trace_sync.contract.errors import Forbidden

#: ``Sec-Fetch-Site`` values a browser sends for this app's own pages, or for
#: a URL the person typed or bookmarked.
_OWN_FETCH = frozenset({"same-origin", "none"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def check_origin(conn: HTTPConnection, base_url: str) -> None:
    """Refuse a cookie-authenticated request (or websocket) that another page
    made; ``base_url`` is the server's public URL (``TRACE_PUBLIC_URL``)."""
    if by_cookie(conn) and not from_own_page(conn, base_url):
        raise Forbidden(
            "cross-site request refused: the sign-in cookie only works from this app's own "
            "pages; other clients send 'Authorization: Bearer <token>'"
        )


def from_own_page(conn: HTTPConnection, base_url: str) -> bool:
    """Whether the browser says the request comes from this server's origin
    (its public URL, or the host the request was sent to)."""
    origin = conn.headers.get("origin")
    if origin is not None:
        own = {_host_port(base_url), _host_port(f"{conn.url.scheme}://{conn.headers.get('host')}")}
        return _host_port(origin) in own - {None}
    site = conn.headers.get("sec-fetch-site")
    return site is None or site in _OWN_FETCH


def _host_port(url: str) -> tuple[str, int] | None:
    """``(host, port)`` of a URL with the scheme's default port filled in;
    ``None`` for ``null`` or anything unparseable."""
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return parts.hostname.lower(), port
