"""Our uvicorn protocol (``sync/wire.py``): what it does per socket."""

from __future__ import annotations

import logging

import pytest

from tests.support.live import LiveServer
from tests.support.py_client import PyClient
from tests.sync.conftest import new_session, notes_url


async def test_a_join_builds_no_per_socket_log_record(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A thousand clients reconnecting at once must not build two thousand log
    records only for the handler to drop them."""
    url = notes_url(server, await new_session(server))
    with caplog.at_level(logging.INFO):
        async with PyClient(url, server.token) as client:
            await client.synced.wait()
    noise = [r.getMessage() for r in caplog.records if r.name.startswith(("uvicorn", "websockets"))]
    assert noise == []
