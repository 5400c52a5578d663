"""A live server with the real store, and helpers to make documents and users."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.live import LiveServer, serve
from trace_sync.services.accounts import AccountService
from trace_sync.settings import Limits, Settings, sqlite_url
from trace_sync.store.records import Role


def settings_for(tmp_path: Path, **limits: int) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=sqlite_url(tmp_path / "data" / "trace.db"),
        room_grace_s=0.2,
        limits=dataclasses.replace(Limits(), **limits),
    )


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with serve(settings_for(tmp_path)) as live:
        yield live


async def new_session(live: LiveServer, private: bool = False) -> str:
    """A session in the owner's workspace; returns its id."""
    store = live.ctx.store
    [workspace] = await store.directory.list_workspaces(live.ctx.owner.user_id)
    session = await store.sessions.create(workspace.id, live.ctx.owner.user_id, private=private)
    return session.id


async def new_member(live: LiveServer, name: str, role: Role) -> str:
    """A user with ``role`` in the owner's workspace; returns their token."""
    store = live.ctx.store
    [workspace] = await store.directory.list_workspaces(live.ctx.owner.user_id)
    user = await store.accounts.create_user(name)
    await store.directory.set_member(workspace.id, user.id, role)
    return (await AccountService(store).issue_token(user.id, label="test")).token


def notes_url(live: LiveServer, session_id: str) -> str:
    return f"{live.ws_url}/sync/session/{session_id}/notes"
