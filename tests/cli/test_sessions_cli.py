"""``trace repo`` and ``trace session`` end to end, against ``python server.py``
in a subprocess, with a runtime writing the io document over /sync."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pycrdt import Array, Map

from tests.cli.test_local_mode import trace
from tests.support.git import make_repo
from tests.support.server_process import ROOT, ServerProcess, running_server
from trace_sync.client.sync_client import SyncClient
from trace_sync.services.accounts import AccountService
from trace_sync.settings import sqlite_url
from trace_sync.store import Store, TokenKind


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "data") as live:
        yield live


def ok(server: ServerProcess, *args: str, token: str | None = None) -> str:
    done = trace(server, *args, token=token)
    assert done.returncode == 0, done.stderr
    return done.stdout


def ok_json(server: ServerProcess, *args: str) -> Any:
    return json.loads(ok(server, *args, "--json"))


async def runtime_for(server: ServerProcess, session_id: str) -> str:
    """Assign the session to a runtime and return that runtime's token (as the
    runtimes registry will), through the server's own database."""
    async with Store(sqlite_url(server.data_dir / "trace.db")) as store:
        [owner] = await store.accounts.list_users()
        await store.sessions.assign_runtime(session_id, "rt_cli")
        issued = await AccountService(store).issue_token(
            owner.id, "bridge", kind=TokenKind.RUNTIME, runtime_id="rt_cli"
        )
        return issued.token


def test_repos_and_sessions_from_the_command_line(server: ServerProcess, tmp_path: Path) -> None:
    checkout = make_repo(tmp_path / "shop", branch="main")
    assert "shop" in ok(server, "repo", "add", str(checkout))
    [repo] = ok_json(server, "repo", "list")
    assert (repo["name"], repo["default_branch"]) == ("shop", "main")
    started = ok_json(
        server, "session", "start", "--repo", str(checkout), "--tool", "shell",
        "-m", "Fix the flaky checkout test",
    )  # fmt: skip
    sid = started["id"]
    assert started["title"] == "Fix the flaky checkout test" and started["status"] == "starting"
    table = ok(server, "session", "list")
    assert table.splitlines()[0].split()[:3] == ["ID", "TITLE", "STATUS"] and sid in table
    assert ok_json(server, "session", "list", "--status", "running") == []
    assert "Fix the flaky" in ok(server, "session", "show", sid)
    assert ok_json(server, "session", "send", sid, "also the cart", "--interrupt")["mode"] == (
        "interrupt"
    )
    refused = trace(server, "session", "pause", sid)
    assert refused.returncode == 1 and "cannot pause a session that is starting" in refused.stderr
    ok(server, "session", "rename", sid, "Checkout flakiness")
    [hit] = ok_json(server, "session", "search", "cart")
    assert hit["session"]["title"] == "Checkout flakiness" and hit["kind"] == "prompt"
    ok(server, "user", "add", "bea", "--role", "member")
    assert ok_json(server, "session", "handoff", sid, "bea")["owner_id"] != started["owner_id"]
    fork = ok_json(server, "session", "fork", sid, "--title", "Another way")
    assert fork["parent_id"] == sid
    for command, status in [("stop", "stopped"), ("archive", "archived"), ("restore", "stopped")]:
        assert f"{sid}  {status}" in ok(server, "session", command, sid)
    in_use = trace(server, "repo", "remove", "shop")
    assert in_use.returncode == 1 and "use shop" in in_use.stderr
    ok(server, "session", "stop", fork["id"])
    for session_id in (sid, fork["id"]):
        ok(server, "session", "delete", session_id)
    assert "removed shop" in ok(server, "repo", "remove", "shop")
    missing = trace(server, "session", "show", sid)
    assert missing.returncode == 1 and "no session" in missing.stderr


async def test_watch_prints_what_the_runtime_writes_and_ends_with_the_session(
    server: ServerProcess, tmp_path: Path
) -> None:
    checkout = make_repo(tmp_path / "shop", branch="main")
    await asyncio.to_thread(ok, server, "repo", "add", str(checkout))
    started = await asyncio.to_thread(
        ok_json, server, "session", "start", "--repo", "shop", "--tool", "shell", "-m", "go"
    )
    sid = started["id"]
    runtime_token = await runtime_for(server, sid)
    watcher = await _watch(server, sid)
    try:
        assert watcher.stdout is not None
        assert await _line(watcher.stdout) == "-- starting"
        now = datetime.now(UTC).isoformat()
        async with SyncClient(server.url, f"session/{sid}/io", runtime_token) as io:
            await io.wait_synced()
            with io.doc.transaction(origin="runtime"):
                io.doc.get("runtime", type=Map)["status"] = "running"
                entry = {"id": "m1", "kind": "assistant_text", "at": now, "text": "All tests pass"}
                io.doc.get("transcript", type=Array).append(entry)
            lines = [await _line(watcher.stdout) for _ in range(2)]
            assert sorted(lines) == ["-- running", "All tests pass"]
        await asyncio.to_thread(ok, server, "session", "stop", sid)
        assert await _line(watcher.stdout) == "-- stopped"
        assert await asyncio.wait_for(watcher.wait(), 30) == 0
    finally:
        if watcher.returncode is None:
            watcher.kill()
            await watcher.wait()


async def _watch(server: ServerProcess, sid: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "trace"),
        "session",
        "watch",
        sid,
        cwd=ROOT,
        env=server.env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


async def _line(stream: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(stream.readline(), 30)).decode().rstrip("\n")


async def test_approvals_are_listed_and_answered_from_the_command_line(
    server: ServerProcess, tmp_path: Path
) -> None:
    checkout = make_repo(tmp_path / "shop", branch="main")
    await asyncio.to_thread(ok, server, "repo", "add", str(checkout))
    started = await asyncio.to_thread(
        ok_json, server, "session", "start", "--repo", "shop", "--tool", "claude_code",
        "--permission-mode", "accept-edits",
    )  # fmt: skip
    sid = started["id"]
    assert started["permission_mode"] == "accept_edits"
    now = datetime.now(UTC).isoformat()
    asks = {
        "a1": {
            "kind": "permission",
            "tool": "Bash",
            "title": "Bash",
            "detail": {"command": "make"},
        },
        "a2": {"kind": "permission", "tool": "Bash", "title": "Bash", "detail": {"command": "rm"}},
        "q1": {"kind": "question", "tool": "AskUserQuestion", "title": "Which port?"},
    }
    async with SyncClient(server.url, f"session/{sid}/io", await runtime_for(server, sid)) as io:
        await io.wait_synced()
        with io.doc.transaction(origin="runtime"):
            for request_id, fields in asks.items():
                io.doc.get("approvals", type=Map)[request_id] = fields | {
                    "id": request_id,
                    "at": now,
                }
        await io.flush()
        table = await asyncio.to_thread(ok, server, "session", "approvals", sid)
        assert "make" in table and "rm" in table and "Which port?" in table
        assert "a1: allow_always" in await asyncio.to_thread(
            ok, server, "session", "approve", sid, "a1", "--always"
        )
        assert "a2: deny" in await asyncio.to_thread(
            ok, server, "session", "deny", sid, "a2", "-m", "not on main"
        )
        assert "q1: answered" in await asyncio.to_thread(
            ok, server, "session", "answer", sid, "8080"
        )
        again = await asyncio.to_thread(trace, server, "session", "approve", sid, "a1")
        assert again.returncode == 1 and "already answered" in again.stderr
        assert await asyncio.to_thread(ok_json, server, "session", "approvals", sid) == []
