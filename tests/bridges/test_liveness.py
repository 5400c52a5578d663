"""Liveness: heartbeats keep a runtime, a lapsed lease loses it, a restarted bridge
reconciles; sessions are never shown running when nothing runs."""

from __future__ import annotations

from tests.bridges.conftest import TIMINGS, Bed, abort, raw_bridge
from tests.conftest import eventually
from trace_sync.contract.session_status import SessionStatus
from trace_sync.services.lifecycle import Command


async def test_heartbeats_keep_a_runtime_and_its_sessions_alive(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, _):
        await link.wait_welcomed()
        session = await bed.start(bed.owner)
        await bed.running(session.id)
        enough = 3 * TIMINGS.lease_s / TIMINGS.heartbeat_s  # three leases' worth
        await eventually(lambda: link.heartbeats_sent > enough, within=60)
        assert await bed.status(session.id) == "running"
        assert "runtime.lost" not in await bed.timeline(session.id)
        assert await bed.live.ctx.bridges.runtimes.online(creds.runtime_id)


async def test_a_silent_bridge_loses_its_lease_and_its_busy_runs_are_interrupted(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with raw_bridge(bed, creds) as ws:
        session = await bed.start(bed.owner)
        await bed.running(session.id)
        await ws.wait_closed()  # the server gives up on it after the lease
        assert ws.close_code == 4408
    assert await bed.status(session.id) == "interrupted"
    assert (await bed.timeline(session.id))[-1] == "runtime.lost"
    assert (await bed.meta(session.id))["interrupted"] is True
    # A stale report from the io document cannot make it look running again.
    await bed.running(session.id)
    assert await bed.status(session.id) == "interrupted"
    assert not (await bed.workspace("runtimes"))[creds.runtime_id]["online"]


async def test_a_bridge_that_dies_and_never_returns_is_lost_after_its_lease(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with raw_bridge(bed, creds) as ws:
        session = await bed.start(bed.owner)
        await bed.running(session.id)
        abort(ws)
    await eventually(lambda: _lost(bed, session.id), within=4 * TIMINGS.lease_s)
    assert await bed.status(session.id) == "interrupted"


async def test_a_restarted_bridge_that_hosts_nothing_gets_its_runs_interrupted(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with raw_bridge(bed, creds) as ws:
        lost = await bed.start(bed.owner)
        kept = await bed.start(bed.owner)
        for session in (lost, kept):
            await bed.running(session.id)
        abort(ws)  # killed: its tools died with it, except one it got back
    async with bed.bridge(creds, hosting=[kept.id]) as (link, recorder):
        welcome = await link.wait_welcomed()
        assert await bed.status(lost.id) == "interrupted"
        assert await bed.status(kept.id) == "running"
        assert (await bed.timeline(lost.id))[-1] == "session.interrupted"
        assert (await bed.meta(lost.id))["interrupted"] is True
        assert {a.session_id for a in welcome.assignments} == {lost.id, kept.id}
        # Offered for resume: it starts again on the same bridge.
        resumed = await bed.live.ctx.sessions.command(bed.owner.principal, lost.id, Command.RESUME)
        assert resumed.status == SessionStatus.STARTING
        assert (await bed.meta(lost.id))["interrupted"] is False
        await eventually(lambda: lost.id in [m.session_id for m in recorder.of_type("assign")])


async def test_a_bridge_shutting_down_loses_its_sessions_at_once(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, _):
        await link.wait_welcomed()
        session = await bed.start(bed.owner)
        await bed.running(session.id)
    await eventually(lambda: _lost(bed, session.id))
    assert await bed.status(session.id) == "interrupted"


async def test_a_starting_session_is_sent_again_not_failed_when_its_bridge_returns(
    bed: Bed,
) -> None:
    creds = await bed.register(bed.owner)
    async with raw_bridge(bed, creds) as ws:
        session = await bed.start(bed.owner)  # assigned, never reported running
        abort(ws)
    async with bed.bridge(creds) as (link, _):
        welcome = await link.wait_welcomed()
        assert [a.session_id for a in welcome.assignments] == [session.id]
        assert await bed.status(session.id) == "starting"


async def _lost(bed: Bed, session_id: str) -> bool:
    # The timeline event comes last: the row is failed a moment before it.
    return "runtime.lost" in await bed.timeline(session_id)
