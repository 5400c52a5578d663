"""Live: clients subscribed to ``workspace/<wid>`` see sessions appear and change
status as it happens, with no polling of the API (a pycrdt and a JS Yjs client)."""

from __future__ import annotations

from typing import Any

from pycrdt import Map

from tests.api.conftest import Team
from tests.conftest import eventually
from tests.support.js_client import JsClient
from trace_sync.contract.session_status import SessionStatus


def js_index(js: JsClient) -> dict[str, Any]:
    maps = [e["value"] for e in js.events if e["event"] == "map" and e["root"] == "sessions"]
    return maps[-1] if maps else {}


async def test_a_new_session_and_its_status_reach_subscribed_clients(team: Team) -> None:
    room = f"workspace/{team.wid}"
    async with (
        team.sync("viewer", room) as py,
        JsClient(team.live.ws_url, room, team.tokens["viewer"]) as js,
    ):
        await py.wait_synced()
        await js.wait_for_event(lambda e: e["event"] == "synced", timeout=30)
        await js.send({"op": "watch", "root": "sessions"})
        sessions = py.doc.get("sessions", type=Map)
        assert len(sessions) == 0 and js_index(js) == {}
        sid = (await team.start("member", title="live one"))["id"]
        await eventually(lambda: sid in sessions and sid in js_index(js), within=30)
        assert sessions[sid]["title"] == js_index(js)[sid]["title"] == "live one"
        await team.report(sid, SessionStatus.RUNNING)
        await eventually(
            lambda: sessions[sid]["status"] == js_index(js)[sid]["status"] == "running", within=30
        )
        assert (await team.api("member").post(f"/api/sessions/{sid}/pause")).status_code == 200
        await eventually(
            lambda: sessions[sid]["status"] == js_index(js)[sid]["status"] == "paused", within=30
        )
        secret = (await team.start("member", private=True))["id"]
        await team.report(secret, SessionStatus.RUNNING)
        await team.api("member").patch(f"/api/sessions/{sid}", json={"title": "renamed"})
        await eventually(lambda: js_index(js)[sid]["title"] == "renamed", within=30)
        assert secret not in sessions and secret not in js_index(js)  # private: never indexed
