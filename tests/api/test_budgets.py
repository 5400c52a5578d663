"""Budgets on the real server, on SQLite and PostgreSQL: the runtime reports
usage in the session's io document, and at a cap the session pauses, says
why, reaches its followers, and is not resumed until the cap is raised."""

from __future__ import annotations

import json
from typing import Any

from pycrdt import Map

from tests.api.conftest import Team
from tests.api.test_inbox import kinds
from tests.conftest import eventually
from tests.support.receiver import receiving
from trace_sync.contract.session_status import SessionStatus


async def working(team: Team, who: str = "member") -> str:
    sid = (await team.start(who, title="Port the parser"))["id"]
    await team.host(sid)
    await team.report(sid, SessionStatus.RUNNING)
    return str(sid)


async def spend(team: Team, sid: str, cost_usd: float, tokens: int) -> None:
    """The runtime reports the tool's usage so far, as a bridge does."""
    async with team.sync("runtime", f"session/{sid}/io") as io:
        await io.wait_synced()
        with io.doc.transaction(origin="runtime"):
            usage = io.doc.get("usage", type=Map)
            usage["input_tokens"], usage["output_tokens"] = tokens, 0
            usage["cost_usd"] = cost_usd
        await eventually(lambda: _reported(team, sid, tokens))
    await team.live.ctx.observer.idle()  # budgets were checked too


async def _reported(team: Team, sid: str, tokens: int) -> bool:
    return (await team.live.ctx.store.sessions.get(sid)).tokens == tokens


async def session(team: Team, sid: str) -> dict[str, Any]:
    found: dict[str, Any] = (await team.api("owner").get(f"/api/sessions/{sid}")).json()
    return found


async def test_a_session_at_its_usd_cap_pauses_says_why_and_waits_for_a_higher_cap(
    team: Team,
) -> None:
    sid = await working(team)
    capped = await team.api("member").put(f"/api/sessions/{sid}/budget", json={"usd": 1.0})
    assert capped.status_code == 200, capped.text
    with receiving() as receiver:
        url = f"json://127.0.0.1:{receiver.port}/budget"
        added = await team.api("member").post(
            "/api/me/notify", json={"url": url, "events": ["budget"]}
        )
        assert added.status_code == 201, added.text
        await spend(team, sid, 0.6, 1000)
        assert (await session(team, sid))["status"] == "running"
        await spend(team, sid, 1.2, 2000)
        paused = await session(team, sid)
        assert paused["status"] == "paused" and "$1.00" in paused["reason"]
        await eventually(lambda: _has_kind(team, "budget"))
        await team.live.ctx.attention.idle()
        await team.live.ctx.notifier.idle()
        [sent] = receiver.received
        assert "Port the parser" in json.loads(sent.body)["title"]
    refused = await team.api("member").post(f"/api/sessions/{sid}/resume")
    assert refused.status_code == 409 and "raise the budget" in refused.text
    raised = await team.api("member").put(f"/api/sessions/{sid}/budget", json={"usd": 5.0})
    assert raised.json()["spent_usd"] == 1.2 and raised.json()["cap"]["usd"] == 5.0
    resumed = await team.api("member").post(f"/api/sessions/{sid}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["reason"] is None


async def _has_kind(team: Team, kind: str) -> bool:
    return kind in await kinds(team, "member")


async def test_the_workspace_token_cap_counts_every_session_and_new_ones_get_the_default(
    team: Team,
) -> None:
    workspace = f"/api/workspaces/{team.wid}/budget"
    refused = await team.api("member").put(workspace, json={"tokens": 10})
    assert refused.status_code == 403
    assert (await team.api("admin").put(workspace, json={"tokens": 5000})).status_code == 200
    default = await team.api("admin").put(f"{workspace}/default", json={"usd": 2.5})
    assert default.json()["session_default"] == {"usd": 2.5, "tokens": None}
    first, second = await working(team), await working(team, "owner")
    own = (await team.api("member").get(f"/api/sessions/{first}/budget")).json()
    assert own["cap"] == {"usd": 2.5, "tokens": None}
    await spend(team, first, 0.1, 3000)
    assert (await session(team, first))["status"] == "running"
    await spend(team, second, 0.1, 2500)
    stopped = await session(team, second)
    assert (
        stopped["status"] == "paused" and "workspace's budget of 5,000 tokens" in stopped["reason"]
    )
    spent = (await team.api("viewer").get(workspace)).json()
    assert spent["spent_tokens"] == 5500 and spent["cap"]["tokens"] == 5000
