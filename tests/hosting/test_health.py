"""A hosted session's health — heartbeat, memory, worktree disk use — in the workspace index
and the session's facts, rolled up from io without rewriting the index at every heartbeat."""

from __future__ import annotations

from typing import Any

from tests.conftest import eventually
from tests.hosting.conftest import Hosting


async def test_the_workspace_index_shows_a_sessions_health_not_every_heartbeat(
    hosting: Hosting,
) -> None:
    sid = await hosting.start(prompt="sleep 30")
    await hosting.status(sid, "running")

    async def indexed() -> dict[str, Any]:
        return dict((await hosting.bed.workspace("sessions"))[sid])

    async def healthy() -> bool:
        entry = await indexed()
        return bool(entry.get("heartbeat_at")) and (entry.get("memory_bytes") or 0) > 0

    await eventually(healthy)
    first = await indexed()
    assert first["disk_bytes"] > 0 and first["cpu_percent"] >= 0
    async with hosting.io(sid) as io:
        beats: set[str] = set()

        def beaten_five_times() -> bool:
            beats.add(io.runtime()["heartbeat_at"])
            return len(beats) >= 5

        # The bridge beats every 0.2 s here; the index takes one every 30 s.
        await eventually(beaten_five_times)
    assert (await indexed())["heartbeat_at"] == first["heartbeat_at"]
    shown = (await hosting.api("GET", f"/api/sessions/{sid}")).json()
    assert shown["heartbeat_at"] is not None and shown["memory_bytes"] > 0
    assert shown["disk_bytes"] == first["disk_bytes"]
