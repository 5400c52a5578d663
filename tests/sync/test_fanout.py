"""Broadcast fan-out: one frame, framed once, reaches every receiver intact and
in order, over the direct path and over the plain-ASGI fallback alike."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from pycrdt import Doc, Text

from tests.support.live import LiveServer, serve
from tests.support.py_client import PyClient
from tests.support.stalled_client import StalledClient
from tests.support.state import same_state
from tests.sync.conftest import new_session, notes_url, settings_for
from trace_sync.contract import sync_protocol as p
from trace_sync.sync.wire import FramedWebSocketProtocol

WsProtocol = type[asyncio.Protocol] | str
MARKER = re.compile(rb"#(\d{4})#")
#: Our uvicorn protocol (frames written straight to each socket), and uvicorn's
#: own, under which every frame goes through ASGI.
PATHS = pytest.mark.parametrize(
    "ws", [FramedWebSocketProtocol, "websockets-sansio"], ids=["direct", "asgi"]
)


def markers(updates: list[bytes]) -> list[int]:
    """Markers in the order the updates holding them arrived."""
    return [int(m[1]) for update in updates for m in MARKER.finditer(update)]


def typed(count: int, padding: int) -> tuple[Doc[Any], list[bytes]]:
    """A replica where ``#0000#...``, ``#0001#...``, ... were typed, and one update each."""
    doc: Doc[Any] = Doc()
    found: list[bytes] = []
    doc.observe(lambda event: found.append(event.update))
    text = doc.get("t", type=Text)
    for i in range(count):
        text += f"#{i:04d}#" + "." * padding
    return doc, found


@pytest.mark.timeout(300)  # 9 MB through a stalled reader, on a machine that may be busy
@PATHS
async def test_every_receiver_gets_every_update_in_order(tmp_path: Path, ws: WsProtocol) -> None:
    """Fast readers, and one that stalls and then reads while more arrives: its
    queue drains while new frames come in, and they must wait their turn."""
    # 9 MB of notes: allowed past the default 8 MiB cap on notes.
    settings = settings_for(tmp_path, max_queued_frames=100_000, max_notes_bytes=32 * 1024 * 1024)
    async with serve(settings, ws=ws, keepalive=False) as live:
        url = notes_url(live, await new_session(live))
        source, updates = typed(300, padding=30_000)  # 9 MB: more than socket buffers hold
        async with contextlib.AsyncExitStack() as stack:
            slow = await stack.enter_async_context(StalledClient(f"{url}?token={live.token}"))
            fast = [await stack.enter_async_context(PyClient(url, live.token)) for _ in range(3)]
            writer = await stack.enter_async_context(PyClient(url, live.token))
            await asyncio.gather(*(client.synced.wait() for client in [*fast, writer]))
            # Until the stalled socket is full and frames wait in its queue: how much
            # the kernel's buffers take first (up to ~4 MB) depends on the machine.
            queued, sent = live.ctx.metrics.queued_frames, 0
            got = fast[0].updates_received  # fanned out: the stalled one was handed them too
            while not queued._value.get():
                assert sent < 250, "the stalled client's socket never filled"
                for update in updates[sent : sent + 10]:
                    await writer.send_raw(p.update_message(update))
                sent += 10
                await fast[0].wait_for(lambda n=sent: len(markers(got)) >= n, timeout=30)
            reading = asyncio.create_task(slow.catch_up(source))
            for update in updates[sent:]:  # more while it reads
                await writer.send_raw(p.update_message(update))
            await reading
            for client in fast:
                await client.wait_for(lambda c=client: same_state(c.doc, source), timeout=30)
        for received in [slow.updates_received, *(c.updates_received for c in fast)]:
            assert markers(received) == list(range(300))
        assert live.ctx.metrics.folds._value.get() == 0


async def test_frames_of_every_length_arrive_intact(server: LiveServer) -> None:
    url = notes_url(server, await new_session(server))
    async with PyClient(url, server.token) as writer, PyClient(url, server.token) as reader:
        await asyncio.gather(writer.synced.wait(), reader.synced.wait())
        # Websocket lengths: 7 bits up to 125 bytes, 16 bits up to 65535, 64 bits above.
        sizes = (1, 100, 125, 126, 1000, 65_000, 65_536, 200_000)
        for size in sizes:
            writer.edit(len(writer.text), "x" * size)
            await reader.wait_for(lambda: same_state(reader.doc, writer.doc))
        assert str(reader.text) == str(writer.text)
    # What went out is counted, for operators reading /metrics.
    async with httpx.AsyncClient() as http:
        scraped = (await http.get(f"{server.url}/metrics")).text
    sent = re.search(r"^trace_sync_bytes_out_total (\S+)$", scraped, re.MULTILINE)
    assert sent is not None and float(sent[1]) >= sum(sizes)


async def test_a_client_folded_on_presence_alone_still_converges(tmp_path: Path) -> None:
    """A stalled client whose backlog holds only presence frames is folded from
    the last update it was handed: it must still get every later edit."""
    # Presence states of 50 KB fill the stalled socket fast: allowed past the default cap.
    settings = settings_for(tmp_path, max_queued_frames=8, max_presence_bytes=64 * 1024)
    async with serve(settings, keepalive=False) as live:
        url = notes_url(live, await new_session(live))
        async with (
            StalledClient(f"{url}?token={live.token}") as slow,
            PyClient(url, live.token) as writer,
        ):
            await writer.synced.wait()
            writer.edit(0, "before")
            folds = live.ctx.metrics.folds
            for clock in range(1, 200):  # 50 KB of presence each: the stalled socket fills
                if folds._value.get() >= 1:
                    break
                await writer.set_presence({"blob": "z" * 50_000}, clock=clock)
            await writer.wait_for(lambda: folds._value.get() >= 1, timeout=30)
            writer.edit(0, "after ")
            await slow.catch_up(writer.doc)
            assert str(slow.doc.get("t", type=Text)) == "after before"


async def test_a_burst_bigger_than_a_batch_arrives_whole_and_in_order(server: LiveServer) -> None:
    """600 writes in one event-loop turn: the pending batch is merged on the way
    (every 256 updates) and still reaches receivers as one ordered whole."""
    name = f"session/{await new_session(server)}/notes"
    url = f"{server.ws_url}/sync/{name}"
    async with PyClient(url, server.token) as a, PyClient(url, server.token) as b:
        await asyncio.gather(a.synced.wait(), b.synced.wait())
        async with server.ctx.sync.rooms.open(name) as room:
            text = room.doc.get("t", type=Text)
            for i in range(600):
                with room.doc.transaction(origin="svc"):
                    text += f"#{i:04d}#"
        for client in (a, b):
            await client.wait_for(lambda c=client: len(str(c.text)) == 600 * 6)
            assert markers(client.updates_received) == list(range(600))
