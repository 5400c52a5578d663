"""Approvals over HTTP: a runtime asks in ``io``, any writer answers from any
client, the decision lands in ``session/<sid>`` for the runtime to deliver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pycrdt import Map

from tests.api.conftest import Team
from tests.conftest import eventually
from trace_sync.client.sync_client import SyncClient


@pytest.fixture
async def asking(team: Team) -> AsyncIterator[tuple[str, SyncClient]]:
    """A hosted session whose runtime asks to run a command and asks a question."""
    sid = (await team.start(permission_mode="ask"))["id"]
    await team.host(sid)
    async with team.sync("runtime", f"session/{sid}/io") as io:
        await io.wait_synced()
        ask(
            io,
            "a1",
            kind="permission",
            tool="Bash",
            title="Run rm -rf build",
            detail={"command": "rm -rf build"},
        )
        ask(
            io,
            "q1",
            kind="question",
            tool="AskUserQuestion",
            title="Which database?",
            options=["SQLite", "PostgreSQL"],
        )
        await eventually(lambda: waiting(team, sid, 2))
        yield sid, io


def ask(io: SyncClient, request_id: str, **fields: Any) -> None:
    now = datetime.now(UTC).isoformat()
    with io.doc.transaction(origin="runtime"):
        io.doc.get("approvals", type=Map)[request_id] = {"id": request_id, "at": now} | fields


async def waiting(team: Team, sid: str, count: int) -> bool:
    response = await team.api("viewer").get(f"/api/sessions/{sid}/approvals")
    return len(response.json()["items"]) == count


async def decisions(team: Team, sid: str) -> dict[str, Any]:
    async with team.live.ctx.sync.rooms.document(f"session/{sid}") as doc:
        return {k: dict(v) for k, v in doc.get("decisions", type=Map).items()}


async def test_a_viewer_sees_exactly_what_is_asked_and_a_member_allows_it(
    team: Team, asking: tuple[str, SyncClient]
) -> None:
    sid, _ = asking
    items = (await team.api("viewer").get(f"/api/sessions/{sid}/approvals")).json()["items"]
    permission = next(i for i in items if i["id"] == "a1")
    assert permission["detail"]["command"] == "rm -rf build" and permission["tool"] == "Bash"
    refused = await team.api("viewer").post(
        f"/api/sessions/{sid}/approvals/a1", json={"behavior": "allow"}
    )
    assert refused.status_code == 403
    allowed = await team.api("member").post(
        f"/api/sessions/{sid}/approvals/a1", json={"behavior": "allow_always"}
    )
    assert allowed.status_code == 200, allowed.text
    stored = (await decisions(team, sid))["a1"]
    assert stored["behavior"] == "allow_always" and stored["by"] == team.users["member"]
    timeline = (await team.api("owner").get(f"/api/sessions/{sid}/timeline")).json()["items"]
    assert timeline[-1]["kind"] == "approval.decided"
    assert timeline[-1]["payload"]["behavior"] == "allow_always"
    assert [
        i["id"]
        for i in (await team.api("owner").get(f"/api/sessions/{sid}/approvals")).json()["items"]
    ] == ["q1"]


async def test_two_people_deciding_at_once_one_wins_and_the_other_is_told(
    team: Team, asking: tuple[str, SyncClient]
) -> None:
    sid, _ = asking
    path = f"/api/sessions/{sid}/approvals/a1"
    replies = await asyncio.gather(
        team.api("member").post(path, json={"behavior": "allow"}),
        team.api("admin").post(path, json={"behavior": "deny", "message": "not now"}),
    )
    codes = sorted(r.status_code for r in replies)
    assert codes == [200, 409]
    loser = next(r for r in replies if r.status_code == 409)
    assert "already answered" in loser.json()["error"]["message"]


async def test_a_decision_after_the_tool_took_the_first_names_who_decided(
    team: Team, asking: tuple[str, SyncClient]
) -> None:
    sid, io = asking
    path = f"/api/sessions/{sid}/approvals/a1"
    first = await team.api("member").post(path, json={"behavior": "allow"})
    assert first.status_code == 200, first.text
    with io.doc.transaction(origin="runtime"):  # delivered: the runtime no longer asks
        del io.doc.get("approvals", type=Map)["a1"]
    await eventually(lambda: waiting(team, sid, 1))
    again = await team.api("admin").post(path, json={"behavior": "deny"})
    assert again.status_code == 409
    message = again.json()["error"]["message"]
    member = team.users["member"]
    assert "already answered (allow) by member" in message and member not in message


async def test_a_question_is_answered_and_bad_answers_are_refused(
    team: Team, asking: tuple[str, SyncClient]
) -> None:
    sid, _ = asking
    owner = team.api("owner")
    wrong = await owner.post(f"/api/sessions/{sid}/approvals/q1", json={"behavior": "allow"})
    assert wrong.status_code == 422 and "answer" in wrong.json()["error"]["message"]
    empty = await owner.post(f"/api/sessions/{sid}/answer", json={"text": "   "})
    assert empty.status_code == 422
    answered = await owner.post(f"/api/sessions/{sid}/answer", json={"text": "PostgreSQL"})
    assert answered.status_code == 200, answered.text
    assert (await decisions(team, sid))["q1"]["answer"] == "PostgreSQL"
    missing = await owner.post(f"/api/sessions/{sid}/approvals/zz", json={"behavior": "allow"})
    assert missing.status_code == 404


async def test_strangers_and_expired_requests_are_refused(
    team: Team, asking: tuple[str, SyncClient]
) -> None:
    sid, io = asking
    outsider = await team.api("outsider").get(f"/api/sessions/{sid}/approvals")
    assert outsider.status_code == 404
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    ask(io, "a2", kind="permission", tool="Bash", title="late", expires_at=past)
    await eventually(lambda: waiting(team, sid, 3))
    late = await team.api("owner").post(
        f"/api/sessions/{sid}/approvals/a2", json={"behavior": "allow"}
    )
    assert late.status_code == 409 and "expired" in late.json()["error"]["message"]
    assert "a2" not in await decisions(team, sid)


async def test_the_permission_mode_is_chosen_at_start_and_shown(team: Team) -> None:
    bypass = await team.start(permission_mode="bypass")
    assert bypass["permission_mode"] == "bypass"
    async with team.live.ctx.sync.rooms.document(f"workspace/{team.wid}") as doc:
        assert doc.get("sessions", type=Map)[bypass["id"]]["permission_mode"] == "bypass"
    bad = await team.api("owner").post(
        f"/api/workspaces/{team.wid}/sessions",
        json={"repo_id": team.repo_id, "tool": "shell", "permission_mode": "yolo"},
    )
    assert bad.status_code == 422
    fork = await team.api("owner").post(f"/api/sessions/{bypass['id']}/fork", json={})
    assert fork.json()["permission_mode"] == "bypass"
