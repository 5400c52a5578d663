"""The server's own disk is an instance admin's: a viewer who creates a
workspace cannot connect a directory of the host, and the refusal says
nothing about which directories exist (issue 12, item 1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Team
from tests.conftest import StoreTarget
from tests.support.git import make_repo
from tests.support.live import LiveServer, serve
from trace_sync.settings import Settings


@pytest.fixture
async def live(
    store_target: StoreTarget, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[LiveServer]:
    """The team's server; ``indirect`` parameters pick TRACE_WORKSPACE_CREATION."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=store_target.url,
        database_schema=store_target.schema,
        room_grace_s=0.2,
        workspace_creation=getattr(request, "param", "admins"),
    )
    async with serve(settings) as server:
        yield server


def host_paths(tmp_path: Path) -> list[str]:
    """A checkout holding a secret, its file:// URL, a plain folder, a missing
    one and the home of root: the answers to these would map the host."""
    checkout = make_repo(tmp_path / "host", branch="main", files={"secrets.env": "KEY=hunter2\n"})
    (tmp_path / "plain").mkdir()
    missing = tmp_path / "missing"
    return [str(checkout), f"file://{checkout}", str(tmp_path / "plain"), str(missing), "/root"]


async def connect(client: httpx.AsyncClient, wid: str, source: str) -> httpx.Response:
    return await client.post(f"/api/workspaces/{wid}/repos", json={"source": source})


async def test_only_instance_admins_create_workspaces_by_default(team: Team) -> None:
    for who in ("admin", "member", "viewer"):
        refused = await team.api(who).post("/api/workspaces", json={"name": "Mine"})
        assert refused.status_code == 403, who
        assert "instance admins" in refused.json()["error"]["message"]
    created = await team.api("owner").post("/api/workspaces", json={"name": "Ops"})
    assert created.status_code == 201 and created.json()["role"] == "owner"


@pytest.mark.parametrize("live", ["everyone"], indirect=True)
async def test_a_viewers_own_workspace_gives_no_way_onto_the_servers_disk(
    team: Team, tmp_path: Path
) -> None:
    viewer = team.api("viewer")
    created = await viewer.post("/api/workspaces", json={"name": "Foothold"})
    assert created.status_code == 201  # allowed: TRACE_WORKSPACE_CREATION=everyone
    wid = created.json()["id"]
    answers = {source: await connect(viewer, wid, source) for source in host_paths(tmp_path)}
    assert {r.status_code for r in answers.values()} == {403}
    # one answer, whatever the path: nothing tells a checkout from a missing folder
    assert len({r.text for r in answers.values()}) == 1
    assert "/root" not in next(iter(answers.values())).text
    assert (await viewer.get(f"/api/workspaces/{wid}/repos")).json()["items"] == []
    # nor can the viewer start a session on a repo of a workspace it only watches
    stolen = await viewer.post(
        f"/api/workspaces/{wid}/sessions", json={"repo_id": team.repo_id, "tool": "shell"}
    )
    assert stolen.status_code == 404


async def test_a_workspace_admin_gets_one_refusal_for_existing_and_missing_paths(
    team: Team, tmp_path: Path
) -> None:
    answers = [await connect(team.api("admin"), team.wid, p) for p in host_paths(tmp_path)]
    assert {r.status_code for r in answers} == {403}
    assert len({r.text for r in answers}) == 1


async def test_instance_admins_still_connect_local_paths(team: Team, tmp_path: Path) -> None:
    owner = team.api("owner")
    checkout, _, plain, missing, _ = host_paths(tmp_path)
    made = await owner.post(
        f"/api/workspaces/{team.wid}/members",
        json={"name": "ina", "role": "admin", "instance_admin": True},
    )
    assert made.status_code == 201, made.text
    ina = httpx.AsyncClient(
        base_url=team.live.url, headers={"Authorization": f"Bearer {made.json()['token']}"}
    )
    async with ina:
        assert (await ina.get("/api/me")).json()["instance_admin"] is True
        connected = await connect(ina, team.wid, checkout)
        assert connected.status_code == 201, connected.text
        assert connected.json()["name"] == "host"
        # an instance admin may know the host: its errors say what is wrong
        assert (await connect(ina, team.wid, missing)).status_code == 404
        assert "not a git repository" in (await connect(ina, team.wid, plain)).text
    assert (await team.api("admin").get("/api/me")).json()["instance_admin"] is False
