"""Where a request carries its token: Bearer header, ``?token=`` or the web UI's cookie."""

from __future__ import annotations

from starlette.requests import HTTPConnection

COOKIE = "trace_token"


def presented_token(conn: HTTPConnection) -> str | None:
    scheme, _, value = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return conn.query_params.get("token") or conn.cookies.get(COOKIE)
