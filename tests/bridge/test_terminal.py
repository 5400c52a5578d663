"""Live terminals on the real server: a runtime records, people follow with SyncClients.

The runtime writes with a runtime token for the session it hosts (as the
bridge will); viewers read with the owner's token, read-only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from pycrdt import Doc

from tests.conftest import eventually
from tests.support.live import LiveServer
from tests.support.server_process import ServerProcess
from tests.sync.conftest import server as server  # noqa: F401, PLC0414  (a fixture)
from trace_sync.bridge.sessions.log_segments import MemoryLogSegments, SyncLogSegments, entries
from trace_sync.bridge.terminals.output import OutputLimits
from trace_sync.bridge.terminals.terminal import Terminal
from trace_sync.client.reconnect import Backoff, LinkState
from trace_sync.client.sync_client import SyncClient
from trace_sync.docs.entries import SegmentRef, TerminalInfo
from trace_sync.docs.layouts import SESSION_IO
from trace_sync.docs.typed import read_array, read_map, root_of
from trace_sync.services.accounts import AccountService
from trace_sync.settings import sqlite_url
from trace_sync.store import Store
from trace_sync.store.records import TokenKind

FAST = Backoff(first=0.05, longest=0.5)
SMALL = OutputLimits(window_bytes=16 << 10, segment_chars=64 << 10, piece_chars=16 << 10)


async def hosted_session(live: LiveServer) -> tuple[str, str]:
    """A session assigned to a runtime; returns its id and the runtime's token."""
    store, owner = live.ctx.store, live.ctx.owner.user_id
    [workspace] = await store.directory.list_workspaces(owner)
    session = await store.sessions.create(workspace.id, owner)
    issued = await AccountService(store).issue_token(
        owner, "bridge", kind=TokenKind.RUNTIME, runtime_id="rt_test"
    )
    await store.sessions.assign_runtime(session.id, "rt_test")
    return session.id, issued.token


def info(doc: Doc[Any], tid: str = "t1") -> TerminalInfo | None:
    found = read_map(doc, SESSION_IO, "terminals").get(tid)
    return found if isinstance(found, TerminalInfo) else None


def ended(doc: Doc[Any], tid: str = "t1") -> int | None:
    """The exit code once the terminal shows it ended, else None."""
    found = info(doc, tid)
    return found.exit_code if found is not None and found.state == "exited" else None


def window(doc: Doc[Any], tid: str = "t1") -> str:
    text = root_of(doc, SESSION_IO, "output").get(tid)
    return "" if text is None else str(text)


async def scrollback(url: str, token: str, session_id: str, tid: str = "t1") -> tuple[str, int]:
    """Everything a newcomer can read of a terminal (segments, then the window),
    and the size of the io document it downloaded."""
    async with SyncClient(url, f"session/{session_id}/io", token) as viewer:
        await viewer.wait_synced()
        refs = read_array(viewer.doc, SESSION_IO, "segments")
        names = [r.name for r in refs if isinstance(r, SegmentRef) and r.terminal_id == tid]
        live_window, size = window(viewer.doc, tid), len(viewer.doc.get_update())
    parts = []
    for name in names:
        async with SyncClient(url, f"session/{session_id}/log/{name}", token) as seg:
            await seg.wait_synced()
            parts.append("".join(entries(seg.doc)))
    return "".join(parts) + live_window, size


async def complete(url: str, token: str, session_id: str, expected: str) -> bool:
    text, _ = await scrollback(url, token, session_id)
    return text == expected


def printer(prefix: str, lines: int) -> tuple[list[str], str]:
    """A program printing coloured, non-ASCII lines, and what its terminal shows."""
    line = "f'\\x1b[3{n % 7}m" + prefix + " {n:05d}\\x1b[0m é→ ' + 'x' * (n % 61)"
    code = f"for n in range({lines}): print({line})"
    shown = "".join(
        f"\x1b[3{n % 7}m{prefix} {n:05d}\x1b[0m é→ " + "x" * (n % 61) + "\r\n" for n in range(lines)
    )
    return [sys.executable, "-c", code], shown


async def test_output_streams_live_and_typed_input_reaches_the_program(
    server: LiveServer, tmp_path: Path
) -> None:
    sid, token = await hosted_session(server)
    name = f"session/{sid}/io"
    script = 'echo "step-1 \\033[1mbold\\033[0m"; read answer; echo "step-2 $answer"; exit 4'
    async with (
        SyncClient(server.url, name, token) as runtime,
        SyncClient(server.url, name, server.token) as viewer,
    ):
        await runtime.wait_synced()
        await viewer.wait_synced()
        segments = SyncLogSegments(server.url, sid, token)
        argv = ["sh", "-c", script]
        async with Terminal(runtime.doc, segments, "t1", argv, cwd=tmp_path, kind="tool") as term:
            await eventually(lambda: "step-1 \x1b[1mbold\x1b[0m" in window(viewer.doc))
            shown = info(viewer.doc)
            assert shown is not None and shown.state == "running" and shown.kind == "tool"
            await term.write(b"forty-two\r")
            assert await term.wait() == 4
        await eventually(lambda: "step-2 forty-two" in window(viewer.doc))
        await eventually(lambda: ended(viewer.doc) == 4)


async def test_output_past_the_window_is_sealed_on_the_server_and_reads_back_exactly(
    server: LiveServer, tmp_path: Path
) -> None:
    sid, token = await hosted_session(server)
    argv, shown = printer("build", 6000)
    async with SyncClient(server.url, f"session/{sid}/io", token) as runtime:
        await runtime.wait_synced()
        segments = SyncLogSegments(server.url, sid, token)
        async with Terminal(runtime.doc, segments, "t1", argv, cwd=tmp_path, limits=SMALL) as term:
            assert await term.wait() == 0
    await eventually(lambda: complete(server.url, server.token, sid, shown))
    _, io_size = await scrollback(server.url, server.token, sid)
    assert len(shown.encode()) > 20 * SMALL.window_bytes
    assert io_size < 4 * SMALL.window_bytes  # bounded by the window, not the output


async def test_a_restarted_runtime_continues_the_terminal_without_duplicates(
    server: LiveServer, tmp_path: Path
) -> None:
    sid, token = await hosted_session(server)
    name = f"session/{sid}/io"
    first, first_shown = printer("before", 3000)
    second, second_shown = printer("after", 3000)
    for argv in (first, second):
        # Each run is a fresh process's view: a new replica synced from the server.
        async with SyncClient(server.url, name, token) as runtime:
            await runtime.wait_synced()
            segments = SyncLogSegments(server.url, sid, token)
            async with Terminal(runtime.doc, segments, "t1", argv, cwd=tmp_path, limits=SMALL) as t:
                await t.wait()
    await eventually(lambda: complete(server.url, server.token, sid, first_shown + second_shown))
    async with SyncClient(server.url, name, server.token) as viewer:
        await viewer.wait_synced()
        names = [r.name for r in read_array(viewer.doc, SESSION_IO, "segments")]
    assert names == [f"t1-{n}" for n in range(1, len(names) + 1)]


async def test_many_terminals_leave_no_fds_behind(tmp_path: Path) -> None:
    io, segments = Doc(), MemoryLogSegments()
    fds_before = len(os.listdir("/proc/self/fd"))
    for n in range(25):
        argv = ["sh", "-c", f"echo done-{n}"] if n % 2 else ["sleep", "30"]
        async with Terminal(io, segments, f"t{n}", argv, cwd=tmp_path, limits=SMALL) as term:
            if n % 2:
                await term.wait()  # the others are ended by leaving the block
    assert len(os.listdir("/proc/self/fd")) == fds_before
    assert [ended(io, f"t{n}") for n in range(1, 25, 2)] == [0] * 12
    assert [ended(io, f"t{n}") for n in range(0, 25, 2)] == [-signal.SIGHUP] * 13


@pytest.mark.process
async def test_recording_goes_on_while_the_server_is_down_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    server = ServerProcess(tmp_path / "data")
    server.start()
    async with Store(sqlite_url(tmp_path / "data" / "trace.db")) as store:
        [owner] = await store.accounts.list_users()
        [workspace] = await store.directory.list_workspaces()
        sid = (await store.sessions.create(workspace.id, owner.id)).id
        issued = await AccountService(store).issue_token(
            owner.id, "bridge", kind=TokenKind.RUNTIME, runtime_id="rt_test"
        )
        await store.sessions.assign_runtime(sid, "rt_test")
    token = issued.token
    # Three batches of output, each after a line typed: the middle one while the server is down.
    batch = "for n in range(1500): print(f'{b} line {n:04d} é→ ' + 'y' * (n % 40))"
    code = f"import sys\nfor b in 'abc':\n    sys.stdin.readline()\n    {batch}"
    shown = "".join(
        f"{b} line {n:04d} é→ " + "y" * (n % 40) + "\r\n" for b in "abc" for n in range(1500)
    )
    segments = SyncLogSegments(server.url, sid, token, backoff=FAST)
    runtime = SyncClient(server.url, f"session/{sid}/io", token, backoff=FAST)
    argv = ["sh", "-c", 'stty -echo; echo ready; exec "$0" -c "$1"', sys.executable, code]
    async with runtime:
        await runtime.wait_synced()
        async with Terminal(runtime.doc, segments, "t1", argv, cwd=tmp_path, limits=SMALL) as term:
            await eventually(lambda: "ready" in window(runtime.doc))
            await term.write(b"\r")
            await eventually(lambda: "a line 1499" in window(runtime.doc))
            server.stop(signal.SIGKILL)
            await eventually(lambda: runtime.state is not LinkState.SYNCED)
            await term.write(b"\r")
            await asyncio.to_thread(server.start)  # the terminal keeps running meanwhile
            await term.write(b"\r")
            assert await term.wait() == 0
        # Leaving a SyncClient drops what it could not send: wait for the link first.
        await runtime.wait_synced(30)
        await runtime.flush()
    try:
        await eventually(
            lambda: complete(server.url, server.token, sid, "ready\r\n" + shown), within=30
        )
    finally:
        server.stop()
