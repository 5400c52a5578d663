"""The fake coding tool keeps the interface's promises the layers above rely on:
a turn per prompt ending in TurnEnded, approvals that wait for a person, Exited last."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from trace_sync.bridge.tools.fake import FakeToolAdapter
from trace_sync.bridge.tools.interface import (
    ApprovalRequested,
    ApprovalResolved,
    Exited,
    RunStarted,
    ToolAdapter,
    ToolContext,
    ToolEvent,
    ToolRun,
    TurnEnded,
)
from trace_sync.contract.errors import NotFound
from trace_sync.docs.entries import AssistantText, Decision, UserPrompt


async def until(run: ToolRun, kind: type[object]) -> list[ToolEvent]:
    seen: list[ToolEvent] = []
    async for event in run.events():
        seen.append(event)
        if isinstance(event, kind):
            return seen
    raise AssertionError(f"the run ended before a {kind.__name__}: {seen}")


async def test_a_prompt_is_one_turn_and_exited_comes_last(tmp_path: Path) -> None:
    adapter: ToolAdapter = FakeToolAdapter(reply=str.upper)
    async with adapter.run(ToolContext(cwd=tmp_path)) as run:
        await run.send("fix it", prompt_id="p1")
        turn = await until(run, TurnEnded)
    assert isinstance(turn[0], RunStarted) and turn[0].permission_mode == "ask"
    [prompt] = [e for e in turn if isinstance(e, UserPrompt)]
    [said] = [e for e in turn if isinstance(e, AssistantText)]
    assert (prompt.text, prompt.prompt_id, said.text) == ("fix it", "p1", "FIX IT")
    assert [type(e) for e in [event async for event in run.events()]] == [Exited]


async def test_an_approval_waits_for_a_person_and_a_denial_ends_the_turn(tmp_path: Path) -> None:
    adapter = FakeToolAdapter(approval="pytest -q")
    async with adapter.run(ToolContext(cwd=tmp_path)) as run:
        await run.send("run the tests")
        [asked] = [
            e for e in await until(run, ApprovalRequested) if isinstance(e, ApprovalRequested)
        ]
        assert list(run.pending) == [asked.request.id] and asked.request.title == "pytest -q"
        no = Decision(request_id=asked.request.id, behavior="deny", by="u_1", at=datetime.now(UTC))
        await run.decide(asked.request.id, no)
        turn = await until(run, TurnEnded)
        assert ApprovalResolved(asked.request.id, "deny") in turn
        assert not any(isinstance(e, AssistantText) for e in turn) and not run.pending
        with pytest.raises(NotFound):
            await run.decide(asked.request.id, no)


async def test_bypass_skips_approvals(tmp_path: Path) -> None:
    adapter = FakeToolAdapter(approval="rm -rf build")
    async with adapter.run(ToolContext(cwd=tmp_path, permission_mode="bypass")) as run:
        await run.send("clean")
        turn = await until(run, TurnEnded)
    assert not any(isinstance(e, ApprovalRequested) for e in turn)
    assert adapter.runs[0].prompts == ["clean"]
