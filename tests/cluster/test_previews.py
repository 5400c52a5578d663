"""A preview's websocket in a cluster: the browser on one server process, the
session's bridge on another. Two real processes on PostgreSQL and a private Redis,
a real ``trace bridge`` running the session's app, a websocket client as the browser."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.cluster.test_bridges import _shown, api, credentials, members, start_shell
from tests.conftest import StoreTarget, eventually
from tests.hosting.test_previews import APP
from tests.support.bridge_process import BridgeProcess
from tests.support.git import make_repo
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess, free_port
from tests.support.waiting_tools import follow


async def test_a_preview_websocket_opened_through_one_process_reaches_a_bridge_on_the_other(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    a, b = await members(postgres, redis_server, tmp_path, servers)
    (tmp_path / "app.py").write_text(APP)
    port = free_port()
    checkout = make_repo(tmp_path / "shop", branch="main")
    with BridgeProcess(b.url, b.token, tmp_path / "bridge") as bridge:
        creds = await credentials(bridge)
        await eventually(lambda: _shown(a, creds.runtime_id), within=30)
        sid = await start_shell(a, checkout, f"exec {sys.executable} {tmp_path}/app.py {port}")
        async with follow(a, f"session/{sid}/io") as io:
            await eventually(lambda: "app-listening" in io.lines(), within=60)
        declared = await api(a, "PUT", f"/api/sessions/{sid}/preview", port=port)
        assert declared.status_code == 200, declared.text
        path = urlsplit(declared.json()["url"]).path
        for server in (a, b):  # the browser on the bridge's process, and on the other
            url = f"ws{server.url.removeprefix('http')}{path}echo"
            async with asyncio.timeout(30), connect(url) as ws:
                for n in range(20):  # in order, each one
                    await ws.send(f"frame {n} via {server.url}")
                assert [await ws.recv() for _ in range(20)] == [
                    f"frame {n} via {server.url}" for n in range(20)
                ]
                await ws.send(b"\x00\x01bytes")
                assert await ws.recv() == b"\x00\x01bytes"
        async with connect(f"ws{a.url.removeprefix('http')}{path}echo") as ws:
            await ws.send("before the bridge goes")
            assert await ws.recv() == "before the bridge goes"
            bridge.__exit__()  # the bridge on B goes: A's browser socket closes too
            async with asyncio.timeout(30):  # within a check of CHECK_S and a lease
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
