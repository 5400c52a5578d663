"""Bridge access grants over HTTP: request, approve, deny, revoke, expiry, with
timeline events, and ending a grant closing its holder's terminals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.bridges.conftest import Bed, Person
from tests.conftest import eventually
from trace_sync.contract.bridge_protocol import HostedTerminal
from trace_sync.store.records import Role
from trace_sync.store.schema import grants


async def ask(bed: Bed, who: Person, runtime_id: str, **body: Any) -> Any:
    body.setdefault("capabilities", ["terminal"])
    return await bed.http.post(
        f"/api/runtimes/{runtime_id}/grants", json=body, headers=bed.headers(who)
    )


async def decide(bed: Bed, who: Person, grant_id: str, decision: str) -> Any:
    return await bed.http.post(f"/api/grants/{grant_id}/{decision}", headers=bed.headers(who))


async def pass_the_hour(bed: Bed, grant_id: str) -> None:
    """Time passes: the grant's expiry is now in the past (no waiting an hour)."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    query = grants.update().where(grants.c.id == grant_id).values(expires_at=past)
    async with bed.live.ctx.store.db.begin() as conn:
        await conn.execute(query)


async def grant_events(bed: Bed) -> list[str]:
    return [e["kind"] for e in await bed.workspace("timeline") if e["kind"].startswith("grant.")]


async def test_only_the_owner_decides_and_every_step_is_on_the_timeline(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    asked = await ask(bed, bed.member, creds.runtime_id, capabilities=["session", "terminal"])
    assert asked.status_code == 201 and asked.json()["state"] == "pending"
    grant_id = asked.json()["id"]
    assert (await decide(bed, bed.member, grant_id, "approve")).status_code == 403
    approved = await decide(bed, bed.owner, grant_id, "approve")
    assert approved.json()["state"] == "approved"
    assert approved.json()["decided_by"] == bed.owner.id
    assert (await decide(bed, bed.owner, grant_id, "deny")).status_code == 409
    second = (await ask(bed, bed.member, creds.runtime_id)).json()["id"]
    assert (await decide(bed, bed.owner, second, "deny")).json()["state"] == "denied"
    assert (await decide(bed, bed.owner, grant_id, "revoke")).json()["state"] == "revoked"
    assert await grant_events(bed) == [
        "grant.requested",
        "grant.approved",
        "grant.requested",
        "grant.denied",
        "grant.revoked",
    ]
    listed = await bed.http.get(
        f"/api/runtimes/{creds.runtime_id}/grants", headers=bed.headers(bed.owner)
    )
    assert [g["state"] for g in listed.json()["items"]] == ["revoked", "denied"]


async def test_strangers_cannot_see_a_runtime_to_ask_for_it(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    stranger = await bed.person("otto", Role.MEMBER)
    store = bed.live.ctx.store
    await store.directory.remove_member(bed.workspace_id, stranger.id)
    assert (await ask(bed, stranger, creds.runtime_id)).status_code == 404
    assert (await ask(bed, bed.owner, creds.runtime_id)).status_code == 422  # own runtime
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert (await ask(bed, bed.member, creds.runtime_id, expires_at=past)).status_code == 422
    naive = datetime.now().isoformat()
    assert (await ask(bed, bed.member, creds.runtime_id, expires_at=naive)).status_code == 422


async def _revoke(bed: Bed, grant_id: str) -> Any:
    return await decide(bed, bed.owner, grant_id, "revoke")


async def _lower_to_viewer(bed: Bed, grant_id: str) -> Any:
    member = f"/api/workspaces/{bed.workspace_id}/members/{bed.member.id}"
    return await bed.http.patch(member, json={"role": "viewer"}, headers=bed.headers(bed.owner))


async def _remove(bed: Bed, grant_id: str) -> Any:
    member = f"/api/workspaces/{bed.workspace_id}/members/{bed.member.id}"
    return await bed.http.delete(member, headers=bed.headers(bed.owner))


@pytest.mark.parametrize("ending", [_revoke, _lower_to_viewer, _remove], ids=lambda f: f.__name__)
async def test_the_end_of_a_members_authority_closes_their_terminals_and_only_theirs(
    bed: Bed, ending: Callable[[Bed, str], Awaitable[Any]]
) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, recorder):
        await link.wait_welcomed()
        session = await bed.start(bed.owner)
        grant = (await ask(bed, bed.member, creds.runtime_id, session_id=session.id)).json()
        await decide(bed, bed.owner, grant["id"], "approve")
        terminals = f"/api/sessions/{session.id}/terminals"
        theirs = await bed.http.post(terminals, json={}, headers=bed.headers(bed.member))
        mine = await bed.http.post(terminals, json={}, headers=bed.headers(bed.owner))
        assert theirs.status_code == mine.status_code == 201
        await eventually(lambda: len(recorder.of_type("terminal_open")) == 2)
        ended = await ending(bed, grant["id"])
        assert ended.status_code in (200, 204), ended.text
        await eventually(lambda: len(recorder.of_type("terminal_close")) == 1)
        [closed] = recorder.of_type("terminal_close")
        assert closed.terminal_id == theirs.json()["terminal_id"]
        typed = await bed.http.post(
            f"{terminals}/{closed.terminal_id}/input",
            json={"data": "ls\r"},
            headers=bed.headers(bed.member),
        )
        assert typed.status_code in (403, 404)  # forbidden, or no longer theirs to see


async def test_an_expired_grant_ends_by_itself_and_closes_terminals(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, recorder):
        await link.wait_welcomed()
        session = await bed.start(bed.owner)
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        grant = (await ask(bed, bed.member, creds.runtime_id, expires_at=later)).json()
        await decide(bed, bed.owner, grant["id"], "approve")
        opened = await bed.http.post(
            f"/api/sessions/{session.id}/terminals", json={}, headers=bed.headers(bed.member)
        )
        assert opened.status_code == 201
        await pass_the_hour(bed, grant["id"])
        await eventually(lambda: len(recorder.of_type("terminal_close")) == 1, within=30)
        assert recorder.of_type("terminal_close")[0].terminal_id == opened.json()["terminal_id"]
        assert (await bed.live.ctx.store.grants.get(grant["id"])).state.value == "expired"
        assert (await grant_events(bed))[-1] == "grant.expired"


async def test_terminals_a_bridge_reports_in_its_hello_are_closed_on_revoke(bed: Bed) -> None:
    """After a server restart the server learns who opened what from the bridge."""
    creds = await bed.register(bed.owner)
    session = await bed.start(bed.owner)
    grant = (await ask(bed, bed.member, creds.runtime_id)).json()
    await decide(bed, bed.owner, grant["id"], "approve")
    await bed.live.ctx.store.sessions.assign_runtime(session.id, creds.runtime_id)
    open_before = [
        HostedTerminal(session_id=session.id, terminal_id="tm_member", opened_by=bed.member.id),
        HostedTerminal(session_id=session.id, terminal_id="tm_tool"),
    ]
    async with bed.bridge(creds, hosting=[session.id], terminals=open_before) as (link, got):
        await link.wait_welcomed()
        await decide(bed, bed.owner, grant["id"], "revoke")
        await eventually(
            lambda: [m.terminal_id for m in got.of_type("terminal_close")] == ["tm_member"]
        )


async def test_terminals_a_bridge_reports_as_events_are_closed_on_revoke(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, got):
        await link.wait_welcomed()
        session = await bed.start(bed.owner)
        grant = (await ask(bed, bed.member, creds.runtime_id)).json()
        await decide(bed, bed.owner, grant["id"], "approve")
        for terminal_id in ("tm_a", "tm_b"):
            await link.send_event(
                session.id, "terminal.opened", terminal_id=terminal_id, opened_by=bed.member.id
            )
        await link.send_event(session.id, "terminal.exited", terminal_id="tm_b")
        terminals = bed.live.ctx.bridges.terminals
        await eventually(lambda: len(terminals.opened(creds.runtime_id)) == 1)
        await decide(bed, bed.owner, grant["id"], "revoke")
        await eventually(lambda: [m.terminal_id for m in got.of_type("terminal_close")] == ["tm_a"])
