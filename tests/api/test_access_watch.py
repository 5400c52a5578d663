"""An access watch (``/sync/<name>?watch=1``) is closed exactly when its token's own
connection would be, and carries nothing but its grant (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import websockets

from tests.api.conftest import Team
from tests.conftest import eventually
from tests.support.py_client import PyClient
from trace_sync.client.access_watch import AccessWatch
from trace_sync.client.reconnect import LinkState
from trace_sync.client.sync_client import document_url
from trace_sync.contract import sync_protocol as p


async def closed_within_a_second(watch: AccessWatch, code: int) -> None:
    started = asyncio.get_running_loop().time()
    await eventually(lambda: watch.state is LinkState.REFUSED, within=1.0)
    assert watch.close_code == code
    assert asyncio.get_running_loop().time() - started < 1.0


async def test_a_removed_members_watch_is_closed(team: Team) -> None:
    name = f"session/{(await team.start())['id']}/io"
    async with AccessWatch(team.live.url, name, team.tokens["member"]) as watch:
        await watch.wait_granted()
        removed = await team.api("owner").delete(
            f"/api/workspaces/{team.wid}/members/{team.users['member']}"
        )
        assert removed.status_code == 204, removed.text
        await closed_within_a_second(watch, 4403)


async def test_a_revoked_tokens_watch_is_closed(team: Team) -> None:
    name = f"workspace/{team.wid}"
    async with AccessWatch(team.live.url, name, team.tokens["viewer"]) as watch:
        await watch.wait_granted()
        token_id = (await team.api("viewer").get("/api/me")).json()["token_id"]
        assert (await team.api("viewer").post(f"/api/tokens/{token_id}/revoke")).status_code == 200
        await closed_within_a_second(watch, 4401)


async def test_a_watch_is_sent_its_grant_and_nothing_else(team: Team) -> None:
    name = f"session/{(await team.start())['id']}/notes"
    url = document_url(team.live.url, name, team.tokens["viewer"], watch="1")
    sync = f"{team.live.ws_url}/sync/{name}"
    async with websockets.connect(url) as watch, PyClient(sync, team.tokens["owner"]) as owner:
        assert p.decode(await watch.recv()) == p.AuthGranted(p.SCOPE_READ)
        async with PyClient(sync, team.tokens["viewer"]) as reader:
            await owner.synced.wait()
            owner.edit(0, "secret draft")
            await owner.set_presence({"name": "owner"})
            await reader.wait_for(lambda: str(reader.text) == "secret draft" and reader.awareness)
        try:
            extra = await asyncio.wait_for(watch.recv(), timeout=1.0)
        except TimeoutError:
            extra = None
        assert extra is None, "a watch was sent the document's traffic"


async def test_a_watch_that_sends_anything_is_closed_with_4400(team: Team) -> None:
    name = f"workspace/{team.wid}"
    url = document_url(team.live.url, name, team.tokens["member"], watch="1")
    async with websockets.connect(url) as watch:
        await watch.recv()  # granted
        await watch.send(p.sync_step1(p.EMPTY_STATE))
        await watch.wait_closed()
        assert watch.close_code == 4400
