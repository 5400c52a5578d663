"""The real coding-tool CLIs, offline: each test gets a scripted model server, a
real git repo as the worktree and a fresh tool home; the npm install is shared."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import SecretStr

from tests.support.git import make_repo
from tests.support.model_server import ModelServer
from trace_sync.bridge.tools.interface import Provider, ToolContext, ToolEvent, ToolRun
from trace_sync.bridge.tools.run import now
from trace_sync.docs.entries import Decision

E = TypeVar("E")

#: What every test run of a real CLI needs: no update checks, no telemetry, and
#: (as root, which CI is) permission to offer the bypass mode.
QUIET_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "IS_SANDBOX": "1",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def context(tmp_path: Path, repo: Path, models: ModelServer) -> Callable[..., ToolContext]:
    """``context(**changes)``: a ToolContext on the repo, pointed at the scripted server."""
    home = tmp_path / "home"
    home.mkdir()
    env = dict(QUIET_ENV, HOME=str(home), CLAUDE_CONFIG_DIR=str(home / ".claude"))
    env["CODEX_HOME"] = str(home / ".codex")

    def make(**changes: Any) -> ToolContext:
        provider = Provider(base_url=models.url, api_key=SecretStr("sk-test"))
        base: dict[str, Any] = {"cwd": repo, "provider": provider, "env": env}
        return ToolContext(**{**base, **changes})

    return make


def decision(behavior: str, **fields: Any) -> Decision:
    return Decision.model_validate(
        {"request_id": "", "behavior": behavior, "by": "tester", "at": now(), **fields}
    )


@dataclass
class EventLog:
    """Everything a run emitted so far, read in the background; tests await what they need."""

    events: list[ToolEvent] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def read(self, run: ToolRun) -> None:
        async for event in run.events():
            async with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def next(
        self, kind: type[E], where: Callable[[E], bool] = lambda e: True, timeout: float = 30
    ) -> E:
        """The first event of ``kind`` matching ``where`` (waiting for it to come)."""

        def found() -> E | None:
            return next((e for e in self.of(kind) if where(e)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), timeout)
        event = found()
        assert event is not None
        return event

    async def count(self, kind: type[Any], n: int, timeout: float = 30) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.of(kind)) >= n), timeout)


@pytest.fixture
async def watch() -> AsyncIterator[Callable[[ToolRun], EventLog]]:
    """``log = watch(run)``: read the run's events into a log until the test ends."""
    tasks: list[asyncio.Task[None]] = []

    def start(run: ToolRun) -> EventLog:
        log = EventLog()
        tasks.append(asyncio.create_task(log.read(run)))
        return log

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
