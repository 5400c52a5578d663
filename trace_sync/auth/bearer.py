"""Where a request carries its token: Bearer header, ``?token=`` or the web UI's cookie."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import HTTPConnection
from starlette.responses import Response

COOKIE = "trace_token"
#: How long the browser keeps the sign-in cookie; every request it
#: authenticates renews it, so only a browser left unused this long signs out.
COOKIE_LIFE = timedelta(days=30)


def presented_token(conn: HTTPConnection) -> str | None:
    return _explicit_token(conn) or conn.cookies.get(COOKIE)


def by_cookie(conn: HTTPConnection) -> bool:
    """Whether the token that authenticates ``conn`` is the sign-in cookie, which
    the browser attaches to any page's request (so it needs the cross-site checks)."""
    return _explicit_token(conn) is None and bool(conn.cookies.get(COOKIE))


def set_cookie(response: Response, token: str, base_url: str) -> None:
    """Put the sign-in cookie on ``response``: never readable by scripts, never
    sent by other sites' pages, and only over TLS when the server is served so."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(COOKIE_LIFE.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=base_url.startswith("https://"),
    )


def _explicit_token(conn: HTTPConnection) -> str | None:
    scheme, _, value = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return conn.query_params.get("token") or None
