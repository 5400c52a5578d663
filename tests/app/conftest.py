"""A live server (in this process) with a seeded workspace and a scripted runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.app.seed import ScriptedRuntime, Seeded, seed
from tests.support.live import LiveServer, serve
from tests.sync.conftest import settings_for
from trace_sync.auth.principal import Principal
from trace_sync.client.reconnect import Backoff

FAST = Backoff(first=0.05, longest=0.5)


@dataclass
class World:
    live: LiveServer
    seeded: Seeded
    runtime: ScriptedRuntime

    @property
    def hosted(self) -> str:
        """The session the scripted runtime hosts (waiting for approval)."""
        return self.seeded.sessions["Add email to users"]


async def owner_of(live: LiveServer) -> Principal:
    user = await live.ctx.store.accounts.get_user(live.ctx.owner.user_id)
    return Principal(user.id, user.name, "t_test")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with serve(settings_for(tmp_path)) as live:
        seeded = await seed(live.ctx.store, live.ctx.sync.rooms, await owner_of(live), tmp_path)
        hosted = seeded.sessions["Add email to users"]
        async with ScriptedRuntime(live.url, hosted, seeded) as runtime:
            yield World(live, seeded, runtime)
