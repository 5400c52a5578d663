"""Coding tools in sandboxes across a server restart: real ``python server.py`` with
``TRACE_CLOUD_HOST=sandbox``, the real Claude Code, Codex and claude-code-acp in the sandboxed
bridge (bubblewrap), against the scripted model server, on SQLite and PostgreSQL.

Sampled pairwise over (how the server goes × tool × store), and over (the bridge
killed inside its sandbox, alone or with the server × tool × store). The sandbox outlives
the server; after the restart the session still waits for its approval, the same
request is answerable, the tool runs the command in its sandbox's worktree, the
turn's checkpoint is recorded, and nothing was marked lost or failed.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import pytest

from adapters.hosts.sandbox import SandboxHost
from tests.conftest import StoreTarget, eventually
from tests.hosting.test_restart_matrix import PAIRWISE  # the same sample of the matrix
from tests.hosting.test_restarts import alive
from tests.hosts.conftest import need_bwrap
from tests.hosts.test_sandbox_restarts import sandbox_pid, sandboxes_of
from tests.support.git import make_repo
from tests.support.model_server import ModelServer, reply, text
from tests.support.server_process import ServerProcess
from tests.support.tool_config import sandbox_tools
from tests.support.waiting_tools import (
    ASKS,
    MADE,
    ask_for_approval,
    decide,
    follow,
    reaches,
    session_status,
    timeline,
    where_it_stands,
)
from trace_sync.bridge.hosts import HostConfig


@asynccontextmanager
async def sandboxing(
    tmp_path: Path, target: StoreTarget, models: ModelServer, tools_bin: Path
) -> AsyncIterator[ServerProcess]:
    """A server on ``target`` whose cloud sessions run the tools in sandboxes; on leaving
    it is killed and the sandboxes (which outlive it) are stopped."""
    need_bwrap()
    env = sandbox_tools(models, tools_bin)
    if target.schema:
        env |= {"TRACE_DATABASE_URL": target.url, "TRACE_DATABASE_SCHEMA": target.schema}
    server = ServerProcess(tmp_path / "data", extra_env=env)
    server.start()
    try:
        yield server
    finally:
        server.close()
        await SandboxHost(HostConfig(server.data_dir)).stop_all()


@pytest.mark.parametrize(
    ("how", "tool_name", "store_target"),
    PAIRWISE,
    ids=[f"{h.name.lower()}-{t}-{s}" for h, t, s in PAIRWISE],
    indirect=["store_target"],
)
async def test_a_sandboxed_tool_s_pending_approval_survives_a_server_restart(
    tmp_path: Path,
    server_home: Path,
    store_target: StoreTarget,
    models: ModelServer,
    tools_bin: Path,
    how: signal.Signals,
    tool_name: str,
) -> None:
    checkout = make_repo(tmp_path / "shop", branch="main")
    models.script(reply(text("Running it."), ASKS[tool_name]), reply(text("All done.")))
    async with sandboxing(tmp_path, store_target, models, tools_bin) as server:
        waiting = await ask_for_approval(server, checkout, tool_name, "--cloud")
        sid, request_id = waiting.sid, waiting.request_id
        pid = sandbox_pid(server, sid)
        server.stop(how)
        assert alive(pid)  # the sandbox, its bridge and the tool outlived the server
        server.start()
        assert await session_status(server, sid) == "waiting_approval"
        async with follow(server, f"session/{sid}/io") as io:
            # After a SIGKILL the bridge's resync brings back the server's last few ms.
            await eventually(lambda: list(io.approvals()) == [request_id], within=30)
            decided = await decide(server, sid, request_id)
            assert decided.status_code == 200, decided.text
            await eventually(lambda: io.runtime().get("status") == "idle", within=90)
            results = [e for e in io.transcript() if e["kind"] == "tool_result"]
            said = [e["text"] for e in io.transcript() if e["kind"] == "assistant_text"]
            checkpoints: list[dict[str, Any]] = io.checkpoints()
        await reaches(server, sid, "idle")
        assert sandboxes_of(server, sid) == [pid]  # adopted: no second sandbox
        events = await timeline(server, sid)
    assert [r["is_error"] for r in results] == [False], results  # the approved command ran
    assert (waiting.worktree / MADE).exists()
    assert said == ["Running it.", "All done."]  # the transcript, whole and once
    assert checkpoints, "the turn that ran across the restart made its checkpoint"
    assert "approval.decided" in events
    assert not {"runtime.lost", "session.interrupted"} & set(events)


def sandboxed_bridge(sandbox: int) -> psutil.Process:
    """The ``trace bridge`` process inside the sandbox whose outer bwrap is ``sandbox``
    (under the supervisor that starts it again)."""
    for process in psutil.Process(sandbox).children(recursive=True):
        command = process.cmdline()
        if "trace_sync.cli" in command and "trace_sync.bridge.supervisor" not in command:
            return process
    raise AssertionError(f"no bridge inside sandbox {sandbox}")


#: (what is killed, tool, store), pairwise: "both" is the bridge and the server at once.
KILLS = [
    ("bridge", "claude_code", "sqlite"),
    ("both", "claude_code", "postgresql"),
    ("bridge", "codex", "postgresql"),
    ("both", "codex", "sqlite"),
    ("bridge", "acp", "postgresql"),
    ("both", "acp", "sqlite"),
]


@pytest.mark.parametrize(
    ("what", "tool_name", "store_target"),
    KILLS,
    ids=[f"{w}-{t}-{s}" for w, t, s in KILLS],
    indirect=["store_target"],
)
@pytest.mark.timeout(300)
async def test_a_sandboxed_tool_waiting_for_approval_resumes_after_its_bridge_is_killed(
    tmp_path: Path,
    server_home: Path,
    store_target: StoreTarget,
    models: ModelServer,
    tools_bin: Path,
    what: str,
    tool_name: str,
) -> None:
    checkout = make_repo(tmp_path / "shop", branch="main")
    models.script(reply(text("Running it."), ASKS[tool_name]))
    models.script(reply(text("Again."), ASKS[tool_name]), reply(text("All done.")))
    async with sandboxing(tmp_path, store_target, models, tools_bin) as server:
        waiting = await ask_for_approval(server, checkout, tool_name, "--cloud")
        sid, first, pid = waiting.sid, waiting.request_id, sandbox_pid(server, waiting.sid)
        sandboxed_bridge(pid).kill()  # as an out-of-memory kill does
        if what == "both":
            server.stop(signal.SIGKILL)
            server.start()
        async with follow(server, f"session/{sid}/io") as io:
            stuck = partial(where_it_stands, io, models)
            await eventually(lambda: bool(set(io.approvals()) - {first}), 120, stuck)
            [again] = io.approvals()
            decided = await decide(server, sid, again)
            assert decided.status_code == 200, decided.text
            await eventually(lambda: io.runtime().get("status") == "idle", within=90)
            said = [e["text"] for e in io.transcript() if e["kind"] == "assistant_text"]
        await reaches(server, sid, "idle")
        assert sandboxes_of(server, sid) == [pid]  # its bridge came back in the same sandbox
        events = await timeline(server, sid)
    assert (waiting.worktree / MADE).exists()  # the approval asked again reached the tool
    assert said[0] == "Running it." and said[-1] == "All done."  # nothing stored was lost
    assert "session.resumed_after_restart" in events
