"""The API client against a live server: the contract's errors, commands that run once."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support.live import LiveServer
from trace_sync.client.api import ApiClient, Unreachable
from trace_sync.client.blocking import BlockingApiClient
from trace_sync.contract.errors import InvalidInput, NotFound, Unauthorized


class LosesFirstReply(httpx.AsyncBaseTransport):
    """Delivers every request, but the first command's reply never arrives."""

    def __init__(self) -> None:
        self._real = httpx.AsyncHTTPTransport()
        self.keys: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._real.handle_async_request(request)
        if request.method == "GET":
            return response
        self.keys.append(request.headers["Idempotency-Key"])
        if len(self.keys) == 1:
            await response.aclose()
            raise httpx.ReadError("connection reset", request=request)
        return response

    async def aclose(self) -> None:
        await self._real.aclose()


async def test_refusals_are_the_contracts_errors_with_the_servers_message(
    server: LiveServer,
) -> None:
    async with ApiClient(server.url, server.token) as api:
        with pytest.raises(NotFound, match="s_nope"):
            await api.get("/api/sessions/s_nope")
        with pytest.raises(InvalidInput):
            await api.post("/api/workspaces", {"name": ""})
    async with ApiClient(server.url, "not-a-token") as stranger:
        with pytest.raises(Unauthorized):
            await stranger.me()


async def test_a_command_whose_reply_was_lost_is_sent_again_and_runs_once(
    server: LiveServer,
) -> None:
    transport = LosesFirstReply()
    async with ApiClient(server.url, server.token, transport=transport) as api:
        created = await api.post("/api/workspaces", {"name": "Once"})
        names = [w["name"] for w in (await api.me())["workspaces"]]
    assert len(transport.keys) == 2 and transport.keys[0] == transport.keys[1]
    assert created["name"] == "Once" and names.count("Once") == 1


async def test_a_server_that_is_down_is_unreachable(server: LiveServer) -> None:
    async with ApiClient("http://127.0.0.1:9", server.token) as api:
        with pytest.raises(Unreachable, match="cannot reach the server"):
            await api.post("/api/workspaces", {"name": "Never"})


async def test_the_blocking_client_sends_commands_and_pages_through_lists(
    server: LiveServer,
) -> None:
    def from_a_script() -> list[str]:  # as the CLI does, without an event loop of its own
        with BlockingApiClient.local(server.url, server.token) as api:
            api.post("/api/workspaces", {"name": "Scripted"})
            return [w["name"] for w in api.items("/api/workspaces")]

    assert "Scripted" in await asyncio.to_thread(from_a_script)
