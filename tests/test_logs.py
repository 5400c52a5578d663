"""Logs never carry secrets: the real server's log after token-bearing requests."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.py_client import PyClient
from tests.support.server_process import running_server
from trace_sync.logs import redact


def test_tokens_and_codes_are_redacted_from_any_text() -> None:
    line = "GET /sync/session/s_1/io?token=trace_t_ab12_abcdefghijklmnopqrstuvwxyz&x=1"
    assert redact(line) == "GET /sync/session/s_1/io?token=[redacted]&x=1"
    assert redact("Bearer trace_t_ab12_abcdefghijklmnopqrstuvwxyz") == "Bearer [redacted]"
    assert redact("/signin?code=Zm9vYmFy") == "/signin?code=[redacted]"


@pytest.mark.process
async def test_the_servers_log_keeps_no_token_it_was_shown(tmp_path: Path) -> None:
    with running_server(tmp_path / "data") as server:
        async with PyClient(f"{server.ws_url}/sync/workspace/w_nope", server.token) as client:
            await client.wait_closed()
        headers = {"Authorization": f"Bearer {server.token}"}
        async with httpx.AsyncClient(headers=headers) as http:
            link = (await http.post(f"{server.url}/api/signin-links")).json()["url"]
            await http.get(link, follow_redirects=False)
        output = server.output()
    # Sockets are not logged one by one (a fifth of a join's cost); requests are.
    assert "/sync/workspace/w_nope" not in output
    assert "GET /signin?code=[redacted]" in output
    assert server.token not in output
    assert link.split("code=")[1] not in output
