"""The attention inbox over HTTP, on SQLite and PostgreSQL: what needs a person
arrives from the session documents, read/unread holds on all their devices,
and people who may no longer see a session no longer see its items."""

from __future__ import annotations

from typing import Any

from pycrdt import Array, Map, Text

from tests.api.conftest import Team
from tests.api.test_approvals import ask
from tests.api.test_notes_validation import comment
from tests.conftest import eventually
from trace_sync.client.sync_client import SyncClient
from trace_sync.contract.session_status import SessionStatus
from trace_sync.services.accounts import AccountService


async def inbox(team: Team, who: str, **query: Any) -> dict[str, Any]:
    response = await team.api(who).get("/api/inbox", params=query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def kinds(team: Team, who: str) -> list[str]:
    return [i["kind"] for i in (await inbox(team, who))["items"]]


async def asked(team: Team) -> str:
    """A session whose runtime asks permission to run a command."""
    sid = (await team.start(permission_mode="ask"))["id"]
    await team.host(sid)
    async with team.sync("runtime", f"session/{sid}/io") as io:
        await io.wait_synced()
        ask(io, "a1", kind="permission", tool="Bash", title="Run rm -rf build")
        await eventually(lambda: _has(team, "member", "approval"))
    return sid


def changes(signal: SyncClient) -> int:
    """What a person's signal document says of their inbox (see the app's feed)."""
    return int(signal.doc.get("inbox", type=Map).get("changes", 0))


async def _has(team: Team, who: str, kind: str) -> bool:
    return kind in await kinds(team, who)


async def test_a_pending_permission_reaches_who_may_answer_and_an_answer_clears_it(
    team: Team,
) -> None:
    sid = await asked(team)
    for who in ("owner", "admin", "member"):
        [item] = (await inbox(team, who))["items"]
        assert item["session_id"] == sid and item["request_id"] == "a1"
        assert "Run rm -rf build" in item["body"] and not item["read"]
    assert (await inbox(team, "viewer"))["items"] == []  # a viewer cannot answer
    decided = await team.api("admin").post(
        f"/api/sessions/{sid}/approvals/a1", json={"behavior": "allow"}
    )
    assert decided.status_code == 200, decided.text
    await eventually(lambda: _gone(team, "member"))
    [answered] = (await inbox(team, "member", all="true"))["items"]
    assert answered["resolved"]


async def _gone(team: Team, who: str) -> bool:
    return (await inbox(team, who))["items"] == []


async def test_read_on_one_device_is_read_on_the_other(team: Team) -> None:
    await asked(team)
    phone = await AccountService(team.live.ctx.store).issue_token(team.users["member"], "phone")
    team.tokens["phone"] = phone.token
    assert (await inbox(team, "phone"))["unread"] == 1
    marked = await team.api("member").post("/api/inbox/read", json={})
    assert marked.json() == {"marked": 1, "unread": 0}
    seen = await inbox(team, "phone")
    assert seen["unread"] == 0 and seen["items"][0]["read"]
    assert (await inbox(team, "phone", unread="true"))["items"] == []
    assert (await inbox(team, "owner"))["unread"] == 1  # read is per person


async def test_failures_reach_followers_and_hand_offs_the_new_owner(team: Team) -> None:
    sid = (await team.start("member"))["id"]
    followed = await team.api("admin").post(f"/api/sessions/{sid}/follow", json={})
    assert followed.status_code == 204, followed.text
    await team.report(sid, SessionStatus.RUNNING)
    await team.report(sid, SessionStatus.IDLE)
    await eventually(lambda: _has(team, "admin", "finished"))
    assert await kinds(team, "member") == ["finished"]  # who started it follows it
    assert await kinds(team, "owner") == []  # the owner of the workspace does not
    handed = await team.api("member").post(
        f"/api/sessions/{sid}/handoff", json={"owner_id": team.users["owner"]}
    )
    assert handed.status_code == 200, handed.text
    await eventually(lambda: _has(team, "owner", "handoff"))
    await team.live.ctx.sessions.report_status(sid, SessionStatus.FAILED, "tool crashed")
    await eventually(lambda: _has(team, "member", "failed"))
    failed = (await inbox(team, "owner"))["items"][0]
    assert failed["kind"] == "failed" and "tool crashed" in failed["body"]
    resumed = await team.api("owner").post(f"/api/sessions/{sid}/resume")
    assert resumed.status_code == 200, resumed.text
    await eventually(lambda: _lacks(team, "owner", "failed"))


async def _lacks(team: Team, who: str, kind: str) -> bool:
    return kind not in await kinds(team, who)


async def test_a_review_comment_mentioning_someone_reaches_them(team: Team) -> None:
    sid = (await team.start())["id"]
    async with team.sync("member", f"session/{sid}/notes") as notes:
        await notes.wait_synced()
        said = comment(team.users["member"], text="@viewer is this line right?")
        with notes.doc.transaction(origin="member"):
            notes.doc.get("comments", type=Array).append(said)
        await eventually(lambda: _has(team, "viewer", "mention"))
    [item] = (await inbox(team, "viewer"))["items"]
    assert "app.py:3" in item["body"] and "is this line right" in item["body"]
    assert await kinds(team, "admin") == []


async def test_someone_removed_from_the_workspace_no_longer_sees_its_items(team: Team) -> None:
    await asked(team)
    async with team.sync("member", f"person/{team.users['member']}") as signal:
        await signal.wait_synced()
        before = changes(signal)
        removed = await team.api("owner").delete(
            f"/api/workspaces/{team.wid}/members/{team.users['member']}"
        )
        assert removed.status_code in (200, 204), removed.text
        await eventually(lambda: changes(signal) > before)  # their apps read again at once
    left = await inbox(team, "member")
    assert left["items"] == [] and left["unread"] == 0


async def test_a_change_of_who_may_see_a_session_moves_the_signal_of_who_has_its_items(
    team: Team,
) -> None:
    sid = await asked(team)
    async with team.sync("member", f"person/{team.users['member']}") as signal:
        await signal.wait_synced()
        before = changes(signal)
        handed = await team.api("owner").post(
            f"/api/sessions/{sid}/handoff", json={"owner_id": team.users["admin"]}
        )
        assert handed.status_code == 200, handed.text
        await eventually(lambda: changes(signal) > before)  # their apps read again


async def test_deleting_a_session_takes_its_items_from_inboxes_and_moves_their_signal(
    team: Team,
) -> None:
    sid = await asked(team)
    stopped = await team.api("owner").post(f"/api/sessions/{sid}/stop")
    assert stopped.status_code == 200, stopped.text
    assert "approval" in await kinds(team, "member")  # still theirs to see
    async with team.sync("member", f"person/{team.users['member']}") as signal:
        await signal.wait_synced()
        before = changes(signal)
        deleted = await team.api("owner").delete(f"/api/sessions/{sid}")
        assert deleted.status_code == 204, deleted.text
        await eventually(lambda: changes(signal) > before)  # their apps read again
    assert "approval" not in await kinds(team, "member")


async def test_a_mention_typed_into_the_draft_reaches_them_once(team: Team) -> None:
    sid = (await team.start())["id"]
    async with team.sync("member", f"session/{sid}/notes") as notes:
        await notes.wait_synced()
        draft = notes.doc.get("draft", type=Text)
        for typed in "@viewer please check the migration":
            with notes.doc.transaction(origin="member"):
                draft += typed
        await eventually(lambda: _has(team, "viewer", "mention"))
        await notes.flush()
    await team.live.ctx.attention.idle()
    [item] = (await inbox(team, "viewer"))["items"]
    assert item["body"].startswith("mentions you in the prompt draft: @viewer")


async def test_a_persons_signal_moves_when_their_items_come_go_or_are_read(team: Team) -> None:
    """What the app follows in place of polling: ``person/<uid>``'s ``inbox.changes``."""
    async with (
        team.sync("member", f"person/{team.users['member']}") as member,
        team.sync("viewer", f"person/{team.users['viewer']}") as viewer,
    ):
        await member.wait_synced()
        await viewer.wait_synced()
        assert (await inbox(team, "member"))["signal"] == f"person/{team.users['member']}"
        sid = await asked(team)
        await eventually(lambda: changes(member) == 1)  # the approval came
        decided = await team.api("admin").post(
            f"/api/sessions/{sid}/approvals/a1", json={"behavior": "allow"}
        )
        assert decided.status_code == 200, decided.text
        await eventually(lambda: changes(member) == 2)  # it needs nothing more
        [answered] = (await inbox(team, "member", all="true"))["items"]
        marked = await team.api("member").post("/api/inbox/read", json={"ids": [answered["id"]]})
        assert marked.json()["marked"] == 1
        await eventually(lambda: changes(member) == 3)  # read, for their other devices
        assert changes(viewer) == 0  # nothing of theirs moved
