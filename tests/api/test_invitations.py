"""Joining a workspace takes an invitation the person accepts; a workspace
role gives no power over anyone's tokens; no answer tells which user names
exist (issue 12, item 6)."""

from __future__ import annotations

import httpx
from pycrdt import Map

from tests.api.conftest import Team
from trace_sync.docs import typed
from trace_sync.docs.layouts import WORKSPACE


async def invite(t: Team, who: str, role: str, wid: str | None = None) -> httpx.Response:
    path = f"/api/workspaces/{wid or t.wid}/invitations"
    return await t.api(who).post(path, json={"role": role})


async def accept(t: Team, who: str, code: str) -> httpx.Response:
    return await t.api(who).post(f"/api/invitations/{code}/accept")


async def token_id(t: Team, who: str) -> str:
    return str((await t.api(who).get("/api/me")).json()["token_id"])


async def test_an_invitation_is_accepted_once_and_joins_with_its_role(team: Team) -> None:
    invitation = await invite(team, "admin", "member")
    assert invitation.status_code == 201, invitation.text
    code = invitation.json()["code"]
    assert (await team.api("outsider").get(f"/api/workspaces/{team.wid}")).status_code == 404
    joined = await accept(team, "outsider", code)
    assert joined.status_code == 200, joined.text
    assert joined.json() == {"id": team.wid, "name": "Default", "role": "member"}
    members = (await team.api("owner").get(f"/api/workspaces/{team.wid}/members")).json()
    assert ("otto", "member") in {(m["user"]["name"], m["role"]) for m in members["items"]}
    async with team.sync("outsider", f"workspace/{team.wid}") as replica:
        await replica.wait_synced()
        entries: Map[dict[str, str]] = typed.root_of(replica.doc, WORKSPACE, "members")
        assert entries[team.users["outsider"]]["role"] == "member"
    # good once: a second person gets what an unknown code gets
    used, unknown = await accept(team, "member", code), await accept(team, "member", "nope")
    assert used.status_code == unknown.status_code == 404
    assert used.json() == unknown.json()


async def test_a_member_cannot_accept_over_their_role_and_the_code_stays_good(team: Team) -> None:
    code = (await invite(team, "owner", "admin")).json()["code"]
    again = await accept(team, "viewer", code)
    assert again.status_code == 409
    assert (await accept(team, "outsider", code)).json()["role"] == "admin"


async def test_who_may_invite_with_which_role(team: Team) -> None:
    assert (await invite(team, "admin", "owner")).status_code == 403  # owners make owners
    assert (await invite(team, "owner", "owner")).status_code == 201
    assert (await invite(team, "member", "viewer")).status_code == 403
    assert (await invite(team, "viewer", "viewer")).status_code == 403
    assert (await invite(team, "outsider", "viewer")).status_code == 404


async def test_an_owner_cannot_revoke_a_members_token(team: Team) -> None:
    """The attack: own a workspace, add someone, lock them out."""
    victim = await token_id(team, "member")
    for who in ("outsider", "admin"):  # otto owns "Elsewhere"; the admin administers this one
        refused = await team.api(who).post(f"/api/tokens/{victim}/revoke")
        assert refused.status_code == 404, who
    # even once the member has joined otto's workspace, otto cannot lock them out
    [elsewhere] = (await team.api("outsider").get("/api/workspaces")).json()["items"]
    code = (await invite(team, "outsider", "viewer", elsewhere["id"])).json()["code"]
    assert (await accept(team, "member", code)).status_code == 200
    assert (await team.api("outsider").post(f"/api/tokens/{victim}/revoke")).status_code == 404
    assert (await team.api("member").get("/api/me")).status_code == 200
    # the instance admin (the first owner) can, and the member can revoke their own
    assert (await team.api("owner").post(f"/api/tokens/{victim}/revoke")).status_code == 200
    assert (await team.api("member").get("/api/me")).status_code == 401


async def test_adding_by_name_tells_nothing_about_which_names_exist(team: Team) -> None:
    """Only instance admins create accounts; to anyone else a taken name, a
    member's name and a free name get the same answer."""
    members = f"/api/workspaces/{team.wid}/members"
    for who in ("admin", "member"):
        answers = [
            await team.api(who).post(members, json={"name": name, "role": "viewer"})
            for name in ("otto", "member", "nobody-at-all")
        ]
        assert {r.status_code for r in answers} == {403}, who
        assert len({r.text for r in answers}) == 1, who
    # and no one was added without saying yes
    listed = (await team.api("owner").get(members)).json()["items"]
    assert "otto" not in {m["user"]["name"] for m in listed}


async def test_an_invitation_lapses_when_its_maker_loses_the_admin_role(team: Team) -> None:
    code = (await invite(team, "admin", "member")).json()["code"]
    demoted = await team.api("owner").patch(
        f"/api/workspaces/{team.wid}/members/{team.users['admin']}", json={"role": "viewer"}
    )
    assert demoted.status_code == 200
    assert (await accept(team, "outsider", code)).status_code == 404
