"""Commands over HTTP: idempotent retries, two people at once, pages, OpenAPI."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import timedelta

import pytest

from tests.api.conftest import Team
from trace_sync.contract.session_status import SessionStatus
from trace_sync.store import idempotency


async def test_a_retried_command_runs_once_and_gets_the_same_reply(team: Team) -> None:
    api, path = team.api("member"), f"/api/workspaces/{team.wid}/sessions"
    body = {"repo_id": team.repo_id, "tool": "shell", "prompt": "once only"}
    key = {"Idempotency-Key": "start-1"}
    first = await api.post(path, json=body, headers=key)
    again = await api.post(path, json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotency-Replayed"] == "true"
    listed = (await api.get(path)).json()["items"]
    assert [s["id"] for s in listed] == [first.json()["id"]]  # one session, not two
    other = await api.post(path, json=body | {"prompt": "something else"}, headers=key)
    assert other.status_code == 422 and "different request" in other.json()["error"]["message"]
    # keys belong to their user: the same key from someone else is a new command
    theirs = await team.api("admin").post(path, json=body, headers=key)
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]


async def test_a_failed_command_can_be_retried_with_its_key(team: Team) -> None:
    sid = (await team.start())["id"]
    api, key = team.api("owner"), {"Idempotency-Key": "pause-1"}
    refused = await api.post(f"/api/sessions/{sid}/pause", headers=key)
    assert refused.status_code == 409 and "starting" in refused.json()["error"]["message"]
    await team.report(sid, SessionStatus.RUNNING)
    paused = await api.post(f"/api/sessions/{sid}/pause", headers=key)
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    deleted = await api.delete(f"/api/sessions/{(await team.start())['id']}", headers=key)
    assert deleted.status_code == 422  # a key is for one request only


async def test_a_duplicate_while_the_first_still_runs_is_told_so(team: Team) -> None:
    sid = (await team.start())["id"]
    path = await _claimed_stop(team, sid)
    duplicate = await team.api("owner").post(path, headers={"Idempotency-Key": "stop-1"})
    assert duplicate.status_code == 409 and "in progress" in duplicate.json()["error"]["message"]
    assert (await team.api("owner").get(f"/api/sessions/{sid}")).json()["status"] == "starting"


async def test_a_claim_left_by_a_server_that_died_is_taken_over_by_the_retry(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = (await team.start())["id"]
    path = await _claimed_stop(team, sid)
    monkeypatch.setattr(idempotency, "ABANDONED_AFTER", timedelta(0))  # time has passed
    retried = await team.api("owner").post(path, headers={"Idempotency-Key": "stop-1"})
    assert retried.status_code == 200 and retried.json()["status"] == "stopped"
    replayed = await team.api("owner").post(path, headers={"Idempotency-Key": "stop-1"})
    assert replayed.headers["Idempotency-Replayed"] == "true"


async def _claimed_stop(team: Team, sid: str) -> str:
    """A stop whose first request claimed its key and has not finished (or never will)."""
    path = f"/api/sessions/{sid}/stop"
    digest = hashlib.sha256()
    for part in ("POST", path, ""):
        digest.update(part.encode() + b"\0")
    claim = await team.live.ctx.store.idempotency.claim(
        team.users["owner"], "stop-1", digest.hexdigest()
    )
    assert claim is None
    return path


async def test_two_people_commanding_at_once_one_wins_the_other_hears_why(team: Team) -> None:
    sid = (await team.start())["id"]
    await team.report(sid, SessionStatus.RUNNING)
    first, second = await asyncio.gather(
        team.api("member").post(f"/api/sessions/{sid}/pause"),
        team.api("admin").post(f"/api/sessions/{sid}/pause"),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    loser = first if first.status_code == 409 else second
    assert "cannot pause a session that is paused" in loser.json()["error"]["message"]
    stop, archive = await asyncio.gather(
        team.api("member").post(f"/api/sessions/{sid}/stop"),
        team.api("admin").post(f"/api/sessions/{sid}/archive"),
    )
    # Which runs first is the server's choice; what is right is that the replies, the
    # status and the timeline tell the same order, and nothing is lost: archive is
    # allowed only once stopped, so either it follows the stop or is refused naming 'paused'.
    assert stop.status_code == 200 and stop.json()["status"] == "stopped"
    after = (await team.api("owner").get(f"/api/sessions/{sid}")).json()["status"]
    timeline = (await team.api("owner").get(f"/api/sessions/{sid}/timeline")).json()["items"]
    ends = [e["kind"] for e in timeline if e["kind"] in ("session.stopped", "session.archived")]
    if archive.status_code == 200:
        assert archive.json()["status"] == after == "archived"
        assert ends == ["session.stopped", "session.archived"]
    else:
        assert archive.status_code == 409
        assert "cannot archive a session that is paused" in archive.json()["error"]["message"]
        assert after == "stopped" and ends == ["session.stopped"]


async def test_many_sessions_started_at_once_all_start_and_are_searchable(team: Team) -> None:
    path = f"/api/workspaces/{team.wid}/sessions"
    body = {"repo_id": team.repo_id, "tool": "shell"}
    started = await asyncio.gather(
        *(team.api("member").post(path, json=body | {"prompt": f"burst {n}"}) for n in range(24))
    )
    assert [r.status_code for r in started] == [201] * 24, [r.text for r in started]
    found = await team.api("member").get(
        f"/api/workspaces/{team.wid}/search", params={"q": "burst", "limit": 100}
    )
    assert len(found.json()["items"]) == 24


async def test_sessions_come_in_pages_without_repeats_or_gaps(team: Team) -> None:
    started = [(await team.start(title=f"task {n}"))["id"] for n in range(7)]
    await team.report(started[2], SessionStatus.RUNNING)
    await team.report(started[5], SessionStatus.RUNNING)
    path, api = f"/api/workspaces/{team.wid}/sessions", team.api("viewer")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await api.get(path, params=params)).json()
        seen += [s["id"] for s in page["items"]]
        pages, cursor = pages + 1, page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and sorted(seen) == sorted(started) and len(seen) == 7
    assert seen[:2] == [started[5], started[2]]  # most recent activity first
    running = (await api.get(path, params={"status": "running", "limit": 1})).json()
    assert [s["id"] for s in running["items"]] == [started[5]] and running["next_cursor"]
    both = await api.get(path, params=[("status", "running"), ("status", "starting")])
    assert len(both.json()["items"]) == 7
    bad = await api.get(path, params={"cursor": "garbage!"})
    assert bad.status_code == 422 and "cursor" in bad.json()["error"]["message"]
    assert (await api.get(path, params={"limit": 0})).status_code == 422
    assert (await api.get(path, params={"status": "sleeping"})).status_code == 422


async def test_openapi_describes_every_route(team: Team) -> None:
    spec = (await team.api("viewer").get("/api/openapi.json")).json()
    routes = {
        (method.lower(), re.sub(r"{(\w+):\w+}", r"{\1}", route.path))
        for route in team.live.app.routes
        for method in getattr(route, "methods", None) or []
        if method != "HEAD"
        and route.path != "/api/{path:path}"  # the catch-all 404
        and not route.path.startswith("/preview/")  # the previewed apps' own paths
    }
    described = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert routes == described
    start = spec["paths"]["/api/workspaces/{wid}/sessions"]["post"]
    assert start["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/StartSessionIn"
    )
    assert "Idempotency-Key" in {p["name"] for p in start["parameters"]}
    schemas = spec["components"]["schemas"]
    assert "documents" in schemas["SessionOut"]["properties"]
    text = str(spec)
    for name in {ref.rsplit("/", 1)[-1] for ref in _refs(spec)}:
        assert name in schemas, f"dangling $ref to {name}"
    assert "#/$defs" not in text


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []
