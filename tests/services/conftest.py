"""Services on a real store (SQLite and PostgreSQL) with real sync rooms as their documents.

``team`` is a workspace with one principal per role plus an outsider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.git import make_repo
from trace_sync.auth.authenticator import Authenticator
from trace_sync.auth.principal import Principal
from trace_sync.metrics import Metrics
from trace_sync.services.accounts import AccountService
from trace_sync.services.repos import RepoService
from trace_sync.services.sessions import SessionService
from trace_sync.services.workspaces import WorkspaceService
from trace_sync.store import Store
from trace_sync.store.records import Repo, Role
from trace_sync.sync.rooms import Rooms


@dataclass
class Services:
    store: Store
    rooms: Rooms
    accounts: AccountService
    workspaces: WorkspaceService
    repos: RepoService
    sessions: SessionService


@dataclass
class Team:
    workspace_id: str
    owner: Principal
    admin: Principal
    member: Principal
    viewer: Principal
    outsider: Principal
    repo: Repo


@pytest.fixture
async def services(store: Store, tmp_path: Path) -> AsyncIterator[Services]:
    async with Rooms(store.updates, Metrics(), grace_s=60) as rooms:
        accounts = AccountService(store)
        yield Services(
            store,
            rooms,
            accounts,
            WorkspaceService(store, rooms, accounts),
            RepoService(store, rooms, tmp_path / "data"),
            SessionService(store, rooms),
        )


async def principal(services: Services, name: str, *, instance_admin: bool = False) -> Principal:
    user = await services.store.accounts.create_user(name, instance_admin=instance_admin)
    issued = await services.accounts.issue_token(user.id, "test")
    return await Authenticator(services.store.accounts).authenticate(issued.token)


@pytest.fixture
async def team(services: Services, tmp_path: Path) -> Team:
    owner = await principal(services, "olga", instance_admin=True)
    workspace = await services.workspaces.create(owner, "Team")
    people = {}
    for name, role in [("adam", Role.ADMIN), ("mia", Role.MEMBER), ("vic", Role.VIEWER)]:
        added = await services.workspaces.add_member(owner, workspace.id, name, role)
        assert added.token is not None
        people[role] = await Authenticator(services.store.accounts).authenticate(added.token)
    outsider = await principal(services, "otto")
    checkout = make_repo(tmp_path / "app", branch="main")
    repo = await services.repos.add(owner, workspace.id, str(checkout))
    return Team(
        workspace.id,
        owner,
        people[Role.ADMIN],
        people[Role.MEMBER],
        people[Role.VIEWER],
        outsider,
        repo,
    )
