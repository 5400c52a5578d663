"""The real server (uvicorn, in process) on SQLite and PostgreSQL, and a team on it.

``team`` is the owner's default workspace with one person per role, an
outsider, a member whose token was revoked, a runtime token, and a repo:
everyone is made through the HTTP API, as a person would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import StoreTarget
from tests.support.git import make_repo
from tests.support.live import LiveServer, serve
from trace_sync.client.sync_client import SyncClient
from trace_sync.contract.session_status import SessionStatus
from trace_sync.services.accounts import AccountService
from trace_sync.settings import Settings
from trace_sync.store.records import TokenKind

ROLES = ("owner", "admin", "member", "viewer")
RUNTIME_ID = "rt_test"


@pytest.fixture
async def live(store_target: StoreTarget, tmp_path: Path) -> AsyncIterator[LiveServer]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=store_target.url,
        database_schema=store_target.schema,
        room_grace_s=0.2,
    )
    async with serve(settings) as server:
        yield server


@dataclass
class Team:
    live: LiveServer
    wid: str
    repo_id: str
    #: name -> token: owner, admin, member, viewer, outsider, revoked, runtime
    tokens: dict[str, str]
    #: name -> user id
    users: dict[str, str]
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    def api(self, who: str) -> httpx.AsyncClient:
        if who not in self.clients:
            headers = {"Authorization": f"Bearer {self.tokens[who]}"}
            self.clients[who] = httpx.AsyncClient(
                base_url=self.live.url, headers=headers, timeout=60
            )
        return self.clients[who]

    def sync(self, who: str, name: str, **options: Any) -> SyncClient:
        return SyncClient(self.live.url, name, self.tokens[who], **options)

    async def start(self, who: str = "owner", **options: Any) -> dict[str, Any]:
        body = {"repo_id": self.repo_id, "tool": "shell"} | options
        response = await self.api(who).post(f"/api/workspaces/{self.wid}/sessions", json=body)
        assert response.status_code == 201, response.text
        session: dict[str, Any] = response.json()
        return session

    async def report(self, sid: str, status: SessionStatus) -> None:
        """What the runtime would report (the io observer's path into the services)."""
        await self.live.ctx.sessions.report_status(sid, status)

    async def host(self, sid: str) -> None:
        """Assign the session to the test runtime, whose token may then write its io."""
        await self.live.ctx.store.sessions.assign_runtime(sid, RUNTIME_ID)


@pytest.fixture
async def team(live: LiveServer, tmp_path: Path) -> AsyncIterator[Team]:
    owner = httpx.AsyncClient(
        base_url=live.url, headers={"Authorization": f"Bearer {live.token}"}, timeout=60
    )
    wid = (await owner.get("/api/workspaces")).json()["items"][0]["id"]
    tokens, users = {"owner": live.token}, {"owner": live.ctx.owner.user_id}
    for name, role in [("admin", "admin"), ("member", "member"), ("viewer", "viewer")]:
        added = await owner.post(
            f"/api/workspaces/{wid}/members", json={"name": name, "role": role}
        )
        tokens[name], users[name] = added.json()["token"], added.json()["user"]["id"]
    revoked = await owner.post(f"/api/workspaces/{wid}/members", json={"name": "rex"})
    tokens["revoked"], users["revoked"] = revoked.json()["token"], revoked.json()["user"]["id"]
    rex = httpx.AsyncClient(
        base_url=live.url, headers={"Authorization": f"Bearer {tokens['revoked']}"}
    )
    token_id = (await rex.get("/api/me")).json()["token_id"]
    await rex.aclose()
    assert (await owner.post(f"/api/tokens/{token_id}/revoke")).status_code == 200
    accounts = AccountService(live.ctx.store)
    outsider = await live.ctx.store.accounts.create_user("otto")
    await live.ctx.store.directory.create_workspace("Elsewhere", outsider.id)
    tokens["outsider"] = (await accounts.issue_token(outsider.id, "test")).token
    users["outsider"] = outsider.id
    runtime = await accounts.issue_token(
        users["owner"], "bridge", kind=TokenKind.RUNTIME, runtime_id=RUNTIME_ID
    )
    tokens["runtime"] = runtime.token
    checkout = make_repo(tmp_path / "app", branch="main")
    repo = await owner.post(f"/api/workspaces/{wid}/repos", json={"source": str(checkout)})
    assert repo.status_code == 201, repo.text
    team = Team(live, wid, repo.json()["id"], tokens, users, {"owner": owner})
    yield team
    for client in team.clients.values():
        await client.aclose()
