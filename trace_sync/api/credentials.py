"""The authenticated caller of an HTTP request."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from trace_sync.auth.bearer import presented_token
from trace_sync.auth.principal import Principal


async def principal_of(conn: HTTPConnection) -> Principal:
    """Authenticate the caller; raises ``Unauthorized``."""
    gate = conn.app.state.ctx.gate
    principal: Principal = await gate.authenticate(presented_token(conn))
    return principal
