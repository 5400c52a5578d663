"""Offline: with the server down the app keeps showing the last state (also after a
restart), takes draft edits and commands, and delivers both once the server is back."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pycrdt import Text

from tests.app.conftest import FAST
from tests.app.headless import Headless
from tests.app.seed import ScriptedRuntime, SeededDir, seed_data_dir, streamed
from tests.conftest import eventually
from tests.support.server_process import ServerProcess
from trace_app import commands, notes
from trace_app.client import UNREACHABLE, TraceClient
from trace_app.ui.navigator import ViewPlace
from trace_app.ui.shell import Origin
from trace_sync.client.sync_client import SyncClient


@pytest.fixture
async def started(tmp_path: Path) -> AsyncIterator[tuple[ServerProcess, SeededDir]]:
    seeded = await seed_data_dir(tmp_path / "data", tmp_path)
    server = ServerProcess(tmp_path / "data")
    server.start()
    try:
        yield server, seeded
    finally:
        if server.process is not None:
            server.stop(signal.SIGKILL)


async def test_the_last_state_stays_and_offline_work_arrives_after_reconnect(
    started: tuple[ServerProcess, SeededDir], tmp_path: Path
) -> None:
    server, seeded = started
    sid = seeded.seeded.sessions["Add email to users"]
    app_data = tmp_path / "app-data"
    async with ScriptedRuntime(server.url, sid, seeded.seeded) as runtime:
        await runtime.io.flush()
        async with TraceClient(server.url, server.token, data_dir=app_data, backoff=FAST) as trace:
            await trace.start()
            await trace.open_session(sid)
            await eventually(lambda: len(trace.session(sid).files) == 2)
    server.stop(signal.SIGKILL)

    # The app restarts with the server down: everything comes from its replicas.
    async with TraceClient(server.url, server.token, data_dir=app_data, backoff=FAST) as trace:
        await trace.start()
        assert trace.connection().state != "online"
        assert {r.title for r in trace.sessions()} >= {"Add email to users", "Fix flaky CI"}
        state = await trace.open_session(sid)
        assert [f.path for f in state.files] == ["app/models.py", "docs/email.md"]
        assert state.approvals[0].title == "Run the test suite"
        screen = trace.screen(sid, state.terminals[0].id)
        assert screen is not None and any("FAILED" in line for line in screen.emulator.text())
        notes.edit_text(trace.notes_of(sid).doc, "draft", "written offline")
        command = trace.send(commands.add_member(trace.workspace_id, "carol", "viewer"))
        assert trace.connection().pending == 1
        assert trace.outbox.commands()[0].status == "pending"

        server.start()
        await eventually(lambda: trace.connection().state == "online", within=30)
        await eventually(lambda: trace.connection().pending == 0, within=30)
        async with SyncClient(server.url, f"session/{sid}/notes", seeded.other_token) as bob:
            await bob.wait_synced()
            draft = lambda: str(bob.doc.get("draft", type=Text))  # noqa: E731
            await eventually(lambda: draft() == "written offline")
        members = await trace.api.members(trace.workspace_id)
        assert "carol" in {m["user"]["name"] for m in members}
        assert command.key  # sent once, under its own idempotency key


async def test_the_window_says_the_server_is_away_above_the_view_it_keeps(
    started: tuple[ServerProcess, SeededDir], tmp_path: Path
) -> None:
    server, seeded = started
    sid = seeded.seeded.sessions["Add email to users"]
    origin = Origin(server.url, server.token, data_dir=tmp_path / "app-data")
    async with (
        ScriptedRuntime(server.url, sid, seeded.seeded) as runtime,
        Headless(origin, route=f"/session/{sid}/files") as app,
    ):
        await runtime.io.flush()
        await eventually(lambda: "A email.md  +1 −0" in app.texts(), within=30)
        assert UNREACHABLE not in app.text()
        server.stop(signal.SIGKILL)
        await eventually(lambda: UNREACHABLE in app.text(), within=30)
        assert "A email.md  +1 −0" in app.texts()  # the view stays under the notice
        server.start()
        await eventually(lambda: UNREACHABLE not in app.text(), within=30)
        assert app.shell.place == ViewPlace("session", sid, "files")
        assert "A email.md  +1 −0" in app.texts()


async def test_two_peoples_tabs_follow_again_after_a_restart_through_the_replica_they_share(
    started: tuple[ServerProcess, SeededDir],
) -> None:
    """Web tabs (no app-data folder) of different people share one replica per
    document, each reading it while their own access is granted: a server restart
    leaves both tabs following the session, on the one shared connection."""
    server, seeded = started
    sid = seeded.seeded.sessions["Add email to users"]
    io = f"session/{sid}/io"
    async with (
        ScriptedRuntime(server.url, sid, seeded.seeded) as runtime,
        TraceClient(server.url, server.token, backoff=FAST) as first,
        TraceClient(server.url, seeded.other_token, backoff=FAST) as second,
    ):
        tabs = (first, second)
        for tab in tabs:
            await tab.start()
            await tab.open_session(sid)
        assert first.replicas.get(io).doc is second.replicas.get(io).doc  # type: ignore[union-attr]
        server.stop(signal.SIGKILL)
        await eventually(lambda: all(t.connection().state == "offline" for t in tabs))

        server.start()
        await eventually(lambda: all(t.connection().state == "online" for t in tabs), within=30)
        runtime.stream(" Green after the restart.")
        await runtime.flush()
        for tab in tabs:
            heard = lambda tab=tab: streamed(tab, sid).endswith("after the restart.")  # noqa: E731
            await eventually(heard, within=30)
        assert first.replicas.get(io).doc is second.replicas.get(io).doc  # type: ignore[union-attr]


async def test_a_devices_inbox_hears_news_after_a_restart_without_asking(
    started: tuple[ServerProcess, SeededDir],
) -> None:
    """The inbox reads again when the person's signal document changes; its
    connection comes back after a restart like any other, and still carries the news
    (the device reads on its own only once an hour here)."""
    server, seeded = started
    sid = seeded.seeded.sessions["Add email to users"]
    async with (
        ScriptedRuntime(server.url, sid, seeded.seeded) as runtime,
        TraceClient(server.url, server.token, backoff=FAST, inbox_every_s=3600) as device,
    ):
        await device.start()
        await eventually(lambda: device.inbox.signal is not None and device.inbox.unread > 0)
        before = device.inbox.unread
        server.stop(signal.SIGKILL)
        server.start()
        await eventually(lambda: device.connection().state == "online", within=30)
        runtime.ask("Which database should the migration target?", ["PostgreSQL", "SQLite"])
        await runtime.flush()
        await eventually(lambda: device.inbox.unread == before + 1, within=30)
