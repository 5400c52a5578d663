"""A live server (both databases) with quick bridge timings, people, and real bridges.

``bed`` is the owner's workspace with a repo, a member, a viewer, and helpers
to register runtimes over HTTP and connect real :class:`BridgeLink` clients.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import StoreTarget
from tests.support.git import make_repo
from tests.support.live import LiveServer, serve
from trace_sync.auth.principal import Principal
from trace_sync.bridge.link import BridgeLink
from trace_sync.bridge.registration import RuntimeCredentials, register
from trace_sync.client.reconnect import Backoff
from trace_sync.contract.bridge_protocol import (
    Hello,
    HostedTerminal,
    Request,
    ServerMessage,
    Welcome,
)
from trace_sync.contract.session_spec import SessionSpec
from trace_sync.contract.session_status import SessionStatus
from trace_sync.docs import typed
from trace_sync.docs.layouts import SESSION, WORKSPACE
from trace_sync.services.accounts import AccountService
from trace_sync.settings import BridgeTimings, Settings, sqlite_url
from trace_sync.store.records import Repo, Role, SessionRow

#: Heartbeats 15 times per lease: a busy machine may delay a few without losing a bridge.
TIMINGS = BridgeTimings(heartbeat_s=0.2, lease_s=3.0, request_s=5.0)
FAST = Backoff(first=0.05, longest=0.5)


def settings_for(tmp_path: Path, target: StoreTarget, **changes: Any) -> Settings:
    url = target.url if target.schema else sqlite_url(tmp_path / "data" / "trace.db")
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": url,
        "database_schema": target.schema,
        "room_grace_s": 0.2,
        "bridge": TIMINGS,
    }
    return Settings(**(values | changes))


@pytest.fixture
async def live(tmp_path: Path, store_target: StoreTarget) -> AsyncIterator[LiveServer]:
    async with serve(settings_for(tmp_path, store_target)) as server:
        yield server


@dataclass
class Person:
    principal: Principal
    token: str

    @property
    def id(self) -> str:
        return self.principal.user_id


class Recorder:
    """A bridge handler that keeps what it got and answers requests with ``answer``."""

    def __init__(self) -> None:
        self.welcomes: list[Welcome] = []
        self.messages: list[ServerMessage] = []
        self.requests: list[Request] = []
        self.answer: Any = lambda request: {"op": request.op, "args": request.args}

    async def welcome(self, welcome: Welcome) -> None:
        self.welcomes.append(welcome)

    async def message(self, message: ServerMessage) -> None:
        self.messages.append(message)

    async def request(self, request: Request) -> Any:
        self.requests.append(request)
        result = self.answer(request)
        return await result if hasattr(result, "__await__") else result

    def of_type(self, kind: str) -> list[Any]:
        return [m for m in self.messages if m.type == kind]


@dataclass
class Bed:
    live: LiveServer
    http: httpx.AsyncClient
    workspace_id: str
    repo: Repo
    owner: Person
    member: Person
    viewer: Person
    hosting: dict[str, list[str]] = field(default_factory=dict)

    async def person(self, name: str, role: Role) -> Person:
        store = self.live.ctx.store
        user = await store.accounts.create_user(name)
        await store.directory.set_member(self.workspace_id, user.id, role)
        token = (await AccountService(store).issue_token(user.id, label="test")).token
        return Person(await self.live.ctx.gate.authenticate(token), token)

    async def register(self, who: Person, instance: str = "laptop") -> RuntimeCredentials:
        return await register(self.live.url, who.token, instance, f"{instance} of {who.id}")

    @asynccontextmanager
    async def bridge(
        self,
        creds: RuntimeCredentials,
        handler: Recorder | None = None,
        hosting: list[str] | None = None,
        terminals: list[HostedTerminal] | None = None,
    ) -> AsyncIterator[tuple[BridgeLink, Recorder]]:
        recorder = handler or Recorder()
        self.hosting[creds.runtime_id] = hosting or []

        def hello() -> Hello:
            return Hello(
                instance_id=creds.instance_id,
                name=f"bridge {creds.instance_id}",
                hosting=self.hosting[creds.runtime_id],
                terminals=terminals or [],
            )

        async with BridgeLink(creds.server_url, creds.token, hello, recorder, backoff=FAST) as link:
            yield link, recorder

    async def start(self, who: Person, **options: Any) -> SessionRow:
        values = {"repo_id": self.repo.id, "tool": "shell"} | options
        spec = SessionSpec.of(**values)
        return await self.live.ctx.sessions.start(who.principal, self.workspace_id, spec)

    async def row(self, session_id: str) -> SessionRow:
        return await self.live.ctx.store.sessions.get(session_id)

    async def status(self, session_id: str) -> str:
        return (await self.row(session_id)).status

    async def timeline(self, session_id: str) -> list[str]:
        async with self.live.ctx.sync.rooms.document(f"session/{session_id}") as doc:
            return [e["kind"] for e in typed.root_of(doc, SESSION, "timeline")]

    async def summary(self, session_id: str) -> dict[str, Any]:
        """The session's entry in the workspace index."""
        async with self.live.ctx.sync.rooms.document(f"workspace/{self.workspace_id}") as doc:
            return dict(typed.root_of(doc, WORKSPACE, "sessions")[session_id])

    async def meta(self, session_id: str) -> dict[str, Any]:
        async with self.live.ctx.sync.rooms.document(f"session/{session_id}") as doc:
            return dict(typed.root_of(doc, SESSION, "meta").items())

    async def workspace(self, root: str) -> Any:
        async with self.live.ctx.sync.rooms.document(f"workspace/{self.workspace_id}") as doc:
            value = typed.root_of(doc, WORKSPACE, root)
            return [dict(e) for e in value] if root == "timeline" else dict(value.items())

    async def running(self, session_id: str) -> SessionRow:
        """Report the session running, as the io observer would from the bridge's io."""
        return await self.live.ctx.sessions.report_status(session_id, SessionStatus.RUNNING)

    def headers(self, who: Person) -> dict[str, str]:
        return {"Authorization": f"Bearer {who.token}"}


@pytest.fixture
async def bed(live: LiveServer, tmp_path: Path) -> AsyncIterator[Bed]:
    async with open_bed(live, tmp_path) as opened:
        yield opened


@asynccontextmanager
async def open_bed(live: LiveServer, tmp_path: Path) -> AsyncIterator[Bed]:
    owner_principal = await live.ctx.gate.authenticate(live.token)
    [workspace] = await live.ctx.store.directory.list_workspaces(owner_principal.user_id)
    checkout = make_repo(tmp_path / "app", branch="main")
    repo = await live.ctx.repos.add(owner_principal, workspace.id, str(checkout))
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        owner = Person(owner_principal, live.token)
        bed = Bed(live, http, workspace.id, repo, owner, owner, owner)
        bed.member = await bed.person("mia", Role.MEMBER)
        bed.viewer = await bed.person("vic", Role.VIEWER)
        yield bed


@asynccontextmanager
async def raw_bridge(
    bed: Bed, creds: RuntimeCredentials, hosting: list[str] | None = None
) -> AsyncIterator[Any]:
    """A bare control socket that says hello, gets its welcome, then does nothing
    (no heartbeats): a bridge that hangs, or that dies without closing (``abort``)."""
    url = f"{bed.live.ws_url}/bridge?token={creds.token}"
    async with websockets.connect(url) as ws:
        hello = Hello(instance_id=creds.instance_id, name="raw", hosting=hosting or [])
        await ws.send(hello.model_dump_json())
        assert json.loads(await ws.recv())["type"] == "welcome"
        yield ws


def abort(ws: Any) -> None:
    """Drop the connection as a killed process would: no close frame."""
    ws.transport.abort()
