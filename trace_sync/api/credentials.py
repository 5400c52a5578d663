"""The authenticated caller of an HTTP request."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from trace_sync.auth.bearer import presented_token
from trace_sync.auth.origin import check_origin
from trace_sync.auth.principal import Principal
from trace_sync.contract.errors import Forbidden
from trace_sync.store.records import TokenKind


async def principal_of(conn: HTTPConnection) -> Principal:
    """Authenticate the caller once per request; raises ``Unauthorized``, or
    ``Forbidden`` when another site's page sent the sign-in cookie."""
    cached: Principal | None = getattr(conn.state, "principal", None)
    if cached is not None:
        return cached
    ctx = conn.app.state.ctx
    check_origin(conn, ctx.settings.base_url)
    gate = ctx.gate
    principal: Principal = await gate.authenticate(presented_token(conn))
    conn.state.principal = principal
    return principal


async def person_of(conn: HTTPConnection) -> Principal:
    """The caller, who must hold a user token: a runtime (bridge) token may only
    sync the documents of the sessions it hosts, never act for its user here."""
    principal = await principal_of(conn)
    if principal.kind is not TokenKind.USER:
        raise Forbidden("a runtime token cannot use the HTTP API; use a user token")
    return principal
