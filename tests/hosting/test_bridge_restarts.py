"""A bridge killed with -9 and started again: real ``python server.py`` and ``trace bridge``
processes; the real Claude Code, Codex and an ACP agent against the scripted model server.

What the restart cut off comes back by itself where the tool can resume its
conversation (its pending approval asked again; left without its bridge, the
tool was ended before it could take the silence for a refusal); a shell command that died is
``interrupted`` with the command named, and runs again in one step; an idle
session stays idle through the loss of its bridge and its return.
"""

from __future__ import annotations

import signal
from functools import partial
from pathlib import Path

import pytest

from tests.conftest import StoreTarget, eventually
from tests.hosting.test_restarts import another_shell, bridged, start_shell
from tests.support.git import make_repo
from tests.support.model_server import ModelServer, reply, text
from tests.support.server_process import ServerProcess
from tests.support.tool_config import configure_tools
from tests.support.waiting_tools import (
    ASKS,
    MADE,
    ask_for_approval,
    decide,
    follow,
    processes,
    reaches,
    session_row,
    session_status,
    timeline,
    trace,
    where_it_stands,
)
from trace_sync.bridge import leftovers
from trace_sync.bridge.sessions.hosted import AFRESH, CONTINUE

AFRESH_HERE = AFRESH.format(asked="make the file")

#: Waits for a file the test makes in the worktree: at work until then.
COMMAND = "until test -e go; do sleep 0.2; done; echo ran-$((6*7))"


@pytest.mark.parametrize("what", ["bridge", "both"])
async def test_a_shell_command_cut_off_by_a_bridge_kill_is_interrupted_and_runs_again(
    tmp_path: Path, what: str
) -> None:
    async with bridged(tmp_path) as (server, bridge, checkout):
        idle = await start_shell(server, checkout, "echo rest-$((1))")
        await reaches(server, idle, "idle")
        busy = await another_shell(server, checkout, COMMAND)
        await reaches(server, busy, "running")
        async with follow(server, f"session/{idle}/io") as io:
            await eventually(lambda: "rest-1" in io.lines())
            old_shell = io.runtime()["pid"]
        bridge.stop(signal.SIGKILL)
        if what == "both":
            server.stop(signal.SIGKILL)
            server.start()
        await reaches(server, busy, "interrupted")  # the lease ran out
        assert await session_status(server, idle) == "idle"  # nothing ran: nothing lost
        bridge.start()
        said = f"the bridge restarted while `{COMMAND}` ran"
        await eventually(lambda: _reason_is(server, busy, said), within=60)
        async with follow(server, f"session/{idle}/io") as io:
            await eventually(lambda: io.runtime().get("pid") not in (None, old_shell), 60)
            await trace(server, "session", "send", idle, "echo again-$((2))")
            await eventually(lambda: "again-2" in io.lines(), within=60)
            assert io.lines().count("rest-1") == 1  # its output from before the kill, kept
        assert await session_status(server, busy) == "interrupted"
        async with follow(server, f"session/{busy}/io") as io:
            (Path(io.runtime()["worktree"]) / "go").touch()
            await trace(server, "session", "rerun", busy)
            await eventually(lambda: "ran-42" in io.lines(), within=60)
        await reaches(server, busy, "idle")
        busy_events, idle_events = await timeline(server, busy), await timeline(server, idle)
        row = await session_row(server, busy)
    assert "runtime.lost" in busy_events and "session.rerun" in busy_events
    assert row["reason"] is None
    cut_off = {"runtime.lost", "session.interrupted", "session.resumed_after_restart"}
    assert not cut_off & set(idle_events)


async def _reason_is(server: ServerProcess, sid: str, reason: str) -> bool:
    row = await session_row(server, sid)
    return row["status"] == "interrupted" and row["reason"] == reason


#: (what is killed × tool × store), sampled pairwise: every pair of values is in a case.
#: "both": the server and its bridge killed together (a machine's power cut, say).
PAIRWISE = [
    ("bridge", "claude_code", "sqlite"),
    ("bridge", "codex", "postgresql"),
    ("bridge", "acp", "postgresql"),
    ("both", "claude_code", "postgresql"),
    ("both", "codex", "sqlite"),
    ("both", "acp", "sqlite"),
]


@pytest.mark.parametrize(
    ("what", "tool_name", "store_target"),
    PAIRWISE,
    ids=[f"{w}-{t}-{s}" for w, t, s in PAIRWISE],
    indirect=["store_target"],
)
async def test_a_tool_waiting_for_approval_resumes_by_itself_after_a_bridge_kill(
    tmp_path: Path,
    store_target: StoreTarget,
    models: ModelServer,
    tools_bin: Path,
    own_home: Path,
    what: str,
    tool_name: str,
) -> None:
    tool_env = configure_tools(tmp_path / "bridge", models, tools_bin, own_home)
    checkout = make_repo(tmp_path / "shop", branch="main")
    # The first ask dies with the bridge; the resumed tool asks again, then finishes.
    models.script(reply(text("Running it."), ASKS[tool_name]))
    models.script(reply(text("Again."), ASKS[tool_name]), reply(text("All done.")))
    with processes(tmp_path, store_target, tool_env) as (server, bridge):
        waiting = await ask_for_approval(server, checkout, tool_name)
        sid, first = waiting.sid, waiting.request_id
        asked_before = len(models.agent_requests)
        bridge.stop(signal.SIGKILL)
        await eventually(lambda: not leftovers.find(sid), within=30)  # its guard ended them
        if what == "both":
            server.stop(signal.SIGKILL)
            server.start()
        bridge.start()
        async with follow(server, f"session/{sid}/io") as io:
            stuck = partial(where_it_stands, io, models, asked_before, bridge)
            await eventually(lambda: bool(set(io.approvals()) - {first}), 60, stuck)
            [again] = io.approvals()  # the dead process's request is closed
            stale = await decide(server, sid, first)
            await reaches(server, sid, "waiting_approval")
            decided = await decide(server, sid, again)
            assert decided.status_code == 200, decided.text
            await eventually(lambda: (waiting.worktree / MADE).exists(), within=90)
            await eventually(lambda: io.runtime().get("status") == "idle", within=90)
            prompts = [e["text"] for e in io.transcript() if e["kind"] == "user_prompt"]
            said = [e["text"] for e in io.transcript() if e["kind"] == "assistant_text"]
            checkpoints = io.checkpoints()
        await reaches(server, sid, "idle")
        events = await timeline(server, sid)
    later = [r.text for r in models.agent_requests[asked_before:] if "make the file" in r.text]
    # Left without its bridge, the tool never took the silence for a refusal: the
    # first turn of the conversation the model saw after the kill is the resumed one.
    assert "Continue where you left off" in later[0]
    # Resumed; or, where the tool was ended before it saved its conversation (a loaded
    # machine), started afresh and told what it was asked (test below).
    assert prompts in (["make the file", CONTINUE], ["make the file", AFRESH_HERE])
    assert said[0] == "Running it." and said[-1] == "All done."  # nothing stored was lost
    assert checkpoints, "the resumed turn made its checkpoint"
    assert stale.status_code in (404, 409), stale.text  # never answerable once its bridge died
    assert "session.interrupted" in events or "runtime.lost" in events
    assert "session.resumed_after_restart" in events


@pytest.mark.parametrize("tool_name", ["claude_code", "acp"])
async def test_a_tool_whose_conversation_was_never_saved_starts_afresh_and_asks_again(
    tmp_path: Path,
    models: ModelServer,
    tools_bin: Path,
    own_home: Path,
    tool_name: str,
) -> None:
    """Killed before it saved its conversation, the tool cannot resume it: a new one is
    started, told what was asked, instead of leaving the session failed."""
    tool_env = configure_tools(tmp_path / "bridge", models, tools_bin, own_home)
    checkout = make_repo(tmp_path / "shop", branch="main")
    models.script(reply(text("Running it."), ASKS[tool_name]))
    models.script(reply(text("Again."), ASKS[tool_name]), reply(text("All done.")))
    target = StoreTarget(f"sqlite+aiosqlite:///{tmp_path / 'trace.db'}")
    with processes(tmp_path, target, tool_env) as (server, bridge):
        waiting = await ask_for_approval(server, checkout, tool_name)
        # Claude writes its conversation as it goes: under load the file can come after the
        # question, and a kill before it would not test the adapter's path for a lost one.
        await eventually(lambda: bool(_conversations(own_home)), within=30)
        bridge.stop(signal.SIGKILL)
        await eventually(lambda: not leftovers.find(waiting.sid), within=30)
        _forget_conversations(own_home)  # as if the tool had been ended before it saved them
        bridge.start()
        async with follow(server, f"session/{waiting.sid}/io") as io:
            await eventually(lambda: bool(set(io.approvals()) - {waiting.request_id}), 60)
            [again] = io.approvals()
            assert (await decide(server, waiting.sid, again)).status_code == 200
            await eventually(lambda: (waiting.worktree / MADE).exists(), within=90)
            prompts = [e["text"] for e in io.transcript() if e["kind"] == "user_prompt"]
        await reaches(server, waiting.sid, "idle")
    assert prompts == ["make the file", AFRESH_HERE]
    assert "You were asked: make the file" in models.agent_requests[-2].text


def _conversations(home: Path) -> list[Path]:
    return list(home.glob(".claude/projects/*/*.jsonl"))


def _forget_conversations(home: Path) -> None:
    saved = _conversations(home)
    assert saved, "Claude saved its conversation where the adapter looks for it"
    for path in saved:
        path.unlink()
