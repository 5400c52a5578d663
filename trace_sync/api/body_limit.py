"""The largest HTTP request body, refused in the one error shape (413).

Starlette's own limit answers in plain text; this one answers before reading
when ``Content-Length`` is over, and stops a streamed body as it passes the
limit (the route's read raises ``TooLarge``, which the error table maps).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trace_sync.api.errors import error_response
from trace_sync.contract.errors import TooLarge


class BodyLimit:
    """ASGI middleware: ``Starlette(middleware=[Middleware(BodyLimit, max_bytes=...)])``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse()(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise TooLarge(self._message())
            return message

        return counted

    def _refuse(self) -> ASGIApp:
        return error_response(413, TooLarge.code, self._message())

    def _message(self) -> str:
        return f"request body is over the {self.max_bytes}-byte limit"
