"""Notifications out of the app, on SQLite and PostgreSQL: Apprise delivers to a
real HTTP receiver on loopback (its ``json://`` and ``ntfy://`` forms), the
destination's secret never comes back, events and quiet hours are honoured,
and ntfy's Approve button answers a real pending request once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from pycrdt import Map
from sqlalchemy import select

from tests.api.conftest import Team
from tests.api.test_approvals import ask
from tests.conftest import eventually
from tests.support.receiver import Receiver, receiving
from trace_sync.store.schema import notify_destinations


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


async def add(team: Team, who: str, url: str, **options: Any) -> dict[str, Any]:
    response = await team.api(who).post("/api/me/notify", json={"url": url} | options)
    assert response.status_code == 201, response.text
    added: dict[str, Any] = response.json()
    return added


async def asked(team: Team) -> str:
    """A session of the member's whose runtime asks to run a command; every
    notification it causes has been handled when this returns."""
    sid = (await team.start("member", permission_mode="ask", title="Tidy the build"))["id"]
    await team.host(sid)
    async with team.sync("runtime", f"session/{sid}/io") as io:
        await io.wait_synced()
        ask(io, "a1", kind="permission", tool="Bash", title="Run rm -rf build")
        await eventually(lambda: _in_inbox(team))
    await settled(team)
    return sid


def on_server(team: Team, link: str) -> str:
    """The link on the test server (its settings name the default port, not the one bound)."""
    return team.live.url + urlsplit(link).path


async def settled(team: Team) -> None:
    await team.live.ctx.attention.idle()
    await team.live.ctx.notifier.idle()


async def _in_inbox(team: Team) -> bool:
    return bool((await team.api("member").get("/api/inbox")).json()["items"])


async def test_a_json_destination_gets_the_request_and_its_token_is_never_shown(
    team: Team, receiver: Receiver
) -> None:
    url = f"json://hook:s3cr3t-token@127.0.0.1:{receiver.port}/trace"
    added = await add(team, "member", url)
    assert "s3cr3t-token" not in json.dumps(added)
    listed = (await team.api("member").get("/api/me/notify")).json()["items"]
    assert [d["id"] for d in listed] == [added["id"]] and "s3cr3t-token" not in json.dumps(listed)
    async with team.live.ctx.store.db.begin() as conn:
        stored = (await conn.execute(select(notify_destinations))).one()
    assert b"s3cr3t-token" not in stored.url_sealed
    assert (await team.api("admin").get("/api/me/notify")).json()["items"] == []
    sid = await asked(team)
    [sent] = receiver.received
    body = json.loads(sent.body)
    assert sent.path == "/trace" and "Tidy the build" in body["title"]
    assert "Run rm -rf build" in body["message"] and f"/session/{sid}" in body["message"]


async def test_ntfy_approve_answers_the_real_request_once(team: Team, receiver: Receiver) -> None:
    await add(team, "member", f"ntfy://127.0.0.1:{receiver.port}/trace-alerts")
    sid = await asked(team)
    [sent] = receiver.received
    actions = sent.headers["x-actions"]
    link = next(a for a in actions.split(";") if "Approve" in a).split(",")[2].strip()
    approve = on_server(team, link)
    assert sent.headers["x-click"].endswith(f"/session/{sid}")
    async with httpx.AsyncClient() as anyone:  # the link is the credential
        used = await anyone.post(approve)
        assert used.status_code == 200, used.text
        assert used.json()["behavior"] == "allow" and used.json()["by"] == team.users["member"]
        async with team.live.ctx.sync.rooms.document(f"session/{sid}") as doc:
            assert dict(doc.get("decisions", type=Map)["a1"])["behavior"] == "allow"
        again = await anyone.post(approve)
        assert again.status_code == 409 and "used already" in again.text
        forged = await anyone.post(approve[:-3] + "AAA")
        assert forged.status_code == 403


async def test_an_action_link_is_refused_once_expired_or_no_longer_allowed(
    team: Team, receiver: Receiver
) -> None:
    sid = await asked(team)
    links = team.live.ctx.action_links
    make = links.make
    links._ttl = timedelta(seconds=-1)
    expired = on_server(team, make(team.users["member"], sid, "a1", "deny"))
    links._ttl = timedelta(minutes=15)
    fresh = on_server(team, make(team.users["member"], sid, "a1", "deny"))
    removed = await team.api("owner").delete(
        f"/api/workspaces/{team.wid}/members/{team.users['member']}"
    )
    assert removed.status_code in (200, 204), removed.text
    async with httpx.AsyncClient() as anyone:
        assert (await anyone.post(expired)).status_code == 403
        assert (await anyone.post(fresh)).status_code == 404  # no longer sees the session
    pending = (await team.api("owner").get(f"/api/sessions/{sid}/approvals")).json()["items"]
    assert [p["id"] for p in pending] == ["a1"]


async def test_events_and_quiet_hours_are_honoured(team: Team, receiver: Receiver) -> None:
    now = datetime.now(UTC)
    quiet = f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}"
    base = f"json://127.0.0.1:{receiver.port}"
    await add(team, "member", f"{base}/failures", events=["failed"])
    await add(team, "member", f"{base}/asleep", quiet=quiet, timezone="UTC")
    await add(team, "member", f"{base}/approvals", events=["approval", "question"])
    await asked(team)
    assert [r.path for r in receiver.received] == ["/approvals"]


async def test_a_test_notification_says_why_it_did_not_arrive(
    team: Team, receiver: Receiver
) -> None:
    added = await add(team, "member", f"json://127.0.0.1:{receiver.port}/t")
    tested = await team.api("member").post(f"/api/me/notify/{added['id']}/test")
    assert tested.status_code == 204, tested.text
    assert "test notification" in json.loads(receiver.received[0].body)["title"]
    receiver.status = 500
    failed = await team.api("member").post(f"/api/me/notify/{added['id']}/test")
    assert failed.status_code == 409 and "did not take" in failed.text
    bad = await team.api("member").post("/api/me/notify", json={"url": "nope://x"})
    assert bad.status_code == 422
    gone = await team.api("member").delete(f"/api/me/notify/{added['id']}")
    assert gone.status_code == 204
    assert (await team.api("member").get("/api/me/notify")).json()["items"] == []


async def test_a_refused_delivery_is_tried_three_times_in_the_background(
    team: Team, receiver: Receiver
) -> None:
    receiver.status = 500
    await add(team, "member", f"json://127.0.0.1:{receiver.port}/flaky")
    started = asyncio.get_running_loop().time()
    sid = await asked(team)  # returns once the notifier has given up
    assert [r.path for r in receiver.received] == ["/flaky"] * 3
    assert asyncio.get_running_loop().time() - started >= 3.0  # waited 1 s, then 2 s
    pending = (await team.api("member").get(f"/api/sessions/{sid}/approvals")).json()["items"]
    assert [p["id"] for p in pending] == ["a1"]
