"""The real Claude Code CLI (pinned in tests/tools) against the scripted model server."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.claude_code import ClaudeCodeAdapter, command
from tests.adapters.conftest import EventLog, decision
from tests.support.model_server import ModelServer, hang, reply, text, tool
from trace_sync.bridge.tools.interface import (
    ApprovalRequested,
    ApprovalResolved,
    Exited,
    RunStarted,
    ToolContext,
    ToolRun,
    ToolSessionStarted,
    TurnEnded,
    UsageSoFar,
)
from trace_sync.contract.errors import InvalidInput
from trace_sync.docs.entries import (
    AssistantText,
    ErrorNote,
    FileChangeNote,
    Plan,
    Question,
    RawEvent,
    ToolCall,
    UsageNote,
)

Context = Callable[..., ToolContext]
Watch = Callable[[ToolRun], EventLog]


@pytest.fixture
def claude(tools_bin: Path) -> ClaudeCodeAdapter:
    return ClaudeCodeAdapter(binary=str(tools_bin / "claude"))


async def test_a_prompt_streams_text_and_reports_cost(
    claude: ClaudeCodeAdapter, context: Context, models: ModelServer, watch: Watch
) -> None:
    models.script(reply(text("Hello there, friend.")))
    async with claude.run(context()) as run:
        log = watch(run)
        await run.send("say hello")
        ended = await log.next(TurnEnded)
    texts = log.of(AssistantText)
    assert {t.id for t in texts} == {texts[-1].id}
    assert [t.text for t in texts if t.streaming][0] == "Hello ther"
    assert texts[-1].text == "Hello there, friend." and not texts[-1].streaming
    assert ended.usage.cost_usd > 0 and not ended.usage.estimated
    assert ended.usage.input_tokens > 0 and ended.session_cost_usd == ended.usage.cost_usd
    assert log.of(UsageNote) == [ended.usage]
    # Reported while the turn ran (estimated), so a session's cost moves before it ends.
    so_far = log.of(UsageSoFar)[-1].usage
    assert so_far.estimated and so_far.output_tokens > 0 and so_far.cost_usd > 0
    assert ended.tool_session_id == log.of(ToolSessionStarted)[0].tool_session_id


async def test_write_and_edit_change_the_files(
    claude: ClaudeCodeAdapter, context: Context, models: ModelServer, repo: Path, watch: Watch
) -> None:
    models.script(
        reply(tool("Write", {"file_path": str(repo / "notes.txt"), "content": "one\n"})),
        reply(
            tool(
                "Edit",
                {
                    "file_path": str(repo / "README.md"),
                    "old_string": "hello",
                    "new_string": "goodbye",
                },
            )
        ),
        reply(text("Edited.")),
    )
    async with claude.run(context(permission_mode="accept_edits")) as run:
        log = watch(run)
        await run.send("write notes")
        await log.next(TurnEnded)
    assert (repo / "notes.txt").read_text() == "one\n"
    assert (repo / "README.md").read_text() == "goodbye\n"
    assert [n.paths for n in log.of(FileChangeNote)] == [["notes.txt"], ["README.md"]]
    assert not log.of(ApprovalRequested)
    assert {c.name: c.status for c in log.of(ToolCall)} == {"Write": "done", "Edit": "done"}


async def test_an_allowed_command_runs(
    claude: ClaudeCodeAdapter, context: Context, models: ModelServer, repo: Path, watch: Watch
) -> None:
    models.script(reply(tool("Bash", {"command": "touch allowed.txt"})), reply(text("Ran it.")))
    async with claude.run(context()) as run:
        log = watch(run)
        await run.send("make a file")
        asked = await log.next(ApprovalRequested)
        assert asked.request.detail.command == "touch allowed.txt"
        assert asked.request.tool == "Bash" and asked.request.kind == "permission"
        assert run.pending.keys() == {asked.request.id}
        assert not (repo / "allowed.txt").exists()
        await run.decide(asked.request.id, decision("allow"))
        await log.next(TurnEnded)
    assert (repo / "allowed.txt").exists()
    assert log.of(ApprovalResolved)[0].outcome == "allow"


async def test_a_denied_command_does_not_run_and_the_model_hears_why(
    claude: ClaudeCodeAdapter, context: Context, models: ModelServer, repo: Path, watch: Watch
) -> None:
    models.script(reply(tool("Bash", {"command": "touch denied.txt"})), reply(text("Understood.")))
    async with claude.run(context()) as run:
        log = watch(run)
        await run.send("make a file")
        asked = await log.next(ApprovalRequested)
        await run.decide(asked.request.id, decision("deny", message="Not in this repo."))
        await log.next(TurnEnded)
    assert not (repo / "denied.txt").exists()
    assert "Not in this repo." in models.agent_requests[-1].text
    assert log.of(ToolCall)[-1].status == "denied"


async def test_allow_always_lets_the_same_command_pass_afterwards(
    claude: ClaudeCodeAdapter, context: Context, models: ModelServer, repo: Path, watch: Watch
) -> None:
    command = {"command": "echo again >> log.txt"}
    models.script(reply(tool("Bash", command)), reply(tool("Bash", command)), reply(text("Twice.")))
    async with claude.run(context()) as run:
        log = watch(run)
        await run.send("append twice")
        asked = await log.next(ApprovalRequested)
        await run.decide(asked.request.id, decision("allow_always"))
        await log.next(TurnEnded)
    assert (repo / "log.txt").read_text() == "again\nagain\n"
    assert len(log.of(ApprovalRequested)) == 1


async def test_a_question_waits_for_a_person_and_the_answer_reaches_the_tool(
    claude: ClaudeCodeAdapter, context: Context, models: ModelServer, watch: Watch
) -> None:
    question = {
        "question": "Which colour?",
        "header": "Colour",
        "multiSelect": False,
        "options": [
            {"label": "red", "description": "warm"},
            {"label": "blue", "description": "cool"},
        ],
    }
    models.script(reply(tool("AskUserQuestion", {"questions": [question]})), reply(text("Blue.")))
    async with claude.run(context()) as run:
        log = watch(run)
        await run.send("pick a colour")
        asked = await log.next(ApprovalRequested)
        assert asked.request.kind == "question" and asked.request.options == ["red", "blue"]
        assert log.of(Question)[0].text == "Which colour?"
        await run.decide(asked.request.id, decision("answer", answer="blue"))
        await log.next(TurnEnded)
    result = json.dumps(models.agent_requests[-1].body["messages"][-1])
    assert "Which colour?" in result and "blue" in result


async def test_resume_continues_the_session_and_fork_branches_it(
    claude: ClaudeCodeAdapter, context: Context, models: ModelServer, watch: Watch
) -> None:
    models.script(reply(text("Noted: kiwi.")), reply(text("It was kiwi.")), reply(text("Kiwi.")))
    async with claude.run(context()) as run:
        log = watch(run)
        await run.send("remember the word kiwi")
        first = (await log.next(TurnEnded)).tool_session_id
    assert first is not None
    async with claude.run(context(resume_id=first)) as run:
        log = watch(run)
        await run.send("which word?")
        resumed = await log.next(TurnEnded)
    assert resumed.tool_session_id == first
    assert "remember the word kiwi" in models.agent_requests[-1].text
    assert (
        resumed.usage.estimated
    )  # Claude's total spans the resumed session: this turn's share is estimated
    async with claude.run(context(resume_id=first, fork=True)) as run:
        log = watch(run)
        await run.send("and now?")
        forked = await log.next(TurnEnded)
        started = log.of(ToolSessionStarted)[-1]
    assert forked.tool_session_id not in (None, first)
    assert started.forked_from == first
    assert "which word?" in models.agent_requests[-1].text


async def test_resume_at_a_point_rewinds_the_conversation_and_keeps_the_original(
    claude: ClaudeCodeAdapter, context: Context, models: ModelServer, watch: Watch
) -> None:
    replies = ("Noted: apple.", "Noted: banana.", "Apple.", "Banana too.")
    models.script(*(reply(text(said)) for said in replies))
    async with claude.run(context()) as run:
        log = watch(run)
        await run.send("remember apple")
        point = (await log.next(TurnEnded)).tool_point
        await run.send("remember banana")
        first = (await log.next(TurnEnded)).tool_session_id
    assert first is not None and point is not None
    async with claude.run(context(resume_id=first, resume_at=point)) as run:
        log = watch(run)
        await run.send("which fruits?")
        rewound = await log.next(TurnEnded)
    told = models.agent_requests[-1].text
    assert "apple" in told and "banana" not in told
    assert rewound.tool_session_id not in (None, first)
    async with claude.run(context(resume_id=first)) as run:  # the original is intact
        log = watch(run)
        await run.send("which fruits?")
        await log.next(TurnEnded)
    assert "banana" in models.agent_requests[-1].text


def test_a_rewind_resumes_up_to_the_point_in_a_new_session(tmp_path: Path) -> None:
    rewind = command(Path("claude"), ToolContext(tmp_path, resume_id="s1", resume_at="u7"))
    assert rewind[rewind.index("--resume") + 1] == "s1"
    assert rewind[rewind.index("--resume-session-at") + 1] == "u7" and "--fork-session" in rewind
    resume = command(Path("claude"), ToolContext(tmp_path, resume_id="s1"))
    assert "--resume-session-at" not in resume and "--fork-session" not in resume
    with pytest.raises(InvalidInput, match="resume_at needs"):
        ToolContext(tmp_path, resume_at="u7")


async def test_interrupt_stops_a_long_turn_and_the_run_goes_on(
    claude: ClaudeCodeAdapter, context: Context, models: ModelServer, watch: Watch
) -> None:
    models.script(reply(hang("Working on it")), reply(text("Fresh start.")))
    async with claude.run(context()) as run:
        log = watch(run)
        await run.send("do something long")
        await log.next(AssistantText, lambda t: t.text.startswith("Working"))
        await run.interrupt()
        stopped = await log.next(TurnEnded)
        assert stopped.stop_reason == "interrupted"
        await run.send("something short")
        await log.count(TurnEnded, 2)
    assert log.of(AssistantText)[-1].text == "Fresh start."


async def test_garbage_output_becomes_raw_entries_and_the_run_carries_on(
    tools_bin: Path, context: Context, models: ModelServer, tmp_path: Path, watch: Watch
) -> None:
    wrapper = tmp_path / "claude-noisy"
    real = tools_bin / "claude"
    wrapper.write_text(
        f'#!/bin/sh\necho \'not json at all\'\necho \'{{"type": "mystery"}}\'\nexec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    models.script(reply(text("Still fine.")))
    async with ClaudeCodeAdapter(binary=str(wrapper)).run(context()) as run:
        log = watch(run)
        await run.send("hello")
        await log.next(TurnEnded)
    assert [r.data for r in log.of(RawEvent)][:2] == ["not json at all", {"type": "mystery"}]
    assert log.of(AssistantText)[-1].text == "Still fine."


async def test_a_tool_that_dies_mid_turn_yields_an_error_and_exits(
    claude: ClaudeCodeAdapter, context: Context, models: ModelServer, watch: Watch
) -> None:
    models.script(reply(hang()))
    async with claude.run(context()) as run:
        log = watch(run)
        await run.send("go")
        started = await log.next(AssistantText)
        assert started.streaming
        assert run.process.pid is not None
        os.killpg(run.process.pid, signal.SIGKILL)
        exited = await log.next(Exited)
    assert exited.code == -signal.SIGKILL and exited.error
    assert "middle of a turn" in log.of(ErrorNote)[-1].message


async def test_a_plan_goes_back_with_the_persons_feedback(
    claude: ClaudeCodeAdapter, context: Context, models: ModelServer, watch: Watch
) -> None:
    models.script(
        reply(tool("EnterPlanMode", {})),
        reply(tool("ExitPlanMode", {"plan": "1. Rename the module"})),
        reply(text("Revising.")),
    )
    async with claude.run(context()) as run:
        log = watch(run)
        await run.send("plan a rename")
        asked = await log.next(ApprovalRequested, lambda a: a.request.kind == "plan")
        assert log.of(Plan)[0].text == "1. Rename the module"
        await run.decide(asked.request.id, decision("answer", answer="Add tests first."))
        await log.next(TurnEnded)
    assert "Add tests first." in models.agent_requests[-1].text


async def test_an_unanswered_request_expires_and_is_denied(
    claude: ClaudeCodeAdapter, context: Context, models: ModelServer, repo: Path, watch: Watch
) -> None:
    models.script(reply(tool("Bash", {"command": "touch late.txt"})), reply(text("Skipped.")))
    async with claude.run(context(approval_timeout=0.5)) as run:
        log = watch(run)
        await run.send("make a file")
        asked = await log.next(ApprovalRequested)
        assert asked.request.expires_at is not None
        resolved = await log.next(ApprovalResolved)
        await log.next(TurnEnded)
    assert resolved.outcome == "expired" and not (repo / "late.txt").exists()
    assert "No one answered in time." in models.agent_requests[-1].text


async def test_bypass_is_announced_and_runs_commands_unasked(
    claude: ClaudeCodeAdapter, context: Context, models: ModelServer, repo: Path, watch: Watch
) -> None:
    models.script(reply(tool("Bash", {"command": "touch bypassed.txt"})), reply(text("Done.")))
    async with claude.run(context(permission_mode="bypass")) as run:
        log = watch(run)
        await run.send("make a file")
        await log.next(TurnEnded)
    assert log.of(RunStarted)[0].permission_mode == "bypass"
    assert (repo / "bypassed.txt").exists() and not log.of(ApprovalRequested)


async def test_a_prompt_sent_during_a_turn_joins_it(
    claude: ClaudeCodeAdapter, context: Context, models: ModelServer, watch: Watch
) -> None:
    models.script(reply(tool("Bash", {"command": "touch steer.txt"})), reply(text("Also sunny.")))
    async with claude.run(context()) as run:
        log = watch(run)
        await run.send("make a file")
        asked = await log.next(ApprovalRequested)
        await run.send("and mention the weather")
        await run.decide(asked.request.id, decision("allow"))
        await log.next(TurnEnded)
        assert run.turns_open == 0
    assert "and mention the weather" in models.agent_requests[-1].text
