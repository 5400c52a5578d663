"""A server restarted under coding tools that wait for an approval: real ``python
server.py`` and ``trace bridge`` processes, the real Claude Code, Codex and an ACP
agent against the scripted model server, on SQLite and PostgreSQL.

The matrix (how the server goes × tool × store) is sampled pairwise: every pair
of values appears in some case. After the restart the session still waits for
its approval, the request is answerable, the tool gets the answer and runs the
command, the turn's checkpoint is recorded, and nothing was marked lost or failed.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StoreTarget, eventually
from tests.support.git import make_repo
from tests.support.model_server import ModelServer, reply, text
from tests.support.tool_config import configure_tools
from tests.support.waiting_tools import (
    ASKS,
    MADE,
    ask_for_approval,
    decide,
    follow,
    processes,
    reaches,
    session_status,
    timeline,
)

PAIRWISE = [
    (signal.SIGTERM, "claude_code", "postgresql"),
    (signal.SIGKILL, "claude_code", "sqlite"),
    (signal.SIGKILL, "codex", "postgresql"),
    (signal.SIGTERM, "codex", "sqlite"),
    (signal.SIGKILL, "acp", "postgresql"),
    (signal.SIGTERM, "acp", "sqlite"),
]


@pytest.mark.parametrize(
    ("how", "tool_name", "store_target"),
    PAIRWISE,
    ids=[f"{h.name.lower()}-{t}-{s}" for h, t, s in PAIRWISE],
    indirect=["store_target"],
)
async def test_a_pending_approval_survives_a_server_restart(
    tmp_path: Path,
    store_target: StoreTarget,
    models: ModelServer,
    tools_bin: Path,
    own_home: Path,
    how: signal.Signals,
    tool_name: str,
) -> None:
    tool_env = configure_tools(tmp_path / "bridge", models, tools_bin, own_home)
    checkout = make_repo(tmp_path / "shop", branch="main")
    models.script(reply(text("Running it."), ASKS[tool_name]), reply(text("All done.")))
    with processes(tmp_path, store_target, tool_env) as (server, _bridge):
        waiting = await ask_for_approval(server, checkout, tool_name)
        sid, request_id = waiting.sid, waiting.request_id
        server.stop(how)
        server.start()
        assert await session_status(server, sid) == "waiting_approval"
        async with follow(server, f"session/{sid}/io") as io:
            # After a SIGKILL the bridge's resync brings back what the server had not
            # yet written (the last few ms): the request shows once it reconnected.
            await eventually(lambda: list(io.approvals()) == [request_id], within=30)
            decided = await decide(server, sid, request_id)
            assert decided.status_code == 200, decided.text
            await eventually(lambda: io.runtime().get("status") == "idle", within=90)
            results = [e for e in io.transcript() if e["kind"] == "tool_result"]
            checkpoints: list[dict[str, Any]] = io.checkpoints()
        await reaches(server, sid, "idle")
        events = await timeline(server, sid)
    assert [r["is_error"] for r in results] == [False], results  # the approved command ran
    assert (waiting.worktree / MADE).exists()
    assert checkpoints, "the turn that ran across the restart made its checkpoint"
    assert "approval.decided" in events
    assert not {"runtime.lost", "session.interrupted"} & set(events)
