"""An idle HTTP connection stays open longer than clients keep theirs, so a client's
next request on it never races the server closing it (seen as ``httpx.ReadError``
in a loaded run while the server closed at uvicorn's default of 5 s, httpx's own)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.support.live import serve
from tests.sync.conftest import settings_for

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"
#: httpx's default keep-alive expiry: a client may reuse its connection until then.
CLIENT_KEEPS_S = httpx.Limits().keepalive_expiry or 5.0


@pytest.mark.process  # idles past a client's keep-alive: a few seconds of waiting
async def test_a_connection_idle_as_long_as_a_client_keeps_it_still_answers(
    tmp_path: Path,
) -> None:
    async with serve(settings_for(tmp_path)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            for _ in range(2):
                writer.write(REQUEST)
                assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
                await reader.readuntil(b"}")  # the small JSON body
                await asyncio.sleep(CLIENT_KEEPS_S + 0.5)  # idle: the time is the point
            assert not reader.at_eof()
        finally:
            writer.close()
