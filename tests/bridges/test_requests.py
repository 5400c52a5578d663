"""Worktree operations travel to the hosting bridge and back; an absent or silent
bridge is a quick 409; runtime tokens stay inside their own sessions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pycrdt import Map

from tests.bridges.conftest import Bed
from tests.conftest import eventually
from trace_sync.client.sync_client import SyncClient
from trace_sync.contract.bridge_protocol import Request
from trace_sync.contract.errors import NotFound


async def test_each_operation_reaches_the_bridge_and_returns_its_answer(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, recorder):
        await link.wait_welcomed()
        session = await bed.start(bed.owner)
        base, owner = f"/api/sessions/{session.id}", bed.headers(bed.owner)
        checkpoint = await bed.http.post(
            f"{base}/checkpoints", json={"label": "before"}, headers=owner
        )
        assert checkpoint.json() == {"op": "checkpoint", "args": {"label": "before"}}
        restore = await bed.http.post(f"{base}/checkpoints/2/restore", headers=owner)
        assert restore.json()["args"] == {"n": 2}
        recorder.answer = lambda request: {"merged": False, "conflicts": ["a.py"]}
        merge = await bed.http.post(f"{base}/merge", headers=owner)
        assert merge.json() == {"merged": False, "conflicts": ["a.py"]}
        recorder.answer = lambda request: {"path": request.args["path"], "text": "hi\n"}
        read = await bed.http.get(f"{base}/files/src/app.py", headers=bed.headers(bed.viewer))
        assert read.json() == {"path": "src/app.py", "text": "hi\n"}
        written = await bed.http.put(f"{base}/files/new.txt", json={"content": "x"}, headers=owner)
        assert written.status_code == 200
        assert [r.op for r in recorder.requests] == [
            "checkpoint",
            "restore",
            "merge",
            "read_file",
            "write_file",
        ]
        timeline = await bed.timeline(session.id)
        assert "checkpoint.restored" in timeline and "session.merge_failed" in timeline


async def test_the_bridges_errors_come_back_with_their_status(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, recorder):
        await link.wait_welcomed()
        session = await bed.start(bed.owner)

        def missing(request: Request) -> Any:
            raise NotFound(f"no file {request.args['path']}")

        recorder.answer = missing
        read = await bed.http.get(
            f"/api/sessions/{session.id}/files/gone.txt", headers=bed.headers(bed.owner)
        )
        assert read.status_code == 404 and read.json()["error"]["message"] == "no file gone.txt"


@pytest.mark.parametrize("path", ["%2e%2e/secret", "a/%2e%2e/%2e%2e/b", "/etc/passwd", "a%00b"])
async def test_paths_outside_the_worktree_are_refused_before_they_travel(
    bed: Bed, path: str
) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, recorder):
        await link.wait_welcomed()
        session = await bed.start(bed.owner)
        response = await bed.http.put(
            f"/api/sessions/{session.id}/files/{path}",
            json={"content": "x"},
            headers=bed.headers(bed.owner),
        )
        assert response.status_code == 422
        assert recorder.requests == []


async def test_writing_needs_a_writing_role(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, recorder):
        await link.wait_welcomed()
        session = await bed.start(bed.owner)
        written = await bed.http.put(
            f"/api/sessions/{session.id}/files/a.txt",
            json={"content": "x"},
            headers=bed.headers(bed.viewer),
        )
        merged = await bed.http.post(
            f"/api/sessions/{session.id}/merge", headers=bed.headers(bed.viewer)
        )
        assert written.status_code == merged.status_code == 403
        assert recorder.requests == []


async def test_an_offline_bridge_is_a_quick_409(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, _):
        await link.wait_welcomed()
        session = await bed.start(bed.owner)
    response = await bed.http.post(
        f"/api/sessions/{session.id}/checkpoints", json={}, headers=bed.headers(bed.owner)
    )
    assert response.status_code == 409
    assert "not connected" in response.json()["error"]["message"]


async def test_a_bridge_that_never_answers_is_a_409_after_the_request_timeout(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, recorder):
        await link.wait_welcomed()
        session = await bed.start(bed.owner)
        recorder.answer = lambda request: asyncio.Event().wait()  # hangs forever
        response = await bed.http.post(
            f"/api/sessions/{session.id}/merge", headers=bed.headers(bed.owner)
        )
        assert response.status_code == 409 and "no reply" in response.json()["error"]["message"]


async def test_a_reply_that_arrives_after_a_reconnect_fails_the_request_at_once(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, recorder):
        await link.wait_welcomed()
        session = await bed.start(bed.owner)
        recorder.answer = lambda request: asyncio.Event().wait()
        pending = asyncio.create_task(
            bed.http.post(f"/api/sessions/{session.id}/merge", headers=bed.headers(bed.owner))
        )
        await eventually(lambda: len(recorder.requests) == 1)
        async with bed.bridge(creds) as (newer, _):  # takes over: the old link's requests fail
            await newer.wait_welcomed()
            response = await pending
        assert response.status_code == 409 and "took over" in response.json()["error"]["message"]


async def test_a_runtime_token_stays_inside_its_own_sessions(bed: Bed) -> None:
    creds = await bed.register(bed.owner)
    async with bed.bridge(creds) as (link, _):
        await link.wait_welcomed()
        placed = await bed.start(bed.owner)
    elsewhere = await bed.start(bed.member)  # waits for Mia's bridge: not on this runtime
    runtime = {"Authorization": f"Bearer {creds.token}"}
    for method, path in [
        ("GET", "/api/runtimes"),
        ("POST", f"/api/sessions/{placed.id}/terminals"),
        ("POST", f"/api/sessions/{placed.id}/checkpoints"),
        ("GET", f"/api/sessions/{placed.id}/files/README.md"),
        ("POST", f"/api/runtimes/{creds.runtime_id}/grants"),
        ("GET", "/api/me"),
        ("GET", "/api/tokens"),
        ("POST", "/api/signin-links"),  # would turn a bridge's token into its user's
    ]:
        response = await bed.http.request(method, path, json={}, headers=runtime)
        assert response.status_code == 403, path
    async with SyncClient(bed.live.url, f"session/{placed.id}/io", creds.token) as io:
        await io.wait_synced()
        with io.doc.transaction(origin="bridge"):
            io.doc.get("runtime", type=Map)["status"] = "running"
        await io.flush()
    for name in (f"session/{elsewhere.id}", f"workspace/{bed.workspace_id}"):
        async with SyncClient(bed.live.url, name, creds.token) as other:
            with pytest.raises(NotFound):
                await other.wait_synced()
