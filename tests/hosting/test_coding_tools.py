"""The real Claude Code and Codex CLIs hosted by the bridge, against the scripted model server.

Claude Code is configured through the bridge's ``tools.toml`` with its key kept as a
stored secret (``trace bridge key``); Codex through ``TRACE_TOOL_CODEX_*`` variables
with its key in a variable of the bridge's environment.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.bridges.conftest import Bed
from tests.conftest import eventually
from tests.hosting.conftest import Hosting, IoView, owner_bridge
from tests.hosting.test_worktrees import registered
from tests.support.git import git
from tests.support.model_server import ModelServer, hang, model_server, reply, text, tool
from tests.support.npm import coding_tools_bin
from trace_sync.runtime.tool_settings import BridgeTools

KEY = "sk-test-never-logged"


@pytest.fixture(scope="module")
def tools_bin() -> Path:
    return coding_tools_bin()


@pytest.fixture
async def models() -> AsyncIterator[ModelServer]:
    async with model_server() as server:
        yield server


@pytest.fixture
async def coding(
    bed: Bed,
    tmp_path: Path,
    own_home: Path,
    models: ModelServer,
    tools_bin: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Hosting]:
    data_dir = tmp_path / "bridge"
    data_dir.mkdir()
    (data_dir / "tools.toml").write_text(
        f'[claude_code]\nbase_url = "{models.url}"\nbinary = "{tools_bin / "claude"}"\n'
        '[claude_code.env]\nCLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1"\n'
        'DISABLE_AUTOUPDATER = "1"\n'
    )
    BridgeTools(data_dir).store_key("claude_code", KEY)
    noisy = tmp_path / "codex-noisy"
    noisy.write_text(f'#!/bin/sh\necho "not json at all"\nexec {tools_bin / "codex"} "$@"\n')
    noisy.chmod(0o755)
    (own_home / ".codex").mkdir()
    for name, value in {
        "CODEX_HOME": str(own_home / ".codex"),
        "TEST_MODEL_KEY": KEY,
        "TRACE_TOOL_CODEX_BASE_URL": f"{models.url}/v1",
        "TRACE_TOOL_CODEX_MODEL": "gpt-5-codex",
        "TRACE_TOOL_CODEX_API_KEY_ENV": "TEST_MODEL_KEY",
        "TRACE_TOOL_CODEX_BINARY": str(noisy),
    }.items():
        monkeypatch.setenv(name, value)
    async with owner_bridge(bed, data_dir) as bridge:
        yield Hosting(bed, bridge, data_dir)


def texts(io: IoView, *, streaming: bool | None = None) -> list[str]:
    return [
        e["text"]
        for e in io.transcript()
        if e["kind"] == "assistant_text" and streaming in (None, bool(e.get("streaming")))
    ]


async def send(hosting: Hosting, sid: str, prompt: str, **options: Any) -> None:
    sent = await hosting.api("POST", f"/api/sessions/{sid}/prompts", text=prompt, **options)
    assert sent.status_code == 201, sent.text


async def index_entry(hosting: Hosting, sid: str) -> dict[str, Any]:
    sessions = await hosting.bed.workspace("sessions")
    return dict(sessions.get(sid) or {})


async def test_claude_streams_writes_a_file_and_checkpoints_the_turn(
    coding: Hosting, models: ModelServer
) -> None:
    sid = await coding.start(tool="claude_code", permission_mode="accept_edits")
    await coding.status(sid, "idle", within=120)
    tree = coding.worktree(sid)
    models.script(
        reply(hang("Working on it")),
        reply(tool("Write", {"file_path": str(tree / "notes.txt"), "content": "one\ntwo\n"})),
        reply(text("Wrote the notes.")),
    )
    async with coding.io(sid) as io:
        began = time.monotonic()
        await send(coding, sid, "start working")
        await eventually(lambda: "Working on it" in texts(io, streaming=True), within=60)
        first_text = time.monotonic() - began
        await coding.status(sid, "running")
        await send(coding, sid, "write the notes instead", mode="interrupt")
        await eventually(lambda: "Wrote the notes." in texts(io, streaming=False), within=90)
        await eventually(lambda: "+one" in (io.files().get("notes.txt", {}).get("diff") or ""))
        await io.status("idle")  # the turn's checkpoint is made before it shows idle
        checkpoint = io.checkpoints()[-1]
        runtime = io.runtime()
    assert checkpoint["tool_session_id"] == runtime["tool_session_id"] and checkpoint["tool_point"]
    assert git(tree, "show", f"{checkpoint['commit']}:notes.txt") == "one\ntwo"
    await coding.status(sid, "idle")
    indexed = await index_entry(coding, sid)
    assert indexed["cost_usd"] > 0
    assert KEY not in str(runtime) and KEY not in (coding.data_dir / "tools.toml").read_text()
    print(f"\nclaude: prompt -> first streamed text in io: {first_text * 1000:.0f} ms")


async def test_claude_asks_before_a_command_and_a_second_client_decides(
    coding: Hosting, models: ModelServer
) -> None:
    bed = coding.bed
    sid = await coding.start(tool="claude_code")
    await coding.status(sid, "idle", within=120)
    tree = coding.worktree(sid)
    models.script(
        reply(tool("Bash", {"command": "touch allowed.txt"})),
        reply(text("Ran it.")),
        reply(tool("Bash", {"command": "touch denied.txt"})),
        reply(text("Understood.")),
    )
    async with coding.io(sid, bed.member) as second:
        for command, behavior in (("touch allowed.txt", "allow"), ("touch denied.txt", "deny")):
            await send(coding, sid, f"run {command}")
            await eventually(lambda: len(second.approvals()) == 1, within=90)
            [(request_id, request)] = second.approvals().items()
            assert request["detail"]["command"] == command and request["tool"] == "Bash"
            await coding.status(sid, "waiting_approval")
            assert not (tree / command.split()[1]).exists()
            decided = await coding.api(
                "POST", f"/api/sessions/{sid}/approvals/{request_id}", bed.member, behavior=behavior
            )
            assert decided.status_code == 200, decided.text
            await eventually(lambda: not second.approvals(), within=60)
            await coding.status(sid, "idle", within=90)
    assert (tree / "allowed.txt").exists() and not (tree / "denied.txt").exists()
    assert "approval.decided" in await bed.timeline(sid)


async def test_claude_resumes_its_own_session_after_a_stop(
    coding: Hosting, models: ModelServer
) -> None:
    sid = await coding.start(tool="claude_code", prompt="remember the word kiwi")
    models.script(reply(text("Noted: kiwi.")), reply(text("It was kiwi.")))
    async with coding.io(sid) as io:
        await eventually(lambda: "Noted: kiwi." in texts(io, streaming=False), within=120)
        first = io.runtime()["tool_session_id"]
        await coding.status(sid, "idle")
        await coding.api("POST", f"/api/sessions/{sid}/stop")
        await io.status("stopped")
        assert io.runtime().get("pid") is None and io.runtime()["tool_session_id"] == first
        await coding.api("POST", f"/api/sessions/{sid}/resume")
        await coding.status(sid, "idle", within=120)
        await send(coding, sid, "which word?")
        await eventually(lambda: "It was kiwi." in texts(io, streaming=False), within=90)
        assert io.runtime()["tool_session_id"] == first
    assert "remember the word kiwi" in models.agent_requests[-1].text


async def test_codex_answers_with_an_estimated_cost_and_garbage_lines_stay_raw(
    coding: Hosting, models: ModelServer
) -> None:
    models.script(reply(text("Hello there, friend.")))
    sid = await coding.start(tool="codex", prompt="say hello")
    async with coding.io(sid) as io:
        await eventually(lambda: "Hello there, friend." in texts(io, streaming=False), within=120)
        await eventually(lambda: io.root("usage").get("cost_usd", 0) > 0)
        usage = dict(io.root("usage").items())
        raw = [e for e in io.transcript() if e["kind"] == "raw"]
    assert usage["estimated"] is True and usage["input_tokens"] > 0
    assert any(e["data"] == "not json at all" for e in raw)
    await coding.status(sid, "idle")

    async def estimated() -> bool:
        indexed = await index_entry(coding, sid)
        return bool(indexed.get("cost_estimated")) and indexed.get("cost_usd", 0) > 0

    await eventually(estimated)
    assert models.requests[0].body["model"] == "gpt-5-codex"


async def test_a_fork_of_a_claude_session_continues_the_checkpoints_conversation(
    coding: Hosting, models: ModelServer
) -> None:
    models.script(reply(text("Noted: kiwi.")), reply(text("It was kiwi.")))
    sid = await coding.start(tool="claude_code", prompt="remember the word kiwi")
    async with coding.io(sid) as io:
        await eventually(lambda: "Noted: kiwi." in texts(io, streaming=False), within=120)
        await io.status("idle")
        [checkpoint] = io.checkpoints()
        parent_tool_session = io.runtime()["tool_session_id"]
    assert checkpoint["tool_session_id"] == parent_tool_session and checkpoint["tool_point"]
    n = checkpoint["n"]
    await eventually(lambda: registered(coding, sid, [n]))
    forked = await coding.api("POST", f"/api/sessions/{sid}/fork", checkpoint=n, prompt="which?")
    assert forked.status_code == 201, forked.text
    child = forked.json()["id"]
    async with coding.io(child) as io:
        await eventually(lambda: "It was kiwi." in texts(io, streaming=False), within=120)
        child_tool_session = io.runtime()["tool_session_id"]
    assert child_tool_session not in (None, parent_tool_session)
    assert "remember the word kiwi" in models.agent_requests[-1].text
