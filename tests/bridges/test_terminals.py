"""Who may type into a session's terminal: forwarded to the bridge, or refused with 403."""

from __future__ import annotations

from typing import Any

from tests.bridges.conftest import Bed, Person
from tests.conftest import eventually


async def type_into(bed: Bed, who: Person, session_id: str, terminal_id: str = "tool") -> Any:
    return await bed.http.post(
        f"/api/sessions/{session_id}/terminals/{terminal_id}/input",
        json={"data": "echo hi\r"},
        headers=bed.headers(who),
    )


async def test_the_owner_types_and_the_bridge_receives_it(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, recorder):
        await link.wait_welcomed()
        session = await bed.start(bed.owner)
        assert (await type_into(bed, bed.owner, session.id)).status_code == 204
        resize = await bed.http.post(
            f"/api/sessions/{session.id}/terminals/tool/resize",
            json={"cols": 120, "rows": 40},
            headers=bed.headers(bed.owner),
        )
        assert resize.status_code == 204
        await eventually(lambda: len(recorder.of_type("terminal_resize")) == 1)
        [typed] = recorder.of_type("terminal_input")
        assert (typed.session_id, typed.terminal_id, typed.data) == (
            session.id,
            "tool",
            "echo hi\r",
        )
        [resized] = recorder.of_type("terminal_resize")
        assert (resized.cols, resized.rows) == (120, 40)


async def test_a_viewer_and_a_member_without_the_capability_are_refused(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, recorder):
        await link.wait_welcomed()
        session = await bed.start(bed.owner)
        viewer = await type_into(bed, bed.viewer, session.id)
        assert viewer.status_code == 403 and "viewer" in viewer.json()["error"]["message"]
        member = await type_into(bed, bed.member, session.id)
        assert member.status_code == 403 and "terminal" in member.json()["error"]["message"]
        opened = await bed.http.post(
            f"/api/sessions/{session.id}/terminals", json={}, headers=bed.headers(bed.member)
        )
        assert opened.status_code == 403
        assert (await type_into(bed, bed.owner, session.id)).status_code == 204
        await eventually(lambda: len(recorder.of_type("terminal_input")) == 1)
        assert recorder.of_type("terminal_open") == []


async def test_a_member_with_a_terminal_grant_for_the_session_may_type(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, recorder):
        await link.wait_welcomed()
        session = await bed.start(bed.owner)
        other = await bed.start(bed.owner)
        asked = await bed.http.post(
            f"/api/runtimes/{creds.runtime_id}/grants",
            json={"capabilities": ["terminal"], "session_id": session.id},
            headers=bed.headers(bed.member),
        )
        await bed.http.post(
            f"/api/grants/{asked.json()['id']}/approve", headers=bed.headers(bed.owner)
        )
        assert (await type_into(bed, bed.member, session.id)).status_code == 204
        assert (await type_into(bed, bed.member, other.id)).status_code == 403
        await eventually(lambda: len(recorder.of_type("terminal_input")) == 1)


async def test_typing_into_a_session_whose_bridge_is_offline_is_a_conflict(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, _):
        await link.wait_welcomed()
        session = await bed.start(bed.owner)
    refused = await type_into(bed, bed.owner, session.id)
    assert (
        refused.status_code == 409 and "runtime unavailable" in refused.json()["error"]["message"]
    )
    waiting = await bed.start(bed.owner)  # no bridge at all: not placed
    assert (await type_into(bed, bed.owner, waiting.id)).status_code == 409


async def test_closing_a_terminal_tells_the_bridge(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, recorder):
        await link.wait_welcomed()
        session = await bed.start(bed.owner)
        opened = await bed.http.post(
            f"/api/sessions/{session.id}/terminals",
            json={"cols": 100, "rows": 30},
            headers=bed.headers(bed.owner),
        )
        terminal_id = opened.json()["terminal_id"]
        closed = await bed.http.delete(
            f"/api/sessions/{session.id}/terminals/{terminal_id}", headers=bed.headers(bed.owner)
        )
        assert closed.status_code == 204
        await eventually(lambda: len(recorder.of_type("terminal_close")) == 1)
        [open_message] = recorder.of_type("terminal_open")
        assert (open_message.opened_by, open_message.cols, open_message.rows) == (
            bed.owner.id,
            100,
            30,
        )
