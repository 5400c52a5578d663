"""A live preview of a cloud session: its app runs in the sandbox, next to its bridge,
and a reader opens it through Trace (the bridge in the sandbox does the proxying)."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from websockets.asyncio.client import connect

from tests.bridges.conftest import Bed
from tests.conftest import eventually
from tests.hosting.conftest import IoView
from tests.hosting.test_previews import APP, free_port
from tests.hosts.test_sandbox_sessions import cloud  # noqa: F401  (the fixture)
from tests.support.git import commit_all, write
from trace_sync.client.sync_client import SyncClient


async def test_a_reader_opens_a_sandboxed_sessions_app(cloud: Bed) -> None:  # noqa: F811
    write(Path(cloud.repo.path), {"app.py": APP})
    commit_all(Path(cloud.repo.path), "the app")
    port = free_port()
    prompt = f"exec {sys.executable} app.py {port}"
    session = await cloud.start(cloud.owner, location="cloud", prompt=prompt)
    url = f"session/{session.id}/io"
    async with SyncClient(cloud.live.url, url, cloud.owner.token, read_only=True) as client:
        await client.wait_synced()
        io = IoView(client)
        await eventually(lambda: "app-listening" in io.output(), 90)
    path = f"/api/sessions/{session.id}/preview"
    declared = await cloud.http.put(path, json={"port": port}, headers=cloud.headers(cloud.owner))
    assert declared.status_code == 200, declared.text
    shown = await cloud.http.get(path, headers=cloud.headers(cloud.viewer))
    link = cloud.live.url + urlsplit(shown.json()["url"]).path
    async with httpx.AsyncClient() as browser:
        page = await browser.get(link + "in-the-sandbox")
        assert page.status_code == 200, page.text
        assert page.text.startswith("app page /in-the-sandbox")
    async with connect("ws" + link.removeprefix("http") + "echo") as ws:
        await ws.send("from a phone")
        assert await ws.recv() == "from a phone"
