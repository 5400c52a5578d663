"""A real ACP agent (claude-code-acp, pinned in tests/tools, driving Claude Code) against
the scripted model server. claude-code-acp edits files through the client's fs
methods, with its own tool names (``mcp__acp__Write``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.acp import AcpAdapter
from tests.adapters.conftest import EventLog, decision
from tests.support.model_server import ModelServer, ToolUse, reply, text, tool
from trace_sync.bridge.tools.interface import ApprovalRequested, ToolContext, ToolRun, TurnEnded
from trace_sync.docs.entries import (
    AssistantText,
    FileChangeNote,
    RawEvent,
    ToolCall,
    ToolResult,
)

Context = Callable[..., ToolContext]
Watch = Callable[[ToolRun], EventLog]


def acp_agent(command: Path) -> AcpAdapter:
    return AcpAdapter(
        command=[str(command)],
        base_url_variable="ANTHROPIC_BASE_URL",
        api_key_variable="ANTHROPIC_API_KEY",
    )


@pytest.fixture
def agent(tools_bin: Path) -> AcpAdapter:
    return acp_agent(tools_bin / "claude-code-acp")


def write(path: Path, content: str) -> ToolUse:
    return tool("mcp__acp__Write", {"file_path": str(path), "content": content})


async def test_prompt_tool_calls_and_permission_requests(
    agent: AcpAdapter, context: Context, models: ModelServer, repo: Path, watch: Watch
) -> None:
    models.script(
        reply(text("Writing it."), write(repo / "notes.txt", "one\n")),
        reply(tool("Bash", {"command": "touch ran.txt"})),
        reply(text("All done.")),
    )
    async with agent.run(context()) as run:
        log = watch(run)
        await run.send("write notes and run a command")
        edit = await log.next(ApprovalRequested)
        assert edit.request.detail.path == str(repo / "notes.txt")
        assert "+one" in str(edit.request.detail.diff)
        assert not (repo / "notes.txt").exists()
        await run.decide(edit.request.id, decision("allow"))
        bash = await log.next(ApprovalRequested, lambda a: a.request.id != edit.request.id)
        assert bash.request.detail.command == "touch ran.txt"
        await run.decide(bash.request.id, decision("allow"))
        await log.next(TurnEnded)
    assert (repo / "notes.txt").read_text() == "one\n"
    assert (repo / "ran.txt").exists()
    assert log.of(FileChangeNote)[-1].paths == ["notes.txt"]
    assert [t.text for t in log.of(AssistantText) if not t.streaming] == [
        "Writing it.",
        "All done.",
    ]
    assert log.of(ToolCall)[-1].status == "done"


async def test_a_rejected_command_does_not_run(
    agent: AcpAdapter, context: Context, models: ModelServer, repo: Path, watch: Watch
) -> None:
    models.script(reply(tool("Bash", {"command": "touch rejected.txt"})), reply(text("Fine.")))
    async with agent.run(context()) as run:
        log = watch(run)
        await run.send("run it")
        asked = await log.next(ApprovalRequested)
        await run.decide(asked.request.id, decision("deny"))
        await log.next(TurnEnded)
    assert not (repo / "rejected.txt").exists()
    assert log.of(ToolResult)[-1].is_error


async def test_writes_outside_the_worktree_are_refused(
    agent: AcpAdapter, context: Context, models: ModelServer, tmp_path: Path, watch: Watch
) -> None:
    outside = tmp_path / "outside.txt"
    models.script(reply(write(outside, "escaped\n")), reply(text("Could not.")))
    async with agent.run(context(permission_mode="bypass")) as run:
        log = watch(run)
        await run.send("write outside")
        await log.next(TurnEnded)
    assert not outside.exists()
    assert "outside the worktree" in models.agent_requests[-1].text


async def test_garbage_lines_become_raw_entries_and_the_agent_carries_on(
    tools_bin: Path, context: Context, models: ModelServer, tmp_path: Path, watch: Watch
) -> None:
    noisy = tmp_path / "noisy-agent"
    stray = '{"jsonrpc": "2.0", "id": 999, "result": 1}'
    noisy.write_text(
        f"#!/bin/sh\necho 'Starting agent...'\necho '{stray}'\n"
        f'exec {tools_bin / "claude-code-acp"} "$@"\n'
    )
    noisy.chmod(0o755)
    models.script(reply(text("Hello.")))
    async with acp_agent(noisy).run(context()) as run:
        log = watch(run)
        await run.send("hi")
        await log.next(TurnEnded)
    raw = [r.data for r in log.of(RawEvent)]
    assert raw[:2] == ["Starting agent...", {"jsonrpc": "2.0", "id": 999, "result": 1}]
    assert log.of(AssistantText)[-1].text == "Hello."


async def test_resume_loads_the_earlier_session(
    agent: AcpAdapter, context: Context, models: ModelServer, watch: Watch
) -> None:
    models.script(reply(text("Noted: kiwi.")), reply(text("It was kiwi.")))
    async with agent.run(context()) as run:
        log = watch(run)
        await run.send("remember the word kiwi")
        first = (await log.next(TurnEnded)).tool_session_id
    assert first is not None
    async with agent.run(context(resume_id=first)) as run:
        log = watch(run)
        await run.send("which word?")
        resumed = await log.next(TurnEnded)
    assert resumed.tool_session_id == first
    assert "remember the word kiwi" in models.agent_requests[-1].text
    assert [t.text for t in log.of(AssistantText) if not t.streaming] == ["It was kiwi."]
