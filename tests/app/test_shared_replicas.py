"""The web app's tabs of different people in one process share one replica per
document, and each person reads it only while the server grants them access:
the attacks are a removed member, a revoked token whose replica fed the
others, and a private session opened by someone who may not read it."""

from __future__ import annotations

from tests.app.conftest import FAST, World
from tests.app.seed import streamed
from tests.conftest import eventually
from tests.sync.conftest import new_member
from trace_app.client import TraceClient
from trace_app.replicas import Replicas
from trace_app.shared import Shared
from trace_sync.client.reconnect import LinkState
from trace_sync.store.records import Role


def feeds(world: World, name: str) -> int:
    """Connections to ``name`` besides the runtime's."""
    room = world.live.ctx.sync.rooms.get(name)
    return len(room.connections) - 1 if room is not None else 0


async def stream(world: World, text: str) -> None:
    world.runtime.stream(text)
    await world.runtime.flush()


async def test_two_peoples_tabs_read_one_replica_until_one_is_removed(world: World) -> None:
    sid, io = world.hosted, f"session/{world.hosted}/io"
    member = await new_member(world.live, "mia", Role.MEMBER)
    async with (
        TraceClient(world.live.url, world.live.token, backoff=FAST) as owner_tab,
        TraceClient(world.live.url, member, backoff=FAST) as member_tab,
    ):
        for tab in (owner_tab, member_tab):
            await tab.start()
            await tab.open_session(sid)
        assert member_tab.replicas.get(io).doc is owner_tab.replicas.get(io).doc  # type: ignore[union-attr]
        await stream(world, " and they pass.")
        for tab in (owner_tab, member_tab):
            await eventually(lambda tab=tab: streamed(tab, sid).endswith("and they pass."))
        assert feeds(world, io) == 1

        await owner_tab.api.delete(
            f"/api/workspaces/{owner_tab.workspace_id}/members/{member_tab.user_id}"
        )
        mine = member_tab.replicas.get(io)
        assert mine is not None
        await eventually(lambda: mine.state is LinkState.REFUSED)
        assert mine.close_code == 4403
        assert member_tab.connection().state == "refused"
        assert mine.doc is not owner_tab.replicas.get(io).doc  # type: ignore[union-attr]

        await stream(world, " All green.")
        await eventually(lambda: streamed(owner_tab, sid).endswith("All green."))
        assert streamed(member_tab, sid).endswith("and they pass.")  # what it showed, no more


async def test_when_the_feeding_persons_token_is_revoked_the_others_keep_following(
    world: World,
) -> None:
    sid, io = world.hosted, f"session/{world.hosted}/io"
    member = await new_member(world.live, "mia", Role.MEMBER)
    async with TraceClient(world.live.url, member, backoff=FAST) as member_tab:
        await member_tab.start()
        await member_tab.open_session(sid)  # the first to open: the feed uses this token
        async with TraceClient(world.live.url, world.live.token, backoff=FAST) as owner_tab:
            await owner_tab.start()
            await owner_tab.open_session(sid)
            token_id = (await member_tab.api.me())["token_id"]
            await member_tab.api.post(f"/api/tokens/{token_id}/revoke")
            mine = member_tab.replicas.get(io)
            assert mine is not None
            await eventually(lambda: mine.state is LinkState.REFUSED)
            assert mine.close_code == 4401

            await stream(world, " and they pass.")
            await eventually(lambda: streamed(owner_tab, sid).endswith("and they pass."))
            assert "and they pass." not in streamed(member_tab, sid)
            await eventually(lambda: feeds(world, io) == 1)  # the owner's now


async def test_a_private_session_is_not_shown_through_its_owners_replica(world: World) -> None:
    member = await new_member(world.live, "mia", Role.MEMBER)
    shared = Shared()
    async with (
        TraceClient(world.live.url, world.live.token, backoff=FAST) as owner_tab,
        Replicas(world.live.url, member, backoff=FAST, shared=shared) as others,
        Replicas(world.live.url, world.live.token, backoff=FAST, shared=shared) as owners,
    ):
        await owner_tab.start()
        wid = owner_tab.workspace_id
        [repo, *_] = [r async for r in owner_tab.api.items(f"/api/workspaces/{wid}/repos")]
        body = {"repo_id": repo["id"], "tool": "shell", "private": True, "title": "Secret plan"}
        private = (await owner_tab.api.post(f"/api/workspaces/{wid}/sessions", body))["id"]
        name = f"session/{private}"
        theirs = await owners.open(name)
        await theirs.wait_synced()
        await eventually(lambda: "Secret plan" in str(theirs.doc.get_update()))
        mine = await others.open(name)
        assert mine.state is LinkState.REFUSED and mine.close_code == 4404
        assert mine.doc is not theirs.doc
        assert "Secret plan" not in str(mine.doc.get_update())
