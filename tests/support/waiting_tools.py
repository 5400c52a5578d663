"""Coding tools brought to wait for an approval, for the restart tests: a ``python
server.py`` and a ``trace bridge`` process on either store, the real Claude Code, Codex
and claude-code-acp configured against the scripted model server, a session started
until its tool asks, and a person's answer to it.

>>> with processes(tmp_path, store_target, tool_env) as (server, bridge):  # doctest: +SKIP
...     waiting = await ask_for_approval(server, checkout, "codex")
...     await decide(server, waiting.sid, waiting.request_id)
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import StoreTarget, eventually
from tests.hosting.conftest import IoView
from tests.support.bridge_process import BridgeProcess
from tests.support.model_server import ModelServer, Part, tool
from tests.support.server_process import ROOT, ServerProcess
from trace_sync.client.reconnect import Backoff
from trace_sync.client.sync_client import SyncClient

FAST = Backoff(first=0.05, longest=0.5)
#: The file each tool is scripted to make once allowed.
MADE = "approved.txt"
#: What each tool's model asks to run: a command that makes :data:`MADE`.
ASKS: dict[str, Part] = {
    "claude_code": tool("Bash", {"command": f"touch {MADE}"}),
    "codex": tool("exec_command", {"cmd": f"touch {MADE}"}),
    "acp": tool("Bash", {"command": f"touch {MADE}"}),
}


async def trace(server: ServerProcess, *args: str) -> Any:
    """Run the ``trace`` CLI against ``server``; its JSON output."""
    argv = [sys.executable, "-m", "trace_sync.cli", *args, "--json"]
    done = await asyncio.to_thread(
        subprocess.run, argv, cwd=ROOT, env=server.env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@asynccontextmanager
async def follow(server: ServerProcess, name: str) -> AsyncIterator[IoView]:
    """Document ``name`` as a person following it sees it."""
    client = SyncClient(server.url, name, server.token, read_only=True, backoff=FAST)
    async with client:
        await client.wait_synced(30)
        yield IoView(client)


async def session_row(server: ServerProcess, sid: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response = await http.get(
            f"/api/sessions/{sid}", headers={"Authorization": f"Bearer {server.token}"}
        )
    return dict(response.json())


async def session_status(server: ServerProcess, sid: str) -> str:
    return str((await session_row(server, sid))["status"])


async def reaches(server: ServerProcess, sid: str, status: str, within: float = 60) -> None:
    async def reached() -> bool:
        return await session_status(server, sid) == status

    await eventually(reached, within)


async def timeline(server: ServerProcess, sid: str) -> list[str]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response = await http.get(
            f"/api/sessions/{sid}/timeline", headers={"Authorization": f"Bearer {server.token}"}
        )
    return [event["kind"] for event in response.json()["items"]]


@contextmanager
def processes(
    tmp_path: Path, target: StoreTarget, tool_env: dict[str, str], **server_env: str
) -> Iterator[tuple[ServerProcess, BridgeProcess]]:
    """A server on ``target`` and its owner's ``trace bridge`` running the tools; both
    killed on leaving."""
    env = {"TRACE_BRIDGE_LEASE_S": "30", **server_env}
    if target.schema:
        env |= {"TRACE_DATABASE_URL": target.url, "TRACE_DATABASE_SCHEMA": target.schema}
    server = ServerProcess(tmp_path / "data", extra_env=env)
    server.start()
    bridge = BridgeProcess(server.url, server.token, tmp_path / "bridge", extra_env=tool_env)
    try:
        bridge.start()
        yield server, bridge
    finally:
        bridge.__exit__()
        server.close()


@dataclass(frozen=True)
class Waiting:
    """A session whose tool waits for a person's answer."""

    sid: str
    request_id: str
    worktree: Path


async def ask_for_approval(
    server: ServerProcess, checkout: Path, tool_name: str, *options: str
) -> Waiting:
    """Start a ``tool_name`` session on ``checkout`` (``options`` for ``session start``,
    ``--cloud`` say) and wait until it waits for an approval."""
    await trace(server, "repo", "add", str(checkout))
    started = await trace(
        server, "session", "start", "--repo", str(checkout), "--tool", tool_name, *options,
        "-m", "make the file",
    )  # fmt: skip
    sid = started["id"]
    async with follow(server, f"session/{sid}/io") as io:
        await eventually(lambda: len(io.approvals()) == 1, within=120)
        [request_id] = io.approvals()
        worktree = Path(io.runtime()["worktree"])
    await reaches(server, sid, "waiting_approval")
    return Waiting(sid, request_id, worktree)


async def decide(server: ServerProcess, sid: str, request_id: str) -> httpx.Response:
    """Allow request ``request_id`` as the owner would."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        return await http.post(
            f"/api/sessions/{sid}/approvals/{request_id}",
            json={"behavior": "allow"},
            headers={"Authorization": f"Bearer {server.token}"},
        )


def where_it_stands(
    io: IoView, models: ModelServer, asked: int = 0, bridge: BridgeProcess | None = None
) -> str:
    """What a resume that did not ask again left behind, for a failure message: the
    runtime, the last transcript entries, the model's requests since ``asked``, the
    bridge's log."""
    said = [f"{e['kind']}:{str(e.get('text') or '')[:80]}" for e in io.transcript()]
    since = [json.dumps(r.body["messages"][-1])[:240] for r in models.agent_requests[asked:]]
    log = bridge.output()[-800:] if bridge is not None else ""
    return f"runtime {io.runtime()}; transcript {said[-5:]}; asked the model {since}; {log}"
