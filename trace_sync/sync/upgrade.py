"""The websocket upgrade on the request httptools already parsed.

uvicorn hands an upgrade to its websocket protocol by writing the parsed
request back out as bytes, which ``websockets`` parses again, in Python, and
then checks header by header with its general grammar: in a join wave that
was over half of the handshake's CPU (``bench/reconnect_storm.py``; a join is
mostly handshake). A plain RFC 6455 upgrade (GET, HTTP/1.1, version 13, a
16-byte key, no subprotocol asked for) is checked here on the parsed headers
instead, and answered the same way. Extensions a client offers (browsers
always offer compression) are declined unread, as ``websockets`` declines
them when the server has none, which this path requires. Anything else takes
uvicorn's path unchanged, which answers it as before (with an error, or with
what ``websockets`` negotiates).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from trace_sync.sync.wire import FramedWebSocketProtocol

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
_READ = frozenset((b"upgrade", b"connection", b"sec-websocket-key", b"sec-websocket-version"))


def accept_key(method: str, http_version: str, headers: list[tuple[bytes, bytes]]) -> str | None:
    """``Sec-WebSocket-Accept`` for a plain upgrade (header names lowercased, as
    uvicorn keeps them), or ``None`` when the request needs the general path."""
    if method != "GET" or http_version != "1.1":
        return None
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        if name == b"sec-websocket-protocol" or name in _READ and name in found:
            return None  # a subprotocol to negotiate, or a header given twice
        if name in _READ:
            found[name] = value
    key = found.get(b"sec-websocket-key", b"")
    if found.get(b"sec-websocket-version") != b"13" or not _is_key(key):
        return None
    if found.get(b"upgrade", b"").strip().lower() != b"websocket":
        return None
    options = (o.strip().lower() for o in found.get(b"connection", b"").split(b","))
    if b"upgrade" not in options:
        return None
    return base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()


def _is_key(key: bytes) -> bool:
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except binascii.Error:
        return False


class UpgradingHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, opening plain upgrades itself (see the module)."""

    def handle_websocket_upgrade(self) -> None:
        plain = self._plain()
        if plain is None:
            super().handle_websocket_upgrade()
            return
        url, accept = plain
        self.connections.discard(self)
        protocol = FramedWebSocketProtocol(
            config=self.config, server_state=self.server_state, app_state=self.app_state
        )
        protocol.connection_made(self.transport)
        protocol.upgraded(url.path, url.query or b"", self.headers, accept)
        self.transport.set_protocol(protocol)

    def _plain(self) -> tuple[Any, str] | None:
        """The parsed URL and the answer's key of a plain upgrade, else ``None``."""
        if self.ws_protocol_class is not FramedWebSocketProtocol:
            return None
        if self.config.ws_per_message_deflate or not self.url.isascii():
            return None
        accept = accept_key(self.scope["method"], self.scope["http_version"], self.headers)
        if accept is None:
            return None
        try:
            return httptools.parse_url(self.url), accept
        except httptools.HttpParserInvalidURLError:
            return None
