"""``trace session delete`` with a real server, a real ``trace bridge`` and real git:
the worktree, its entry, the checkpoint refs and the branch go (a merged branch stays),
and a bridge that was offline removes them when it comes back."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import eventually
from tests.hosting.test_restarts import bridged
from tests.support.git import git
from tests.support.server_process import ROOT, ServerProcess
from tests.support.waiting_tools import follow, reaches, trace


async def worked(server: ServerProcess, checkout: Path, command: str) -> tuple[str, Path]:
    """A shell session that ran ``command`` to its end (a turn: one checkpoint), stopped."""
    await trace(server, "repo", "add", str(checkout))
    argv = ["session", "start", "--repo", str(checkout), "--tool", "shell", "-m", command]
    sid = str((await trace(server, *argv))["id"])
    async with follow(server, f"session/{sid}/io") as io:
        await eventually(lambda: len(io.checkpoints()) >= 1, within=60)
        worktree = Path(io.runtime()["worktree"])
    await reaches(server, sid, "idle")
    return sid, worktree


def left_in(checkout: Path, sid: str, worktree: Path) -> dict[str, Any]:
    return {
        "directory": worktree.exists(),
        "entry": str(worktree) in git(checkout, "worktree", "list", "--porcelain"),
        "checkpoints": git(checkout, "for-each-ref", f"refs/trace/checkpoints/{sid}/"),
        "branches": git(checkout, "branch", "--list", "trace/*"),
    }


NOTHING = {"directory": False, "entry": False, "checkpoints": "", "branches": ""}


async def delete(server: ServerProcess, sid: str) -> str:
    done = await asyncio.to_thread(
        subprocess.run,
        [str(Path(sys.executable).parent / "trace"), "session", "delete", sid],
        cwd=ROOT, env=server.env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_delete_removes_the_worktree_its_entry_checkpoints_and_branch(
    tmp_path: Path,
) -> None:
    async with bridged(tmp_path) as (server, _bridge, checkout):
        sid, worktree = await worked(server, checkout, "echo work > made.txt")
        assert left_in(checkout, sid, worktree)["checkpoints"] != ""
        await trace(server, "session", "stop", sid)
        said = await delete(server, sid)
        assert f"deleted {sid}" in said
        assert "worktree removed" in said and "branch deleted" in said
        assert left_in(checkout, sid, worktree) == NOTHING


async def test_a_merged_branch_is_kept_and_the_answer_says_so(tmp_path: Path) -> None:
    async with bridged(tmp_path) as (server, _bridge, checkout):
        sid, worktree = await worked(server, checkout, "echo feature > feature.txt")
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            merged = await http.post(
                f"/api/sessions/{sid}/merge", headers={"Authorization": f"Bearer {server.token}"}
            )
        assert merged.status_code == 200 and merged.json()["merged"], merged.text
        await trace(server, "session", "stop", sid)
        [answer] = await trace(server, "session", "delete", sid)
        assert answer["removed"]["state"] == "done"
        assert answer["removed"]["branch"] == "kept: merged"
        left = left_in(checkout, sid, worktree)
        assert left["branches"].strip().startswith("trace/")
        assert left | {"branches": ""} == NOTHING
        assert git(checkout, "show", "main:feature.txt") == "feature"


async def test_a_bridge_offline_at_delete_removes_it_all_when_it_reconnects(
    tmp_path: Path,
) -> None:
    async with bridged(tmp_path) as (server, bridge, checkout):
        sid, worktree = await worked(server, checkout, "echo work > made.txt")
        await trace(server, "session", "stop", sid)
        bridge.stop(signal.SIGKILL)
        [answer] = await trace(server, "session", "delete", sid)
        assert answer["removed"]["state"] == "pending"
        assert "reconnects" in answer["removed"]["why"]
        assert left_in(checkout, sid, worktree)["directory"]  # nobody removed it yet
        bridge.start()
        await eventually(lambda: left_in(checkout, sid, worktree) == NOTHING, within=60)
        bridge.stop(signal.SIGKILL)
        bridge.start()  # nothing is owed any more: the next hello carries nothing
        await eventually(lambda: bridge.output().count("welcomed") >= 1, within=60)
        assert "was not removed" not in bridge.output()
