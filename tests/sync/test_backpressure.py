"""A slow reader costs bounded memory and never holds up the others;
a failing store disconnects the room's clients instead of losing writes."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from tests.support.live import LiveServer, serve
from tests.support.py_client import PyClient
from tests.support.stalled_client import StalledClient
from tests.support.state import same_state
from tests.sync.conftest import new_session, notes_url, settings_for
from tests.sync.test_fanout import PATHS, WsProtocol

CHUNK = "x" * 2000


@PATHS
async def test_a_slow_client_is_folded_and_catches_up(tmp_path: Path, ws: WsProtocol) -> None:
    async with serve(settings_for(tmp_path, max_queued_frames=8), ws=ws, keepalive=False) as live:
        url = notes_url(live, await new_session(live))
        metrics = live.ctx.metrics
        async with (
            StalledClient(f"{url}?token={live.token}") as slow,
            PyClient(url, live.token) as writer,
            PyClient(url, live.token) as fast,
        ):
            await writer.synced.wait()
            await fast.synced.wait()
            for i in range(80):  # 8 MB: more than the socket buffers hold
                writer.edit(0, f"{i:04d}" + CHUNK * 50)
                await fast.wait_for(lambda: same_state(fast.doc, writer.doc))
                assert metrics.queued_frames._value.get() <= 8 + 1
            assert metrics.folds._value.get() >= 1
            await slow.catch_up(writer.doc)
        await writer.wait_for(lambda: metrics.queued_frames._value.get() == 0)  # nothing leaks


async def test_a_store_failure_closes_the_room_with_1011(server: LiveServer) -> None:
    url = notes_url(server, await new_session(server))
    async with PyClient(url, server.token) as client:
        await client.synced.wait()
        async with server.ctx.store.db.begin() as conn:
            await conn.execute(text("DROP TABLE updates"))
        client.edit(0, "lost?")
        assert await client.wait_closed() == 1011
    assert server.ctx.sync.rooms.get(url.split("/sync/")[1]) is None
