"""The io observer: a runtime writes ``session/<sid>/io`` over /sync with its
own token, and the server derives status, cost, checkpoints and search from it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pycrdt import Array, Map, Text

from tests.api.conftest import Team
from tests.conftest import eventually
from trace_sync.client.sync_client import SyncClient

NOW = datetime.now(UTC).isoformat()


@pytest.fixture
async def hosted(team: Team) -> AsyncIterator[tuple[str, SyncClient]]:
    """A session assigned to the test runtime, and that runtime's io client."""
    sid = (await team.start(title="observed")).get("id")
    assert isinstance(sid, str)
    await team.host(sid)
    async with team.sync("runtime", f"session/{sid}/io") as io:
        await io.wait_synced()
        yield sid, io


def write(io: SyncClient, root: str, key: str | None, value: Any) -> None:
    with io.doc.transaction(origin="runtime"):
        if key is None:
            io.doc.get(root, type=Array).append(value)
        else:
            io.doc.get(root, type=Map)[key] = value


async def session(team: Team, sid: str) -> dict[str, Any]:
    result: dict[str, Any] = (await team.api("viewer").get(f"/api/sessions/{sid}")).json()
    return result


async def becomes(team: Team, sid: str, field: str, value: Any) -> None:
    async def check() -> bool:
        return (await session(team, sid))[field] == value

    await eventually(check, within=20)


async def index_entry(team: Team, sid: str) -> dict[str, Any]:
    async with team.live.ctx.sync.rooms.document(f"workspace/{team.wid}") as doc:
        return dict(doc.get("sessions", type=Map)[sid])


async def test_status_follows_the_runtime_and_its_pending_requests(
    team: Team, hosted: tuple[str, SyncClient]
) -> None:
    sid, io = hosted
    write(io, "runtime", "status", "running")
    await becomes(team, sid, "status", "running")
    approval = {
        "id": "a1",
        "kind": "permission",
        "tool": "Bash",
        "title": "rm -rf build",
        "at": NOW,
    }
    write(io, "approvals", "a1", approval)
    await becomes(team, sid, "status", "waiting_approval")
    assert (await session(team, sid))["needs_attention"]
    assert (await index_entry(team, sid))["needs_attention"] is True
    with io.doc.transaction(origin="runtime"):
        del io.doc.get("approvals", type=Map)["a1"]
        io.doc.get("approvals", type=Map)["q1"] = approval | {"id": "q1", "kind": "question"}
    await becomes(team, sid, "status", "waiting_input")
    with io.doc.transaction(origin="runtime"):
        del io.doc.get("approvals", type=Map)["q1"]
        io.doc.get("runtime", type=Map)["status"] = "idle"
    await becomes(team, sid, "status", "idle")
    assert (await index_entry(team, sid))["status"] == "idle"
    timeline = (await team.api("viewer").get(f"/api/sessions/{sid}/timeline")).json()["items"]
    assert [e["payload"].get("status") for e in timeline if e["kind"] == "status.reported"] == [
        "running",
        "waiting_approval",
        "waiting_input",
        "idle",
    ]


async def test_a_person_s_stop_outranks_the_runtime(
    team: Team, hosted: tuple[str, SyncClient]
) -> None:
    sid, io = hosted
    write(io, "runtime", "status", "running")
    await becomes(team, sid, "status", "running")
    assert (await team.api("member").post(f"/api/sessions/{sid}/stop")).status_code == 200
    write(io, "runtime", "status", "idle")  # the tool's turn ended as the stop arrived
    write(io, "runtime", "heartbeat_at", NOW)

    async def heard() -> bool:  # the observer took in the change
        return (await session(team, sid))["heartbeat_at"] is not None

    await eventually(heard, within=20)
    await team.live.ctx.observer.idle()
    assert (await session(team, sid))["status"] == "stopped"


async def test_a_runtime_acting_on_a_command_reports_again(
    team: Team, hosted: tuple[str, SyncClient]
) -> None:
    """The runtime missed the pause (it never said 'paused'); after the resume it
    acts on the new generation, still running: the session must not stay 'starting'."""
    sid, io = hosted
    write(io, "runtime", "status", "running")
    await becomes(team, sid, "status", "running")
    for command in ("pause", "resume"):
        assert (await team.api("member").post(f"/api/sessions/{sid}/{command}")).status_code == 200
    assert (await session(team, sid))["status"] == "starting"
    write(io, "runtime", "generation", 3)
    await becomes(team, sid, "status", "running")


async def test_usage_rolls_up_into_the_session_and_the_workspace(
    team: Team, hosted: tuple[str, SyncClient]
) -> None:
    sid, io = hosted
    usage = {"input_tokens": 1200, "output_tokens": 300, "cost_usd": 0.42, "estimated": True}
    with io.doc.transaction(origin="runtime"):
        for key, value in usage.items():
            io.doc.get("usage", type=Map)[key] = value
    await becomes(team, sid, "cost_usd", 0.42)
    assert (await session(team, sid))["cost_estimated"] is True
    entry = await index_entry(team, sid)
    assert (entry["cost_usd"], entry["cost_estimated"]) == (0.42, True)
    async with team.live.ctx.sync.rooms.document(f"session/{sid}") as doc:
        assert dict(doc.get("usage", type=Map)) == usage


async def test_values_that_do_not_validate_are_ignored(
    team: Team, hosted: tuple[str, SyncClient], caplog: pytest.LogCaptureFixture
) -> None:
    sid, io = hosted
    write(io, "usage", "cost_usd", 0.5)
    await becomes(team, sid, "cost_usd", 0.5)
    write(io, "usage", "cost_usd", -3.0)  # a negative cost
    write(io, "runtime", "status", "sleeping")  # no such status
    good = {"n": 1, "ref": f"refs/trace/checkpoints/{sid}/1", "commit": "ab" * 20, "at": NOW}
    forged = good | {"n": 2, "ref": "refs/heads/main"}  # a ref outside the session's own
    write(io, "checkpoints", None, good)
    write(io, "checkpoints", None, forged)
    write(io, "transcript", None, {"id": "t1", "kind": "tool_call", "at": NOW})  # no name
    await eventually(lambda: "refs/heads/main" in caplog.text and "sleeping" in caplog.text)
    # After the warnings, not before: idle() waits only for changes already noted,
    # and the good checkpoint is appended after a claim in the database.
    await team.live.ctx.observer.idle()
    current = await session(team, sid)
    assert (current["cost_usd"], current["status"]) == (0.5, "starting")
    async with team.live.ctx.sync.rooms.document(f"session/{sid}") as doc:
        assert [c["n"] for c in doc.get("checkpoints", type=Array)] == [1]


async def test_finished_transcript_text_becomes_searchable(
    team: Team, hosted: tuple[str, SyncClient]
) -> None:
    sid, io = hosted
    search = f"/api/workspaces/{team.wid}/search"
    message = {"id": "m1", "kind": "assistant_text", "at": NOW, "text": "refactored the"}
    write(io, "transcript", None, message | {"streaming": True})
    await team.live.ctx.observer.idle()
    assert (await team.api("member").get(search, params={"q": "refactored"})).json()["items"] == []
    with io.doc.transaction(origin="runtime"):
        transcript = io.doc.get("transcript", type=Array)
        transcript[0] = message | {"text": "refactored the payment gateway", "streaming": False}

    async def found() -> bool:
        hits = (await team.api("member").get(search, params={"q": "payment gate"})).json()
        return [(h["session"]["id"], h["kind"]) for h in hits["items"]] == [(sid, "transcript")]

    await eventually(found, within=20)


async def test_a_nul_in_transcript_text_does_not_stop_indexing(
    team: Team, hosted: tuple[str, SyncClient]
) -> None:
    sid, io = hosted
    search = f"/api/workspaces/{team.wid}/search"
    for n, words in enumerate(["a binary\u0000blob in the parser", "then the kangaroo test"]):
        entry = {"id": f"m{n}", "kind": "assistant_text", "at": NOW, "text": words}
        write(io, "transcript", None, entry | {"streaming": False})

    async def found(query: str) -> bool:
        hits = (await team.api("member").get(search, params={"q": query})).json()
        return [h["session"]["id"] for h in hits["items"]] == [sid]

    await eventually(lambda: found("kangaroo"), within=20)
    assert await found("parser")


async def test_diff_stats_roll_up_into_the_session_and_the_workspace(
    team: Team, hosted: tuple[str, SyncClient]
) -> None:
    sid, io = hosted
    write(io, "files", "a.py", {"path": "a.py", "status": "modified", "added": 7, "removed": 2})
    write(io, "files", "b.md", {"path": "b.md", "status": "added", "added": 5})
    await becomes(team, sid, "lines_added", 12)
    assert (await session(team, sid))["lines_removed"] == 2
    entry = await index_entry(team, sid)
    assert (entry["lines_added"], entry["lines_removed"]) == (12, 2)
    with io.doc.transaction(origin="runtime"):
        del io.doc.get("files", type=Map)["b.md"]  # the new file was dropped again
    await becomes(team, sid, "lines_added", 7)


async def test_tool_output_and_terminal_output_become_searchable(
    team: Team, hosted: tuple[str, SyncClient]
) -> None:
    sid, io = hosted
    search = f"/api/workspaces/{team.wid}/search"
    result = {"id": "r1", "kind": "tool_result", "at": NOW, "call_id": "c1"}
    write(io, "transcript", None, result | {"output": "ImportError: no module named wombat"})
    with io.doc.transaction(origin="runtime"):
        io.doc.get("terminals", type=Map)["t1"] = {"id": "t1", "title": "tests", "kind": "tool"}
        io.doc.get("output", type=Map)["t1"] = Text("$ pytest\r\n\x1b[31mFAILED\x1b[0m quokka\r\n")

    async def hit(query: str) -> tuple[str, str] | None:
        items = (await team.api("member").get(search, params={"q": query})).json()["items"]
        return (items[0]["kind"], items[0]["snippet"]) if items else None

    await eventually(lambda: _found(hit("wombat")), within=20)
    assert await hit("wombat") == ("tool_output", "ImportError: no module named [wombat]")
    assert await hit("FAILED quokka") == ("terminal", "$ pytest\n[FAILED] [quokka]\n")


async def _found(pending: Any) -> bool:
    return await pending is not None
