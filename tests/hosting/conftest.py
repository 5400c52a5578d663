"""The bridge process for real: a live server, the owner's bridge hosting sessions in
real worktrees with real PTYs and tools, and people following the io document.

``hosting`` is an in-process :class:`Bridge` of the owner of ``bed`` (a workspace
with a repo on ``main``, a member and a viewer); ``hosting.io(sid)`` follows a
session's io document as a person would (read-only SyncClient).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bridges.conftest import FAST, Bed, Person, open_bed, settings_for
from tests.conftest import StoreTarget, eventually
from tests.support.live import LiveServer, serve
from trace_sync.bridge.process import Bridge, BridgeConfig
from trace_sync.client.sync_client import SyncClient
from trace_sync.docs.layouts import SESSION_IO
from trace_sync.docs.typed import root_of
from trace_sync.settings import sqlite_url

_ESCAPES = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07)")


@pytest.fixture(autouse=True)
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tools and shells get a home of their own (no rc files, no configs of this machine)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SHELL", "/bin/bash")
    return home


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveServer]:
    target = StoreTarget(sqlite_url(tmp_path / "data" / "trace.db"))
    async with serve(settings_for(tmp_path, target)) as server:
        yield server


@pytest.fixture
async def bed(live: LiveServer, tmp_path: Path) -> AsyncIterator[Bed]:
    async with open_bed(live, tmp_path) as opened:
        yield opened


class IoView:
    """What a person following ``session/<sid>/io`` sees."""

    def __init__(self, client: SyncClient) -> None:
        self.client = client

    def root(self, name: str) -> Any:
        return root_of(self.client.doc, SESSION_IO, name)

    def runtime(self) -> dict[str, Any]:
        return dict(self.root("runtime").items())

    def output(self, terminal_id: str = "tool") -> str:
        text = self.root("output").get(terminal_id)
        return "" if text is None else str(text)

    def lines(self, terminal_id: str = "tool") -> list[str]:
        """The terminal's output as lines, escape sequences left out."""
        plain = _ESCAPES.sub("", self.output(terminal_id))
        return [line for line in re.split(r"\r\n|\n|\r", plain) if line]

    def transcript(self) -> list[dict[str, Any]]:
        return [dict(entry) for entry in self.root("transcript")]

    def kinds(self) -> list[str]:
        return [entry["kind"] for entry in self.transcript()]

    def files(self) -> dict[str, dict[str, Any]]:
        return {path: dict(change) for path, change in self.root("files").items()}

    def checkpoints(self) -> list[dict[str, Any]]:
        return [dict(c) for c in self.root("checkpoints")]

    def approvals(self) -> dict[str, dict[str, Any]]:
        return {key: dict(value) for key, value in self.root("approvals").items()}

    def terminals(self) -> dict[str, dict[str, Any]]:
        return {key: dict(value) for key, value in self.root("terminals").items()}

    async def shows(self, text: str, terminal_id: str = "tool", within: float = 30) -> None:
        await eventually(lambda: text in self.output(terminal_id), within)

    async def status(self, status: str, within: float = 30) -> None:
        await eventually(lambda: self.runtime().get("status") == status, within)


@dataclass
class Hosting:
    bed: Bed
    bridge: Bridge
    data_dir: Path

    @property
    def http(self) -> httpx.AsyncClient:
        return self.bed.http

    async def start(self, who: Person | None = None, **options: Any) -> str:
        """A session started as ``who`` (default: the owner), its id."""
        session = await self.bed.start(who or self.bed.owner, **options)
        return session.id

    @asynccontextmanager
    async def io(self, sid: str, who: Person | None = None) -> AsyncIterator[IoView]:
        token = (who or self.bed.owner).token
        client = SyncClient(self.bed.live.url, f"session/{sid}/io", token, read_only=True)
        async with client:
            await client.wait_synced()
            yield IoView(client)

    async def api(
        self, method: str, path: str, who: Person | None = None, **body: Any
    ) -> httpx.Response:
        headers = self.bed.headers(who or self.bed.owner)
        return await self.http.request(method, path, json=body or None, headers=headers)

    async def status(self, sid: str, wanted: str, within: float = 30) -> None:
        async def reached() -> bool:
            return await self.bed.status(sid) == wanted

        await eventually(reached, within)

    def worktree(self, sid: str) -> Path:
        return self.data_dir / "worktrees" / sid


@asynccontextmanager
async def owner_bridge(bed: Bed, data_dir: Path) -> AsyncIterator[Bridge]:
    config = BridgeConfig(bed.live.url, bed.owner.token, data_dir, name="test", backoff=FAST)
    async with Bridge(config) as bridge:
        await bridge.wait_welcomed()
        yield bridge


@pytest.fixture
async def hosting(bed: Bed, tmp_path: Path) -> AsyncIterator[Hosting]:
    data_dir = tmp_path / "bridge"
    async with owner_bridge(bed, data_dir) as bridge:
        yield Hosting(bed, bridge, data_dir)
