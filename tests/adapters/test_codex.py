"""The real Codex CLI (``codex app-server``, pinned in tests/tools) against the scripted server."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.codex import CodexAdapter
from adapters.codex_items import DECISIONS
from tests.adapters.conftest import EventLog, decision
from tests.support.model_server import ModelServer, hang, reply, text, tool
from trace_sync.bridge.tools.interface import (
    ApprovalRequested,
    ApprovalResolved,
    Provider,
    ToolContext,
    ToolRun,
    ToolSessionStarted,
    TurnEnded,
    UsageSoFar,
)
from trace_sync.docs.entries import AssistantText, FileChangeNote, ToolCall

Watch = Callable[[ToolRun], EventLog]
SCHEMA = Path(__file__).resolve().parents[1] / "tools" / "codex-schema"
PATCH = "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: notes.txt\n+one\n*** End Patch\nEOF\n"


@pytest.fixture
def codex(tools_bin: Path) -> CodexAdapter:
    return CodexAdapter(binary=str(tools_bin / "codex"))


@pytest.fixture
def codex_context(
    context: Callable[..., ToolContext], models: ModelServer
) -> Callable[..., ToolContext]:
    def make(**changes: Any) -> ToolContext:
        made = context(**changes)
        Path(made.env["CODEX_HOME"]).mkdir(exist_ok=True)
        provider = Provider(
            base_url=f"{models.url}/v1", api_key=made.provider.api_key, model="gpt-5-codex"
        )
        return context(**{"provider": provider, **changes})

    return make


def run_command(command: str) -> Any:
    return tool("exec_command", {"cmd": command})


async def test_a_prompt_streams_text_with_estimated_cost(
    codex: CodexAdapter,
    codex_context: Callable[..., ToolContext],
    models: ModelServer,
    watch: Watch,
) -> None:
    models.script(reply(text("Hello there, friend.")))
    async with codex.run(codex_context()) as run:
        log = watch(run)
        await run.send("say hello")
        ended = await log.next(TurnEnded)
    texts = log.of(AssistantText)
    assert {t.id for t in texts} == {texts[-1].id}
    assert any(t.streaming and t.text == "Hello ther" for t in texts)
    assert texts[-1].text == "Hello there, friend." and not texts[-1].streaming
    assert ended.usage.estimated and ended.usage.cost_usd > 0 and ended.usage.input_tokens > 0
    # Reported while the turn ran, so a session's cost moves before it ends.
    so_far = log.of(UsageSoFar)[-1].usage
    assert (so_far.input_tokens, so_far.output_tokens, so_far.cost_usd) == (
        ended.usage.input_tokens,
        ended.usage.output_tokens,
        ended.usage.cost_usd,
    )
    assert ended.tool_session_id == log.of(ToolSessionStarted)[0].tool_session_id
    assert models.requests[0].body["model"] == "gpt-5-codex"


async def test_an_allowed_command_runs_and_a_patch_changes_a_file(
    codex: CodexAdapter,
    codex_context: Callable[..., ToolContext],
    models: ModelServer,
    repo: Path,
    watch: Watch,
) -> None:
    models.script(
        reply(run_command("touch allowed.txt")), reply(run_command(PATCH)), reply(text("Done."))
    )
    async with codex.run(codex_context()) as run:
        log = watch(run)
        await run.send("make files")
        asked = await log.next(ApprovalRequested)
        assert "touch allowed.txt" in str(asked.request.detail.command)
        assert not (repo / "allowed.txt").exists()
        await run.decide(asked.request.id, decision("allow"))
        patch = await log.next(ApprovalRequested, lambda a: a.request.id != asked.request.id)
        await run.decide(patch.request.id, decision("allow"))
        await log.next(TurnEnded)
    assert (repo / "allowed.txt").exists()
    assert (repo / "notes.txt").read_text() == "one\n"
    assert log.of(FileChangeNote)[-1].paths == ["notes.txt"]


async def test_a_declined_command_does_not_run_and_the_model_is_told(
    codex: CodexAdapter,
    codex_context: Callable[..., ToolContext],
    models: ModelServer,
    repo: Path,
    watch: Watch,
) -> None:
    models.script(reply(run_command("touch denied.txt")), reply(text("Understood.")))
    async with codex.run(codex_context()) as run:
        log = watch(run)
        await run.send("make a file")
        asked = await log.next(ApprovalRequested)
        await run.decide(asked.request.id, decision("deny", message="not here"))
        await log.next(TurnEnded)
    assert not (repo / "denied.txt").exists()
    output = [
        i
        for i in models.agent_requests[-1].body["input"]
        if i.get("type") == "function_call_output"
    ]
    assert output and "rejected" in json.dumps(output).lower()
    assert log.of(ToolCall)[-1].status == "denied"


async def test_accept_for_session_lets_the_same_command_pass(
    codex: CodexAdapter,
    codex_context: Callable[..., ToolContext],
    models: ModelServer,
    repo: Path,
    watch: Watch,
) -> None:
    again = run_command("echo again >> log.txt")
    models.script(reply(again), reply(again), reply(text("Twice.")))
    async with codex.run(codex_context()) as run:
        log = watch(run)
        await run.send("append twice")
        asked = await log.next(ApprovalRequested)
        await run.decide(asked.request.id, decision("allow_always"))
        await log.next(TurnEnded)
    assert (repo / "log.txt").read_text() == "again\nagain\n"
    assert len(log.of(ApprovalRequested)) == 1


async def test_resume_continues_the_thread_and_fork_branches_it(
    codex: CodexAdapter,
    codex_context: Callable[..., ToolContext],
    models: ModelServer,
    watch: Watch,
) -> None:
    models.script(reply(text("Noted: kiwi.")), reply(text("It was kiwi.")), reply(text("Kiwi.")))
    async with codex.run(codex_context()) as run:
        log = watch(run)
        await run.send("remember the word kiwi")
        first = (await log.next(TurnEnded)).tool_session_id
    assert first is not None
    async with codex.run(codex_context(resume_id=first)) as run:
        log = watch(run)
        await run.send("which word?")
        resumed = await log.next(TurnEnded)
    assert resumed.tool_session_id == first
    assert "remember the word kiwi" in models.agent_requests[-1].text
    async with codex.run(codex_context(resume_id=first, fork=True)) as run:
        log = watch(run)
        await run.send("and now?")
        forked = await log.next(TurnEnded)
    assert forked.tool_session_id not in (None, first)
    assert log.of(ToolSessionStarted)[-1].forked_from == first
    assert "which word?" in models.agent_requests[-1].text


async def test_interrupt_stops_a_long_turn(
    codex: CodexAdapter,
    codex_context: Callable[..., ToolContext],
    models: ModelServer,
    watch: Watch,
) -> None:
    models.script(reply(hang("Working on it")), reply(text("Fresh start.")))
    async with codex.run(codex_context()) as run:
        log = watch(run)
        await run.send("do something long")
        await log.next(AssistantText, lambda t: t.text.startswith("Working"))
        await run.interrupt()
        assert (await log.next(TurnEnded)).stop_reason == "interrupted"
        await run.send("something short")
        await log.count(TurnEnded, 2)
    assert log.of(AssistantText)[-1].text == "Fresh start."


async def test_interrupting_withdraws_a_pending_approval(
    codex: CodexAdapter,
    codex_context: Callable[..., ToolContext],
    models: ModelServer,
    repo: Path,
    watch: Watch,
) -> None:
    models.script(reply(run_command("touch never.txt")))
    async with codex.run(codex_context()) as run:
        log = watch(run)
        await run.send("make a file")
        asked = await log.next(ApprovalRequested)
        await run.interrupt()
        resolved = await log.next(ApprovalResolved)
        assert (await log.next(TurnEnded)).stop_reason == "interrupted"
        assert resolved.request_id == asked.request.id and resolved.outcome == "cancelled"
        assert not run.pending
    assert not (repo / "never.txt").exists()


def test_the_protocol_shapes_used_match_the_pinned_codex(tools_bin: Path, tmp_path: Path) -> None:
    """tests/tools/codex-schema holds the app-server schemas this adapter relies on, as
    ``codex app-server generate-json-schema`` printed them for the pinned version."""
    subprocess.run(
        [str(tools_bin / "codex"), "app-server", "generate-json-schema", "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for committed in SCHEMA.rglob("*.json"):
        fresh = tmp_path / committed.relative_to(SCHEMA)
        assert json.loads(committed.read_text()) == json.loads(fresh.read_text()), committed.name
    for name in ("CommandExecutionRequestApprovalResponse", "FileChangeRequestApprovalResponse"):
        schema = json.loads((SCHEMA / f"{name}.json").read_text())
        decision_type = next(v for k, v in schema["definitions"].items() if k.endswith("Decision"))
        offered = {e for option in decision_type["oneOf"] for e in option.get("enum", [])}
        assert {*DECISIONS.values(), "decline"} <= offered


async def test_accept_edits_lets_a_patch_through_unasked(
    codex: CodexAdapter,
    codex_context: Callable[..., ToolContext],
    models: ModelServer,
    repo: Path,
    watch: Watch,
) -> None:
    models.script(reply(run_command(PATCH)), reply(text("Patched.")))
    async with codex.run(codex_context(permission_mode="accept_edits")) as run:
        log = watch(run)
        await run.send("add notes")
        await log.next(TurnEnded)
    assert (repo / "notes.txt").read_text() == "one\n"
    assert not log.of(ApprovalRequested)
    assert log.of(FileChangeNote)[-1].paths == ["notes.txt"]


async def test_a_prompt_sent_during_a_turn_steers_it(
    codex: CodexAdapter,
    codex_context: Callable[..., ToolContext],
    models: ModelServer,
    watch: Watch,
) -> None:
    models.script(reply(run_command("true")), reply(text("Also done.")))
    async with codex.run(codex_context()) as run:
        log = watch(run)
        await run.send("run true")
        asked = await log.next(ApprovalRequested)
        await run.send("and mention the weather")
        await run.decide(asked.request.id, decision("allow"))
        await log.next(TurnEnded)
    assert "and mention the weather" in models.agent_requests[-1].text
    assert len(log.of(TurnEnded)) == 1
