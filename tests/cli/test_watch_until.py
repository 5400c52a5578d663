"""``trace session watch --until`` and ``show`` say why a session failed, with exit codes
a script can use; ``watch --json | head`` ends quietly."""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pycrdt import Array, Map

from tests.cli.test_sessions_cli import ok, ok_json, runtime_for
from tests.support.git import make_repo
from tests.support.server_process import ROOT, ServerProcess, running_server
from trace_sync.client.sync_client import SyncClient

TRACE = str(Path(sys.executable).parent / "trace")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "data") as live:
        yield live


async def started(server: ServerProcess, tmp_path: Path) -> str:
    checkout = make_repo(tmp_path / "shop", branch="main")
    await asyncio.to_thread(ok, server, "repo", "add", str(checkout))
    argv = ["session", "start", "--repo", "shop", "--tool", "shell", "-m", "make test"]
    sid = str((await asyncio.to_thread(ok_json, server, *argv))["id"])
    # Placed on a runtime behind the server's back, so before anyone joins: the
    # server keeps who may reach a session in memory once someone has asked.
    _runtime_tokens[sid] = await runtime_for(server, sid)
    return sid


_runtime_tokens: dict[str, str] = {}


@asynccontextmanager
async def runtime(server: ServerProcess, sid: str) -> AsyncIterator[SyncClient]:
    """The session's io document, written as its runtime would."""
    async with SyncClient(server.url, f"session/{sid}/io", _runtime_tokens[sid]) as io:
        await io.wait_synced()
        yield io


def report(io: SyncClient, **fields: str) -> None:
    with io.doc.transaction(origin="runtime"):
        for name, value in fields.items():
            io.doc.get("runtime", type=Map)[name] = value


async def watch(server: ServerProcess, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        TRACE, "session", "watch", *args, cwd=ROOT, env=server.env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def ended(watcher: asyncio.subprocess.Process) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(watcher.communicate(), 30)
    assert watcher.returncode is not None
    return watcher.returncode, out.decode(), err.decode()


async def test_watch_until_idle_exits_0_once_the_session_is_idle(
    server: ServerProcess, tmp_path: Path
) -> None:
    sid = await started(server, tmp_path)
    watcher = await watch(server, sid, "--until", "idle,stopped")
    async with runtime(server, sid) as io:
        assert watcher.stdout is not None
        assert (await asyncio.wait_for(watcher.stdout.readline(), 30)).strip() == b"-- starting"
        report(io, status="running")
        assert (await asyncio.wait_for(watcher.stdout.readline(), 30)).strip() == b"-- running"
        assert watcher.returncode is None  # running is not what it waits for
        report(io, status="idle")
        code, out, _ = await ended(watcher)
    assert code == 0 and out.splitlines()[-1] == "-- idle"


async def test_a_failure_ends_watch_until_with_its_reason_and_show_says_it(
    server: ServerProcess, tmp_path: Path
) -> None:
    sid = await started(server, tmp_path)
    watcher = await watch(server, sid, "--until", "idle")
    why = "shell did not start: no program named 'zsh'"
    async with runtime(server, sid) as io:
        report(io, status="failed", error=why)
        code, out, err = await ended(watcher)
    assert code == 1 and f"-- failed: {why}" in out.splitlines()
    assert f"is failed: {why}" in err and "Traceback" not in err
    shown = await asyncio.to_thread(ok, server, "session", "show", sid)
    assert any(line.split() == ["reason", *why.split()] for line in shown.splitlines())
    assert (await asyncio.to_thread(ok_json, server, "session", "show", sid))["reason"] == why
    again = await watch(server, sid, "--until", "idle")
    code, _, err = await ended(again)  # already failed: says so at once
    assert code == 1 and why in err
    await asyncio.to_thread(ok, server, "session", "resume", sid)
    assert (await asyncio.to_thread(ok_json, server, "session", "show", sid))["reason"] is None


async def test_watch_json_into_head_ends_without_a_traceback(
    server: ServerProcess, tmp_path: Path
) -> None:
    sid = await started(server, tmp_path)
    command = f"{shlex.quote(TRACE)} session watch {sid} --json | head -n 1"
    piped = await asyncio.create_subprocess_exec(
        "bash", "-c", command, cwd=ROOT, env=server.env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert piped.stdout is not None
    assert b'"starting"' in await asyncio.wait_for(piped.stdout.readline(), 30)
    async with runtime(server, sid) as io:
        for n in range(50):  # more than a pipe's buffer needs: the reader is gone
            if piped.returncode is not None:
                break
            with io.doc.transaction(origin="runtime"):
                text = f"line {n}" + " padding" * 50
                entry = {"id": f"m{n}", "kind": "assistant_text", "at": _now(), "text": text}
                io.doc.get("transcript", type=Array).append(entry)
            try:
                await asyncio.wait_for(piped.wait(), 0.5)
            except TimeoutError:
                continue
        _, err = await asyncio.wait_for(piped.communicate(), 30)
    assert piped.returncode == 0  # head's exit code
    assert "Traceback" not in err.decode() and "BrokenPipe" not in err.decode()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def test_until_names_known_statuses_only(server: ServerProcess) -> None:
    done = subprocess.run(
        [TRACE, "session", "watch", "s_x", "--until", "idle,done"],
        cwd=ROOT, env=server.env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "not a status: 'idle,done'" in done.stderr


async def test_an_interrupted_session_ends_watch_until_with_its_reason_and_next_step(
    server: ServerProcess, tmp_path: Path
) -> None:
    sid = await started(server, tmp_path)
    watcher = await watch(server, sid, "--until", "idle,stopped")
    why = "the bridge restarted while `make test` ran"
    async with runtime(server, sid) as io:
        report(io, status="running")
        report(io, status="interrupted", error=why)
        code, out, err = await ended(watcher)
    assert code == 1 and f"-- interrupted: {why}" in out.splitlines()
    assert f"session {sid} is interrupted: {why}" in err
    assert f"trace session rerun {sid}" in err and "Traceback" not in err
    waited = await watch(server, sid, "--until", "interrupted")
    code, out, _ = await ended(waited)  # what it waits for: exit 0
    assert code == 0 and out.splitlines()[-1] == f"-- interrupted: {why}"
