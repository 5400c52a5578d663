"""The shell tool: the user's shell (or a command) in a real PTY, prompts typed as lines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from adapters.shell import ShellAdapter
from tests.adapters.conftest import EventLog
from tests.conftest import eventually
from trace_sync.bridge.tools import registry
from trace_sync.bridge.tools.interface import (
    Exited,
    RunStarted,
    TerminalOutput,
    ToolContext,
    ToolRun,
    TurnEnded,
)
from trace_sync.contract.errors import NotFound
from trace_sync.docs.entries import UserPrompt

Watch = Callable[[ToolRun], EventLog]


@pytest.fixture(autouse=True)
def plain_shell(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHELL", "/bin/bash")
    monkeypatch.setenv("HOME", str(tmp_path))


def running(shell: int, name: str) -> bool:
    """Whether the shell ``shell`` runs a child that became ``name`` (exec'd)."""
    return any(child.name() == name for child in psutil.Process(shell).children())


def written(log: EventLog) -> str:
    """The terminal output in the log."""
    chunks = [e.data for e in log.events if isinstance(e, TerminalOutput)]
    return b"".join(chunks).decode(errors="replace")


async def test_a_prompt_is_typed_and_the_turn_ends_when_the_shell_is_back(
    tmp_path: Path, watch: Watch
) -> None:
    async with ShellAdapter().run(ToolContext(cwd=tmp_path)) as run:
        log = watch(run)
        started = await log.next(RunStarted)
        await run.send("sleep 1; echo done-$((6 * 7))", prompt_id="p1")
        done = await log.next(TerminalOutput, lambda e: b"done-42" in e.data)
        ended = await log.next(TurnEnded, lambda e: log.events.index(e) > log.events.index(done))
        asked = log.events.index(log.of(UserPrompt)[0])
        during = log.events[asked : log.events.index(done)]
        # The silent second of the sleep did not end the turn: the job held the foreground.
        assert ended.stop_reason == "prompt" and not any(isinstance(e, TurnEnded) for e in during)
        assert log.of(UserPrompt)[0].prompt_id == "p1" and started.pid is not None
    assert log.events[-1] == Exited(log.of(Exited)[0].code)


async def test_interrupt_is_ctrl_c_and_typing_reaches_the_terminal(
    tmp_path: Path, watch: Watch
) -> None:
    shell = ShellAdapter()
    async with shell.run(ToolContext(cwd=tmp_path)) as run:
        log = watch(run)
        await run.send("sleep 300")
        await eventually(lambda: running(run.pty.pid, "sleep"))  # exec'd: Ctrl-C is its now
        await run.interrupt()
        await log.count(TurnEnded, 1)  # back at the prompt
        assert "^C" in written(log)
        await run.write(b"exit 3\r")
        exited = await log.next(Exited)
    assert exited.code == 3


async def test_a_command_that_is_not_a_shell_ends_its_turns_when_quiet(
    tmp_path: Path, watch: Watch
) -> None:
    adapter = ShellAdapter(command="cat -n", quiet_s=0.2)
    async with adapter.run(ToolContext(cwd=tmp_path)) as run:
        log = watch(run)
        await run.send("hello cat")
        ended = await log.next(TurnEnded, lambda e: "1\thello cat" in written(log))
        assert ended.stop_reason == "quiet"


def test_the_registry_knows_the_shell_and_a_missing_command_is_reported() -> None:
    assert registry.report()["shell"].available
    missing = ShellAdapter(command="no-such-program-here --flag")
    assert not missing.available()
    with pytest.raises(NotFound):
        missing.run(ToolContext(cwd=Path("/")))
