"""Repositories connected to a workspace."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from sqlalchemy import Row, select

from trace_sync.contract.errors import NotFound
from trace_sync.store.database import Database, now, utc
from trace_sync.store.ids import new_id
from trace_sync.store.records import Repo, RepoSetup
from trace_sync.store.schema import repos


class Repos:
    """Reach it as ``store.repos``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def new_id() -> str:
        """An id to clone into before the row exists (the clone may fail)."""
        return new_id("r")

    async def add(
        self,
        workspace_id: str,
        *,
        name: str,
        source: str,
        path: str,
        default_branch: str,
        added_by: str,
        repo_id: str | None = None,
    ) -> Repo:
        """Record a repository (``Conflict`` if the workspace has one of that name)."""
        repo = Repo(
            id=repo_id or self.new_id(),
            workspace_id=workspace_id,
            name=name,
            source=source,
            path=path,
            default_branch=default_branch,
            added_by=added_by,
            added_at=now(),
        )
        async with self._db.begin() as conn:
            await conn.execute(repos.insert().values(vars(repo) | {"setup": _json(repo.setup)}))
        return repo

    async def get(self, workspace_id: str, repo_id: str) -> Repo:
        query = select(repos).where(repos.c.workspace_id == workspace_id, repos.c.id == repo_id)
        async with self._db.begin() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"no repo {repo_id} in workspace {workspace_id}")
        return _repo(row)

    async def in_workspace(self, workspace_id: str) -> list[Repo]:
        query = select(repos).where(repos.c.workspace_id == workspace_id).order_by(repos.c.name)
        async with self._db.begin() as conn:
            return [_repo(row) for row in await conn.execute(query)]

    async def set_setup(self, workspace_id: str, repo_id: str, setup: RepoSetup) -> Repo:
        query = (
            repos.update()
            .where(repos.c.workspace_id == workspace_id, repos.c.id == repo_id)
            .values(setup=_json(setup))
        )
        async with self._db.begin() as conn:
            changed = await conn.execute(query)
        if changed.rowcount == 0:
            raise NotFound(f"no repo {repo_id} in workspace {workspace_id}")
        return await self.get(workspace_id, repo_id)

    async def remove(self, workspace_id: str, repo_id: str) -> None:
        query = repos.delete().where(repos.c.workspace_id == workspace_id, repos.c.id == repo_id)
        async with self._db.begin() as conn:
            removed = await conn.execute(query)
        if removed.rowcount == 0:
            raise NotFound(f"no repo {repo_id} in workspace {workspace_id}")


def _repo(row: Row[Any]) -> Repo:
    stored = json.loads(row.setup or "{}")
    setup = RepoSetup(
        tuple(stored.get("copy_files", ())),
        stored.get("command"),
        stored.get("update_mode", "merge"),
        stored.get("forge"),
        stored.get("forge_url"),
    )
    return Repo(**{**row._asdict(), "added_at": utc(row.added_at), "setup": setup})


def _json(setup: RepoSetup) -> str:
    return json.dumps(asdict(setup))
