"""Sockets opened before a change of who may do what: demoted, removed,
revoked or moved away, their next update is refused within a second and
never stored; and the next join, though joins are decided from memory
(``auth.facts``), is refused or downgraded at once (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

from pycrdt import Doc, Text

from tests.api.conftest import RUNTIME_ID, Team
from tests.conftest import eventually
from tests.support.py_client import PyClient


def url(team: Team, name: str) -> str:
    return f"{team.live.ws_url}/sync/{name}"


async def stored_text(team: Team, name: str) -> str:
    await team.live.ctx.store.updates.flush()
    doc: Doc = Doc()
    for update in await team.live.ctx.store.updates.load(name):
        doc.apply_update(update)
    return str(doc.get("t", type=Text))


async def writing(team: Team, who: str, name: str) -> PyClient:
    """A connected client of ``who`` whose first edit ("before ") is stored."""
    client = PyClient(url(team, name), team.tokens[who])
    await client.__aenter__()
    await client.synced.wait()
    client.edit(0, "before ")

    async def stored() -> bool:
        return await stored_text(team, name) == "before "

    await eventually(stored)
    return client


async def next_join_closed(team: Team, who: str, name: str) -> int | None:
    """The close code a fresh join of ``who`` gets right after the change."""
    async with PyClient(url(team, name), team.tokens[who]) as again:
        return await again.wait_closed(timeout=5.0)


async def refused_within_a_second(client: PyClient, code: int) -> None:
    client.edit(0, "after ")  # sent once the change has returned
    started = asyncio.get_running_loop().time()
    assert await client.wait_closed(timeout=1.0) == code
    assert asyncio.get_running_loop().time() - started < 1.0


async def test_a_member_demoted_to_viewer_keeps_reading_but_can_no_longer_write(
    team: Team,
) -> None:
    name = f"session/{(await team.start())['id']}/notes"
    member = await writing(team, "member", name)
    try:
        demote = await team.api("owner").patch(
            f"/api/workspaces/{team.wid}/members/{team.users['member']}", json={"role": "viewer"}
        )
        assert demote.status_code == 200, demote.text
        async with PyClient(url(team, name), team.tokens["owner"]) as owner:
            await owner.synced.wait()
            owner.edit(len(str(owner.text)), "(owner)")
            await member.wait_for(lambda: str(member.text) == "before (owner)")
        await refused_within_a_second(member, 4403)
        async with PyClient(url(team, name), team.tokens["member"]) as again:
            await again.synced.wait()  # still a reader
            again.edit(0, "vandal ")
            assert await again.wait_closed() == 4403
    finally:
        await member.close()
    assert await stored_text(team, name) == "before (owner)"


async def test_a_removed_member_is_closed_and_their_update_not_stored(team: Team) -> None:
    name = f"session/{(await team.start())['id']}/notes"
    member = await writing(team, "member", name)
    try:
        removed = await team.api("owner").delete(
            f"/api/workspaces/{team.wid}/members/{team.users['member']}"
        )
        assert removed.status_code == 204, removed.text
        await refused_within_a_second(member, 4403)
        assert await next_join_closed(team, "member", name) == 4404
    finally:
        await member.close()
    assert await stored_text(team, name) == "before "


async def test_a_revoked_token_is_closed_with_4401(team: Team) -> None:
    name = f"session/{(await team.start())['id']}/notes"
    member = await writing(team, "member", name)
    try:
        token_id = (await team.api("member").get("/api/me")).json()["token_id"]
        revoked = await team.api("member").post(f"/api/tokens/{token_id}/revoke")
        assert revoked.status_code == 200, revoked.text
        await refused_within_a_second(member, 4401)
        assert await next_join_closed(team, "member", name) == 4401
    finally:
        await member.close()
    assert await stored_text(team, name) == "before "


async def test_a_runtime_the_session_moved_away_from_no_longer_writes_its_io(
    team: Team,
) -> None:
    sid = (await team.start())["id"]
    await team.host(sid)
    name = f"session/{sid}/io"
    runtime = await writing(team, "runtime", name)
    try:
        session = await team.live.ctx.store.sessions.get(sid)
        await team.live.ctx.bridges.router.assign(session, "rt_elsewhere", send=False)
        assert (await team.live.ctx.store.sessions.get(sid)).runtime_id != RUNTIME_ID
        await refused_within_a_second(runtime, 4403)
        assert await next_join_closed(team, "runtime", name) == 4404
    finally:
        await runtime.close()
    assert await stored_text(team, name) == "before "
