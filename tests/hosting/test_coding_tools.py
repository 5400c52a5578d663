"""The real Claude Code and Codex CLIs, and an ACP agent (claude-code-acp), hosted by the
bridge against the scripted model server; people answer through the API.

Claude Code and the ACP agent are configured through the bridge's ``tools.toml`` with
their keys kept as stored secrets (``trace bridge key``); Codex through
``TRACE_TOOL_CODEX_*`` variables with its key in a variable of the bridge's environment.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.bridges.conftest import Bed
from tests.conftest import eventually
from tests.hosting.conftest import Hosting, IoView, owner_bridge
from tests.hosting.test_worktrees import registered, trace_cli
from tests.support.git import git
from tests.support.model_server import ModelServer, hang, reply, text, tool
from tests.support.tool_config import KEY, configure_tools


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
    for name, value in configure_tools(data_dir, models, tools_bin, own_home).items():
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


async def replied(io: IoView, said: str) -> None:
    await eventually(lambda: said in texts(io, streaming=False), within=120)


async def test_restoring_a_claude_checkpoint_takes_its_conversation_back(
    coding: Hosting, models: ModelServer
) -> None:
    sid = await coding.start(tool="claude_code", permission_mode="accept_edits")
    await coding.status(sid, "idle", within=120)
    tree = coding.worktree(sid)
    for fruit in ("apple", "banana"):  # each turn writes a file: each has its checkpoint
        write = tool("Write", {"file_path": str(tree / f"{fruit}.txt"), "content": fruit})
        models.script(reply(write), reply(text(f"Noted: {fruit}.")))
    models.script(reply(text("Only apple.")))
    async with coding.io(sid) as io:
        for fruit in ("apple", "banana"):
            await send(coding, sid, f"remember {fruit}")
            await replied(io, f"Noted: {fruit}.")
            await io.status("idle")
        first = next(c for c in io.checkpoints() if c["tool_point"])
        n = int(first["n"])
        restore = ("session", "restore", sid, "--checkpoint", str(n))
        restored = await asyncio.to_thread(trace_cli, coding, *restore)
        assert restored.returncode == 0, restored.stderr
        assert (tree / "apple.txt").exists() and not (tree / "banana.txt").exists()
        await send(coding, sid, "which fruits?")
        await eventually(
            lambda: "Only apple." in texts(io, streaming=False),
            within=60,
            state=lambda: f"runtime {io.runtime()}, transcript {io.transcript()[-6:]}",
        )
        await eventually(lambda: io.runtime().get("rewind") is None)
        rewound = io.runtime()["tool_session_id"]
    told = models.agent_requests[-1].text
    assert "remember apple" in told and "banana" not in told
    assert restored.stdout.splitlines()[0] == (
        f"{sid}: files back at checkpoint {n}; "
        f"the tool's conversation goes back to checkpoint {n}; its next turn continues from there"
    )
    assert rewound not in (None, first["tool_session_id"])


async def test_a_rewind_waits_in_io_through_a_stop_and_a_bridge_restart(
    bed: Bed,
    tmp_path: Path,
    own_home: Path,
    models: ModelServer,
    tools_bin: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_dir = tmp_path / "bridge"
    for name, value in configure_tools(data_dir, models, tools_bin, own_home).items():
        monkeypatch.setenv(name, value)
    models.script(*(reply(text(said)) for said in ("Noted: apple.", "Noted: banana.", "Apple.")))
    async with owner_bridge(bed, data_dir) as bridge:
        coding = Hosting(bed, bridge, data_dir)
        sid = await coding.start(tool="claude_code", prompt="remember apple")
        async with coding.io(sid) as io:
            await replied(io, "Noted: apple.")
            await io.status("idle")
            first = io.checkpoints()[-1]
            await send(coding, sid, "remember banana")
            await replied(io, "Noted: banana.")
            await io.status("idle")
            await coding.api("POST", f"/api/sessions/{sid}/stop")
            await io.status("stopped")
            path = f"/api/sessions/{sid}/checkpoints/{int(first['n'])}/restore"
            assert (await coding.api("POST", path)).json()["conversation"] == "rewound"
            assert io.runtime()["rewind"]["tool_point"] == first["tool_point"]
    async with owner_bridge(bed, data_dir) as bridge:
        coding = Hosting(bed, bridge, data_dir)
        await coding.api("POST", f"/api/sessions/{sid}/resume")
        await coding.status(sid, "idle", within=120)
        async with coding.io(sid) as io:
            await send(coding, sid, "which fruits?")
            await replied(io, "Apple.")
            await eventually(lambda: io.runtime().get("rewind") is None)
    told = models.agent_requests[-1].text
    assert "remember apple" in told and "banana" not in told


async def test_a_claude_restore_waits_for_the_turn_under_way(
    coding: Hosting, models: ModelServer
) -> None:
    models.script(reply(text("Noted: apple.")), reply(hang("Thinking of banana")))
    sid = await coding.start(tool="claude_code", prompt="remember apple")
    tree = coding.worktree(sid)
    async with coding.io(sid) as io:
        await replied(io, "Noted: apple.")
        await io.status("idle")
        n = int(io.checkpoints()[-1]["n"])
        await send(coding, sid, "remember banana")
        await eventually(lambda: "Thinking of banana" in texts(io, streaming=True), within=60)
        (tree / "banana.txt").write_text("banana\n")
        path = f"/api/sessions/{sid}/checkpoints/{n}/restore"
        refused = await coding.api("POST", path)
        assert refused.status_code == 409, refused.text
        assert "a turn is running: interrupt it or let it end" in refused.text
        assert (tree / "banana.txt").exists() and io.runtime()["status"] == "running"


async def one_request(hosting: Hosting, io: IoView, sid: str, status: str) -> dict[str, Any]:
    """The one pending request, once the server shows the session ``status`` for it."""
    await eventually(lambda: len(io.approvals()) == 1, within=120)
    await coding_status(hosting, sid, status)
    [request] = io.approvals().values()
    return request


async def coding_status(hosting: Hosting, sid: str, status: str) -> None:
    """The status in the session's facts and, as every member sees it, the workspace index."""
    await hosting.status(sid, status)

    async def indexed() -> bool:
        return (await index_entry(hosting, sid)).get("status") == status

    await eventually(indexed)


async def decide(hosting: Hosting, sid: str, request_id: str, **decision: Any) -> None:
    path = f"/api/sessions/{sid}/approvals/{request_id}"
    decided = await hosting.api("POST", path, hosting.bed.member, **decision)
    assert decided.status_code == 200, decided.text


async def test_a_claude_question_waits_for_input_until_a_member_answers(
    coding: Hosting, models: ModelServer
) -> None:
    options = [{"label": "red", "description": "warm"}, {"label": "blue", "description": "cool"}]
    question = {"question": "Which colour?", "header": "Colour", "multiSelect": False}
    asking = tool("AskUserQuestion", {"questions": [question | {"options": options}]})
    models.script(reply(asking), reply(text("Blue it is.")))
    sid = await coding.start(tool="claude_code", prompt="pick a colour")
    async with coding.io(sid) as io:
        asked = await one_request(coding, io, sid, "waiting_input")
        assert asked["kind"] == "question" and asked["options"] == ["red", "blue"]
        assert (await index_entry(coding, sid))["needs_attention"] is True
        await decide(coding, sid, asked["id"], behavior="answer", answer="blue")
        await eventually(lambda: "Blue it is." in texts(io, streaming=False), within=90)
    await coding_status(coding, sid, "idle")
    told = json.dumps(models.agent_requests[-1].body["messages"][-1])
    assert "Which colour?" in told and "blue" in told


async def test_a_codex_command_waits_for_approval_and_runs_once_approved(
    coding: Hosting, models: ModelServer
) -> None:
    models.script(reply(tool("exec_command", {"cmd": "touch approved.txt"})), reply(text("Done.")))
    sid = await coding.start(tool="codex", prompt="make a file")
    made = coding.worktree(sid) / "approved.txt"
    async with coding.io(sid) as io:
        asked = await one_request(coding, io, sid, "waiting_approval")
        assert "touch approved.txt" in asked["detail"]["command"] and not made.exists()
        await decide(coding, sid, asked["id"], behavior="allow")
        await eventually(lambda: "Done." in texts(io, streaming=False), within=90)
        await eventually(lambda: "approved.txt" in io.files())
    assert made.exists()
    await coding_status(coding, sid, "idle")


async def test_an_acp_agent_answers_and_runs_an_approved_command(
    coding: Hosting, models: ModelServer
) -> None:
    command = tool("Bash", {"command": "touch ran.txt"})
    models.script(reply(text("Running it."), command), reply(text("All done.")))
    sid = await coding.start(tool="acp", prompt="run a command")
    async with coding.io(sid) as io:
        asked = await one_request(coding, io, sid, "waiting_approval")
        assert "Running it." in texts(io)
        assert not (coding.worktree(sid) / "ran.txt").exists()
        await decide(coding, sid, asked["id"], behavior="allow")
        await eventually(lambda: "All done." in texts(io, streaming=False), within=90)
    assert (coding.worktree(sid) / "ran.txt").exists()
    await coding_status(coding, sid, "idle")


async def test_bypass_shows_in_the_index_and_the_command_runs_unasked(
    coding: Hosting, models: ModelServer
) -> None:
    models.script(reply(tool("Bash", {"command": "touch unasked.txt"})), reply(text("Ran it.")))
    sid = await coding.start(tool="claude_code", permission_mode="bypass", prompt="make a file")
    assert (await index_entry(coding, sid))["permission_mode"] == "bypass"
    async with coding.io(sid) as io:
        asked: list[str] = []

        def answered_or_asked() -> bool:
            asked.extend(io.approvals())
            return bool(asked) or "Ran it." in texts(io, streaming=False)

        await eventually(answered_or_asked, within=120)
    assert not asked and (coding.worktree(sid) / "unasked.txt").exists()
    await coding_status(coding, sid, "idle")
