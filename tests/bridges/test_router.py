"""The router: the actor's own desktop, explicit choices guarded by grants, waiting
sessions placed when a bridge arrives, cloud sessions on a host with a scoped token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.bridges.conftest import Bed, open_bed, settings_for
from tests.conftest import StoreTarget, eventually
from tests.support.live import serve
from trace_sync.bridge.fake_host import FakeCloudHost
from trace_sync.bridge.registration import RuntimeCredentials
from trace_sync.client.sync_client import SyncClient
from trace_sync.contract.errors import NotFound
from trace_sync.services.lifecycle import Command


async def test_a_session_goes_to_the_actors_own_desktop_bridge(bed: Bed) -> None:
    mine = await bed.register(bed.member, "mia-laptop")
    theirs = await bed.register(bed.owner, "olga-laptop")
    async with bed.bridge(mine) as (my_link, mine_got), bed.bridge(theirs) as (their_link, _):
        await my_link.wait_welcomed()
        await their_link.wait_welcomed()
        session = await bed.start(bed.member)
        assert (await bed.row(session.id)).runtime_id == mine.runtime_id
        await eventually(lambda: [m.session_id for m in mine_got.of_type("assign")] == [session.id])
        assert "runtime.assigned" in await bed.timeline(session.id)


async def test_the_most_recently_seen_desktop_wins(bed: Bed) -> None:
    old = await bed.register(bed.owner, "old-laptop")
    new = await bed.register(bed.owner, "new-laptop")
    async with bed.bridge(old) as (old_link, _):
        await old_link.wait_welcomed()
        async with bed.bridge(new) as (new_link, _):
            await new_link.wait_welcomed()
            session = await bed.start(bed.owner)
            assert (await bed.row(session.id)).runtime_id == new.runtime_id


async def test_with_no_bridge_online_a_session_waits_then_goes_to_the_first_that_comes(
    bed: Bed,
) -> None:
    session = await bed.start(bed.member)
    assert (await bed.row(session.id)).runtime_id is None
    assert await bed.status(session.id) == "starting"
    assert (await bed.timeline(session.id))[-1] == "runtime.waiting"
    # The list says why, from the workspace index every member reads.
    assert (await bed.summary(session.id))["waiting_reason"] == "no desktop bridge is online"
    someone_elses = await bed.register(bed.owner)
    async with bed.bridge(someone_elses) as (link, _):
        assert (await link.wait_welcomed()).assignments == []
    creds = await bed.register(bed.member)
    async with bed.bridge(creds) as (link, _):
        welcome = await link.wait_welcomed()
        assert [a.session_id for a in welcome.assignments] == [session.id]
        assert (await bed.row(session.id)).runtime_id == creds.runtime_id
        assert (await bed.summary(session.id)).get("waiting_reason") is None


async def test_someone_elses_runtime_needs_their_session_grant(bed: Bed) -> None:
    olgas = await bed.register(bed.owner)
    async with bed.bridge(olgas) as (link, recorder):
        await link.wait_welcomed()
        session = await bed.start(bed.member)  # waits: Mia has no bridge of her own
        place = f"/api/sessions/{session.id}/runtime"
        body = {"runtime_id": olgas.runtime_id}
        refused = await bed.http.post(place, json=body, headers=bed.headers(bed.member))
        assert refused.status_code == 403
        assert "session capability" in refused.json()["error"]["message"]
        grant = await bed.http.post(
            f"/api/runtimes/{olgas.runtime_id}/grants",
            json={"capabilities": ["session"]},
            headers=bed.headers(bed.member),
        )
        assert grant.status_code == 201
        approve = f"/api/grants/{grant.json()['id']}/approve"
        assert (await bed.http.post(approve, headers=bed.headers(bed.owner))).status_code == 200
        placed = await bed.http.post(place, json=body, headers=bed.headers(bed.member))
        assert placed.status_code == 200 and placed.json()["runtime_id"] == olgas.runtime_id
        await eventually(lambda: [m.session_id for m in recorder.of_type("assign")] == [session.id])


@pytest.fixture
async def cloud_bed(tmp_path: Path, store_target: StoreTarget) -> AsyncIterator[Bed]:
    async with serve(settings_for(tmp_path, store_target, cloud_host="fake")) as live:
        live.ctx.bridges.hosts.add("fake", FakeCloudHost())
        async with open_bed(live, tmp_path) as opened:
            yield opened


async def test_a_cloud_session_gets_a_bridge_of_its_own_with_a_token_for_it_alone(
    cloud_bed: Bed,
) -> None:
    bed = cloud_bed
    host = bed.live.ctx.bridges.hosts.get("fake")
    assert isinstance(host, FakeCloudHost)
    other = await bed.start(bed.member)
    session = await bed.start(bed.member, location="cloud")
    [launch] = host.launches
    assert launch.session_id == session.id and launch.token not in repr(launch)
    runtime = await bed.live.ctx.store.runtimes.get(launch.runtime_id)
    assert runtime.kind == "sandbox" and runtime.owner_id == bed.member.id
    assert launch.server_url == bed.live.ctx.settings.base_url
    # (the test server listens on a port of its own, not the one base_url names)
    creds = RuntimeCredentials(bed.live.url, runtime.id, launch.token, runtime.instance_id)
    async with bed.bridge(creds) as (link, _):
        welcome = await link.wait_welcomed()
        assert [a.session_id for a in welcome.assignments] == [session.id]
    async with SyncClient(bed.live.url, f"session/{session.id}", launch.token) as mine:
        await mine.wait_synced()
    async with SyncClient(bed.live.url, f"session/{other.id}", launch.token) as not_mine:
        with pytest.raises(NotFound):
            await not_mine.wait_synced()


async def test_a_cloud_launch_names_the_repo_and_branch_and_stop_ends_the_bridge(
    cloud_bed: Bed,
) -> None:
    bed = cloud_bed
    host = bed.live.ctx.bridges.hosts.get("fake")
    assert isinstance(host, FakeCloudHost)
    local = await bed.start(bed.member)
    session = await bed.start(bed.member, location="cloud")
    [launch] = host.launches
    assert launch.repo is not None and launch.repo.path == bed.repo.path
    assert launch.branch == session.branch and launch.instance_id == f"sandbox-{session.id}"
    sessions = bed.live.ctx.sessions
    await sessions.command(bed.member.principal, local.id, Command.STOP)
    assert host.stopped == []  # a local session's bridge is a person's own
    await sessions.command(bed.member.principal, session.id, Command.STOP)
    assert host.stopped == [session.id] and host.launches == []
    await sessions.command(bed.member.principal, session.id, Command.RESUME)
    assert [x.session_id for x in host.launches] == [session.id]  # a bridge again
    await sessions.command(bed.member.principal, session.id, Command.STOP)
    await sessions.delete(bed.member.principal, session.id)
    assert host.stopped == [session.id] * 3


async def test_a_box_stopped_while_no_process_held_the_host_stops_when_one_does(
    cloud_bed: Bed,
) -> None:
    bed = cloud_bed
    host = bed.live.ctx.bridges.hosts.get("fake")
    assert isinstance(host, FakeCloudHost)
    bridges, holder = bed.live.ctx.bridges, bed.live.ctx.bridges.host_holder
    assert holder is not None and holder.holding
    kept = await bed.start(bed.member, location="cloud")
    let_go = await bed.start(bed.member, location="cloud")
    leadership = SimpleNamespace(leading=False)  # as a cluster's leader that lost its lock
    bridges._leader = leadership  # type: ignore[assignment]
    await eventually(lambda: not holder.holding)
    sessions = bed.live.ctx.sessions
    await sessions.command(bed.member.principal, let_go.id, Command.STOP)  # not refused
    assert host.stopped == []  # no process holds the host: the box runs on
    leadership.leading = True
    await eventually(lambda: host.stopped == [let_go.id])
    assert [launch.session_id for launch in host.launches] == [kept.id]
