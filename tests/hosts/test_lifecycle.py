"""One session model on every host: the same lifecycle, run against a local session
(the owner's bridge), a sandbox (bubblewrap) and a container (a real Docker engine).

Each test drives the public API and follows the io document as a person would;
only where the session runs differs. The shell tool runs the prompts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bridges.conftest import Bed, open_bed, settings_for
from tests.conftest import StoreTarget, eventually
from tests.hosting.conftest import IoView, owner_bridge
from tests.hosts.conftest import need_bwrap
from tests.support.git import git
from tests.support.live import serve
from tests.support.model_server import ModelServer, reply, text, tool
from tests.support.npm import coding_tools_bin
from tests.support.server_process import free_port
from trace_sync.client.sync_client import SyncClient
from trace_sync.docs.layouts import SESSION
from trace_sync.docs.typed import root_of
from trace_sync.settings import sqlite_url

#: A container's bridge, kept small: the limits are the host's, checked in test_docker.py.
DOCKER_OPTIONS = {"memory": "1g", "cpus": "1", "pids": "512", "stop_timeout_s": "10"}
#: What a cloud bridge gets of the test's environment: Claude Code's key and quiet settings.
PASSED = "TEST_MODEL_KEY,CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC,DISABLE_AUTOUPDATER"
#: Where Claude Code is inside a container (deploy/bridge/Dockerfile).
IMAGE_CLAUDE = "/opt/tools/node_modules/.bin/claude"


@dataclass
class Place:
    """Where this run's sessions live: ``local`` (the owner's bridge) or a cloud host."""

    host: str
    bed: Bed

    async def start(self, prompt: str) -> str:
        location = "local" if self.host == "local" else "cloud"
        return (await self.bed.start(self.bed.owner, location=location, prompt=prompt)).id

    async def api(self, method: str, path: str, **body: Any) -> httpx.Response:
        headers = self.bed.headers(self.bed.owner)
        answer = await self.bed.http.request(method, path, json=body or None, headers=headers)
        assert answer.status_code in (200, 201), answer.text
        return answer

    async def command(self, sid: str, name: str, **body: Any) -> Any:
        return (await self.api("POST", f"/api/sessions/{sid}/{name}", **body)).json()

    async def reaches(self, sid: str, status: str, within: float = 120) -> None:
        async def reached() -> bool:
            return await self.bed.status(sid) == status

        await eventually(reached, within)

    async def read(self, sid: str, path: str) -> str:
        return str((await self.api("GET", f"/api/sessions/{sid}/files/{path}")).json()["text"])

    @asynccontextmanager
    async def io(self, sid: str) -> AsyncIterator[IoView]:
        url, token = self.bed.live.url, self.bed.owner.token
        async with SyncClient(url, f"session/{sid}/io", token, read_only=True) as client:
            await client.wait_synced()
            yield IoView(client)

    @property
    def repo(self) -> Path:
        return Path(self.bed.repo.path)


@pytest.fixture(params=["local", "sandbox", pytest.param("docker", marks=pytest.mark.timeout(900))])
def host(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def place(
    host: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    server_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Place]:
    monkeypatch.setenv("SHELL", "/bin/bash")
    changes: dict[str, Any] = {}
    if host == "sandbox":
        need_bwrap()
        # the tests' own Claude Code (under this home's cache, hidden otherwise) shown read-only
        shown = str(coding_tools_bin().parents[1])
        options = {"pass_env": PASSED, "read": shown}
        changes = {"cloud_host": "sandbox", "cloud_host_options": options}
    if host == "docker":
        options = DOCKER_OPTIONS | {"image": request.getfixturevalue("bridge_image")}
        changes = {"cloud_host": "docker", "cloud_host_options": options | {"pass_env": PASSED}}
    port = free_port()
    target = StoreTarget(sqlite_url(tmp_path / "data" / "trace.db"))
    settings = settings_for(tmp_path, target, port=port, **changes)
    async with AsyncExitStack() as stack:
        live = await stack.enter_async_context(serve(settings, port=port))
        bed = await stack.enter_async_context(open_bed(live, tmp_path))
        if host == "local":
            await stack.enter_async_context(owner_bridge(bed, tmp_path / "bridge"))
        try:
            yield Place(host, bed)
        finally:  # cloud bridges outlive their server on purpose: stop them here
            if host != "local":
                await live.ctx.bridges.hosts.get(host).stop_all()


@pytest.fixture
def claude(
    host: str, models: ModelServer, tools_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claude Code against the scripted model server, set before a bridge reads it."""
    binary = IMAGE_CLAUDE if host == "docker" else str(tools_bin / "claude")
    for name, value in {
        "TRACE_TOOL_CLAUDE_CODE_BASE_URL": models.url,
        "TRACE_TOOL_CLAUDE_CODE_API_KEY_ENV": "TEST_MODEL_KEY",
        "TRACE_TOOL_CLAUDE_CODE_BINARY": binary,
        "TEST_MODEL_KEY": "sk-test-never-logged",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }.items():
        monkeypatch.setenv(name, value)


# ``claude`` before ``place``: a local bridge reads the tools' settings when it starts.
async def test_a_tool_asks_and_a_person_approves(
    claude: None, place: Place, models: ModelServer
) -> None:
    models.script(reply(text("Making it."), tool("Bash", {"command": "touch approved.txt"})))
    models.script(reply(text("Done.")))
    location = "local" if place.host == "local" else "cloud"
    session = await place.bed.start(
        place.bed.owner, location=location, tool="claude_code", prompt="make the file"
    )
    async with place.io(session.id) as io:
        await eventually(lambda: len(io.approvals()) == 1, within=120)
        [asked] = io.approvals()
    await place.reaches(session.id, "waiting_approval")
    await place.api("POST", f"/api/sessions/{session.id}/approvals/{asked}", behavior="allow")
    await place.reaches(session.id, "idle")
    assert await place.read(session.id, "approved.txt") == ""


async def test_a_session_starts_and_people_follow_it(place: Place) -> None:
    sid = await place.start("echo hello-$((6*7)) | tee said.txt")
    async with place.io(sid) as io:
        await io.shows("hello-42", within=120)
        await io.status("idle", within=60)
    await place.reaches(sid, "idle")
    assert await place.read(sid, "said.txt") == "hello-42\n"


async def test_pause_and_resume(place: Place) -> None:
    sid = await place.start("sleep 300")
    async with place.io(sid) as io:
        await io.status("running", within=120)
        # the server takes the report from the io document a moment later; a person
        # sees the server's status (the workspace list) before they press pause
        await place.reaches(sid, "running")
        await place.command(sid, "pause")
        await io.status("paused")
        await place.reaches(sid, "paused")
        await place.command(sid, "resume")
        await io.status("running")
    await place.reaches(sid, "running")


async def test_a_stopped_session_leaves_its_branch_and_checkpoints_in_the_repo(
    place: Place,
) -> None:
    sid = await place.start("echo kept > kept.txt")
    await place.reaches(sid, "idle")
    await place.command(sid, "stop")
    await place.reaches(sid, "stopped")
    branch = (await place.bed.row(sid)).branch
    assert git(place.repo, "show", f"refs/trace/checkpoints/{sid}/1:kept.txt") == "kept"
    assert git(place.repo, "rev-parse", "--verify", f"refs/heads/{branch}")


async def test_a_fork_starts_from_its_parents_checkpoint(place: Place) -> None:
    parent = await place.start("echo kept > kept.txt")
    await place.reaches(parent, "idle")

    async def checkpointed() -> bool:  # the server recorded the turn's checkpoint
        async with place.bed.live.ctx.sync.rooms.document(f"session/{parent}") as doc:
            return len(root_of(doc, SESSION, "checkpoints")) > 0

    await eventually(checkpointed, 60)
    child = (await place.api("POST", f"/api/sessions/{parent}/fork", checkpoint=1)).json()["id"]
    await place.reaches(child, "idle")
    assert await place.read(child, "kept.txt") == "kept\n"


async def test_merging_lands_on_the_repos_base_branch(place: Place) -> None:
    sid = await place.start("echo merged > merged.txt")
    await place.reaches(sid, "idle")
    merged = await place.command(sid, "merge")
    assert merged["merged"] and git(place.repo, "rev-parse", "main") == merged["commit"]
    assert git(place.repo, "show", "main:merged.txt") == "merged"


async def test_archive_and_restore_bring_the_work_back(place: Place) -> None:
    sid = await place.start("echo kept > kept.txt")
    await place.reaches(sid, "idle")
    for command in ("stop", "archive"):
        await place.command(sid, command)
    await place.reaches(sid, "archived")
    for command in ("restore", "resume"):
        await place.command(sid, command)
    await place.reaches(sid, "idle")
    assert await place.read(sid, "kept.txt") == "kept\n"
