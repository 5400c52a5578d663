"""Cloud sessions in the sandbox host, end to end: a live server with
``TRACE_CLOUD_HOST=sandbox`` starts the real ``trace bridge`` under bubblewrap;
a person follows the session's io document as with any other session."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from adapters.hosts.sandbox import SandboxHost
from tests.bridges.conftest import Bed, open_bed, settings_for
from tests.conftest import StoreTarget, eventually
from tests.hosting.conftest import IoView
from tests.hosts.conftest import need_bwrap
from tests.support.git import git
from tests.support.live import serve
from tests.support.server_process import free_port
from trace_sync.client.sync_client import SyncClient
from trace_sync.docs.layouts import SESSION
from trace_sync.docs.typed import root_of
from trace_sync.settings import sqlite_url


@pytest.fixture
async def cloud(
    tmp_path: Path, server_home: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Bed]:
    """A server whose cloud sessions run in sandboxes (its URL is the one it listens on)."""
    need_bwrap()
    monkeypatch.setenv("SHELL", "/bin/bash")
    port = free_port()
    target = StoreTarget(sqlite_url(tmp_path / "data" / "trace.db"))
    settings = settings_for(tmp_path, target, cloud_host="sandbox", port=port)
    async with serve(settings, port=port) as live, open_bed(live, tmp_path) as bed:
        try:
            yield bed
        finally:  # they outlive the server on purpose
            await _host(bed).stop_all()


def _host(bed: Bed) -> SandboxHost:
    host = bed.live.ctx.bridges.hosts.get("sandbox")
    assert isinstance(host, SandboxHost)
    return host


async def test_a_cloud_session_runs_in_its_sandbox_and_cannot_read_outside_it(
    cloud: Bed, server_home: Path
) -> None:
    secret = server_home / ".ssh" / "id_ed25519"
    token_file = cloud.live.ctx.settings.data_dir / "local-token"
    command = f"pwd; echo made > made.txt; cat {secret} {token_file}; echo exit=$?"
    began = time.monotonic()
    session = await cloud.start(cloud.owner, location="cloud", prompt=command)
    host = _host(cloud)
    worktree = host.settings.root / session.id / "bridge" / "worktrees" / session.id
    url = f"session/{session.id}/io"
    async with SyncClient(cloud.live.url, url, cloud.owner.token, read_only=True) as client:
        await client.wait_synced()
        io = IoView(client)
        # "exit=" and a number: the terminal's echo of the command line says "exit=$?"
        # before it runs (a loaded run read made.txt between its creation and its write).
        await eventually(lambda: re.search(r"exit=\d", io.output()) is not None, 90)
        first = time.monotonic() - began
        lines = io.lines()
    assert str(worktree) in lines  # pwd: the worktree in the sandbox's own directory
    assert (worktree / "made.txt").read_text() == "made\n"  # written inside: there
    assert "exit=1" in lines  # reading outside failed...
    assert not any("PRIVATE KEY" in line or cloud.live.token in line for line in lines)
    assert sum("No such file or directory" in line for line in lines) == 2  # ...both unseen

    async def reported() -> bool:  # the server follows what the sandboxed bridge reports
        return await cloud.status(session.id) in ("running", "idle")

    await eventually(reported, 30)
    print(f"\ncloud session start -> its sandbox's output in io: {first * 1000:.0f} ms")


async def test_its_bridge_is_sandboxed_and_stopping_it_brings_its_work_back(
    cloud: Bed,
) -> None:
    session = await cloud.start(cloud.owner, location="cloud", prompt="echo kept > kept.txt")
    host = _host(cloud)
    await eventually(lambda: session.id in host.bridges)
    bridge = host.bridges[session.id]
    await eventually(lambda: _bridge_inside(bridge.pid) is not None, 30)
    inside = _bridge_inside(bridge.pid)
    assert inside is not None
    assert inside.uids().real == (65534 if os.geteuid() == 0 else os.getuid())
    runtime = await cloud.live.ctx.store.runtimes.get((await cloud.row(session.id)).runtime_id)
    assert runtime.kind == "sandbox"
    token = json.loads((host.settings.root / session.id / "bridge" / "runtime.json").read_text())
    for process in [psutil.Process(bridge.pid), *psutil.Process(bridge.pid).children(True)]:
        assert token["token"] not in " ".join(process.cmdline())  # not for `ps` to show
    checkpoint = f"refs/trace/checkpoints/{session.id}/1"
    clone = host.settings.root / session.id / "bridge" / "repos" / cloud.repo.id
    await eventually(lambda: _has(clone, checkpoint), 90)  # the turn ended: a checkpoint
    repo = Path(cloud.repo.path)
    assert not _has(repo, checkpoint)  # the bridge never wrote to the repo itself
    stopped = await cloud.http.post(
        f"/api/sessions/{session.id}/stop", headers=cloud.headers(cloud.owner)
    )
    assert stopped.status_code == 200
    assert not bridge.alive() and session.id not in host.bridges
    assert git(repo, "show", f"{checkpoint}:kept.txt") == "kept"  # brought back
    assert git(repo, "rev-parse", "--verify", f"refs/heads/{session.branch}")
    assert not (clone.parent.parent / "runtime.json").exists()  # no token left on disk


async def test_a_fork_of_a_sandboxed_session_starts_from_its_checkpoint(cloud: Bed) -> None:
    parent = await cloud.start(cloud.owner, location="cloud", prompt="echo kept > kept.txt")

    async def checkpointed() -> bool:
        async with cloud.live.ctx.sync.rooms.document(f"session/{parent.id}") as doc:
            return len(root_of(doc, SESSION, "checkpoints")) > 0

    await eventually(checkpointed, 90)  # the server recorded the turn's checkpoint
    forked = await cloud.http.post(
        f"/api/sessions/{parent.id}/fork",
        json={"checkpoint": 1},
        headers=cloud.headers(cloud.owner),
    )
    assert forked.status_code == 201, forked.text
    child = forked.json()["id"]
    host = _host(cloud)
    assert set(host.bridges) == {parent.id, child}  # a sandbox each
    kept = host.settings.root / child / "bridge" / "worktrees" / child / "kept.txt"
    await eventually(kept.exists, 60)
    assert kept.read_text() == "kept\n"


def _bridge_inside(pid: int) -> psutil.Process | None:
    try:
        for child in psutil.Process(pid).children(recursive=True):
            if child.name() != "bwrap" and "trace_sync.cli" in child.cmdline():
                return child
    except psutil.Error:
        return None
    return None


def _has(repo: Path, ref: str) -> bool:
    try:
        git(repo, "-c", "safe.directory=*", "rev-parse", "--verify", "--quiet", ref)
    except Exception:  # noqa: BLE001 - git's CalledProcessError: not there (yet)
        return False
    return True
