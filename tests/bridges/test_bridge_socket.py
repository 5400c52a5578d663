"""The /bridge control socket with real BridgeLinks: registration, welcome, refusals."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import websockets

from tests.bridges.conftest import Bed, Recorder
from tests.conftest import eventually
from trace_sync.auth.tokens import parse_token
from trace_sync.bridge.registration import ensure_registered, load_credentials, register
from trace_sync.client.reconnect import LinkState
from trace_sync.contract.bridge_protocol import ServerMessage
from trace_sync.contract.errors import Conflict, Forbidden, Unauthorized


async def test_a_registered_bridge_is_welcomed_with_its_sessions(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, recorder):
        welcome = await link.wait_welcomed()
        assert welcome.runtime_id == creds.runtime_id and welcome.assignments == []
        session = await bed.start(bed.owner, prompt="hello")
        await eventually(lambda: [m.session_id for m in recorder.of_type("assign")] == [session.id])
        [assign] = recorder.of_type("assign")
        assert assign.repo.path == bed.repo.path and assign.branch == session.branch
        assert (await bed.row(session.id)).runtime_id == creds.runtime_id
    async with bed.bridge(creds, hosting=[session.id]) as (link, recorder):
        welcome = await link.wait_welcomed()
        assert [a.session_id for a in welcome.assignments] == [session.id]
        assert recorder.welcomes == [welcome]


async def test_the_workspace_shows_the_runtime_online_then_offline(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, _):
        await link.wait_welcomed()
        runtimes = await bed.workspace("runtimes")
        entry = runtimes[creds.runtime_id]
        assert entry["online"] is True and entry["kind"] == "desktop"
        assert entry["owner_id"] == bed.owner.id and entry["name"] == "bridge laptop"
    await eventually(lambda: _offline(bed, creds.runtime_id))


async def _offline(bed: Bed, runtime_id: str) -> bool:
    return (await bed.workspace("runtimes"))[runtime_id]["online"] is False


async def test_registering_again_keeps_the_runtime_and_revokes_the_old_token(bed: Bed) -> None:
    first = await bed.register(bed.owner)
    again = await bed.register(bed.owner)
    assert again.runtime_id == first.runtime_id and again.token != first.token
    async with bed.bridge(first) as (link, _):
        with pytest.raises(Unauthorized):
            await link.wait_welcomed()
        assert link.close_code == 4401 and link.state is LinkState.REFUSED


async def test_a_connected_bridge_whose_token_is_revoked_is_closed_with_4401(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    parsed = parse_token(creds.token)
    assert parsed is not None
    async with bed.bridge(creds) as (link, _):
        await link.wait_welcomed()
        revoked = await bed.http.post(
            f"/api/tokens/{parsed.token_id}/revoke",
            headers={"Authorization": f"Bearer {bed.owner.token}"},
        )
        assert revoked.status_code == 200, revoked.text
        await eventually(lambda: link.close_code == 4401, within=1.0)


async def test_a_user_token_is_refused_with_4403(bed: Bed) -> None:
    url = f"{bed.live.ws_url}/bridge?token={bed.owner.token}"
    async with websockets.connect(url) as ws:
        error = json.loads(await ws.recv())
        await ws.wait_closed()
    assert ws.close_code == 4403 and error["type"] == "error" and error["code"] == 4403


async def test_no_token_is_refused_with_4401(bed: Bed) -> None:
    async with websockets.connect(f"{bed.live.ws_url}/bridge") as ws:
        await ws.wait_closed()
    assert ws.close_code == 4401


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        '{"type": "heartbeat"}',
        '{"type": "hello", "instance_id": "i_1"}',
        '{"type": "hello", "instance_id": "i_1", "name": "n", "protocol": 99}',
    ],
)
async def test_a_malformed_first_frame_closes_with_4400(bed: Bed, frame: str) -> None:
    creds = await bed.register(bed.owner)
    async with websockets.connect(f"{bed.live.ws_url}/bridge?token={creds.token}") as ws:
        await ws.send(frame)
        await ws.wait_closed()
    assert ws.close_code == 4400


async def test_a_malformed_frame_after_the_welcome_closes_with_4400(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with websockets.connect(f"{bed.live.ws_url}/bridge?token={creds.token}") as ws:
        await ws.send(json.dumps({"type": "hello", "instance_id": "i_1", "name": "n"}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(json.dumps({"type": "future_thing", "x": 1}))  # tolerated
        await ws.send(b"\x00binary")
        await ws.wait_closed()
    assert ws.close_code == 4400


async def test_a_second_connection_takes_over_and_the_first_stops_with_4409(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (first, _):
        await first.wait_welcomed()
        async with bed.bridge(creds) as (second, _):
            await second.wait_welcomed()
            await eventually(lambda: first.state is LinkState.REFUSED)
            assert first.close_code == 4409 and first.last_error is not None
            with pytest.raises(Conflict):
                await first.wait_welcomed()
            assert await bed.live.ctx.bridges.runtimes.online(creds.runtime_id)


async def test_credentials_are_kept_private_and_reused(bed: Bed, tmp_path: Path) -> None:
    data = tmp_path / "bridge"
    creds = await ensure_registered(data, bed.live.url, bed.owner.token, "laptop")
    again = await ensure_registered(data, bed.live.url, bed.owner.token, "laptop")
    assert again == creds and load_credentials(data, "http://elsewhere") is None
    for name in ("runtime.json", "instance-id"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600
    assert creds.token not in repr(creds)


async def test_registering_needs_a_user_token(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    response = await bed.http.post(
        "/api/runtimes",
        json={"instance_id": "x", "name": "x"},
        headers={"Authorization": f"Bearer {creds.token}"},
    )
    assert response.status_code == 403
    with pytest.raises(Forbidden):
        await register(bed.live.url, creds.token, "other", "other")


async def test_a_failing_handler_does_not_stop_the_link(bed: Bed) -> None:
    class Clumsy(Recorder):
        async def message(self, message: ServerMessage) -> None:
            await super().message(message)
            if len(self.messages) == 1:
                raise KeyError("a bug in the bridge")

    creds = await bed.register(bed.owner)
    async with bed.bridge(creds, Clumsy()) as (link, recorder):
        await link.wait_welcomed()
        first = await bed.start(bed.owner)
        second = await bed.start(bed.owner)
        await eventually(lambda: len(recorder.of_type("assign")) == 2)
        assert [m.session_id for m in recorder.of_type("assign")] == [first.id, second.id]
        assert link.state is LinkState.ONLINE
