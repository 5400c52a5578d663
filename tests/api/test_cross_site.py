"""Another site's page cannot use the sign-in cookie: cookie-authenticated
requests and websockets come from the app's own origin, bodies as JSON;
bearer tokens are unaffected; the API grants no cross-origin access."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.conftest import StoreTarget
from tests.support.live import LiveServer, serve
from trace_sync.settings import Settings

EVIL = "http://evil.example"


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveServer]:
    # Cross-site checks involve no store: SQLite only.
    target = StoreTarget(f"sqlite+aiosqlite:///{tmp_path / 'trace.db'}")
    async with serve(Settings(data_dir=tmp_path / "data", database_url=target.url)) as server:
        yield server


@pytest.fixture
async def browser(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """What a browser sends with the sign-in cookie."""
    cookies = {"trace_token": live.token}
    async with httpx.AsyncClient(base_url=live.url, cookies=cookies, timeout=30) as client:
        yield client


async def workspace_names(live: LiveServer) -> list[str]:
    headers = {"Authorization": f"Bearer {live.token}"}
    async with httpx.AsyncClient(base_url=live.url, headers=headers) as client:
        return [w["name"] for w in (await client.get("/api/workspaces")).json()["items"]]


async def test_a_foreign_page_cannot_create_a_workspace_with_the_cookie(
    live: LiveServer, browser: httpx.AsyncClient
) -> None:
    before = await workspace_names(live)
    forged = await browser.post(
        "/api/workspaces",
        content=b'{"name": "pwned"}',
        headers={"Origin": EVIL, "Content-Type": "text/plain"},
    )
    assert forged.status_code == 403
    assert "cross-site" in forged.json()["error"]["message"]
    # Another port of the same host is another origin too.
    port = live.port + 1
    other_port = await browser.post(
        "/api/workspaces", json={"name": "pwned"}, headers={"Origin": f"http://127.0.0.1:{port}"}
    )
    assert other_port.status_code == 403
    # Without Origin, the browser's Sec-Fetch-Site tells.
    fetched = await browser.get("/api/me", headers={"Sec-Fetch-Site": "same-site"})
    assert fetched.status_code == 403
    assert await workspace_names(live) == before


async def test_the_apps_own_page_uses_the_cookie_with_json_bodies(
    live: LiveServer, browser: httpx.AsyncClient
) -> None:
    own = {"Origin": live.url}
    as_text = await browser.post(
        "/api/workspaces",
        content=b'{"name": "Docs"}',
        headers=own | {"Content-Type": "text/plain"},
    )
    assert as_text.status_code == 422 and "application/json" in as_text.json()["error"]["message"]
    created = await browser.post("/api/workspaces", json={"name": "Docs"}, headers=own)
    assert created.status_code == 201, created.text
    same_origin = await browser.get("/api/me", headers={"Sec-Fetch-Site": "same-origin"})
    assert same_origin.status_code == 200
    assert "Docs" in await workspace_names(live)


async def test_bearer_tokens_are_unaffected_by_origin(live: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {live.token}", "Origin": EVIL}
    async with httpx.AsyncClient(base_url=live.url, headers=headers) as client:
        created = await client.post("/api/workspaces", json={"name": "From a script"})
    assert created.status_code == 201, created.text


async def test_the_api_answers_preflights_without_granting_any_origin(
    live: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=live.url) as client:
        answer = await client.options(
            "/api/workspaces",
            headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
        )
    assert answer.status_code == 204
    assert not [h for h in answer.headers if h.lower().startswith("access-control-")]


async def close_code(url: str, origin: str, cookie: str) -> int:
    headers = {"Origin": origin, "Cookie": f"trace_token={cookie}"}
    async with websockets.connect(url, additional_headers=headers) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


@pytest.mark.parametrize("path", ["/sync/workspace/{wid}", "/bridge", "/ws"])
async def test_a_foreign_page_cannot_open_a_socket_with_the_cookie(
    live: LiveServer, path: str
) -> None:
    [workspace] = await live.ctx.store.directory.list_workspaces(live.ctx.owner.user_id)
    url = live.ws_url + path.format(wid=workspace.id)
    assert await close_code(url, EVIL, live.token) == 4403


async def test_the_apps_own_page_syncs_with_the_cookie(live: LiveServer) -> None:
    [workspace] = await live.ctx.store.directory.list_workspaces(live.ctx.owner.user_id)
    headers = {"Origin": live.url, "Cookie": f"trace_token={live.token}"}
    url = f"{live.ws_url}/sync/workspace/{workspace.id}"
    async with websockets.connect(url, additional_headers=headers) as ws:
        first = await ws.recv()
    assert isinstance(first, bytes) and first[:1] == b"\x00"  # sync step 1: served
