"""Repositories a workspace's sessions run on: local checkouts or clones."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path, PurePosixPath

from trace_sync.auth.principal import Principal
from trace_sync.contract.errors import Conflict, Forbidden, InvalidInput
from trace_sync.contract.repo_urls import kind_of
from trace_sync.docs import typed
from trace_sync.docs.entries import RepoEntry
from trace_sync.docs.layouts import WORKSPACE
from trace_sync.services import git_repos
from trace_sync.services.access import require_admin, require_writer, role_in
from trace_sync.services.documents import SERVICES, Documents, event, workspace_doc
from trace_sync.store import Store
from trace_sync.store.records import Repo, RepoSetup

MAX_SOURCE = 2048
MAX_NAME = 100
#: The one answer for anyone who may not read the server's disk, whatever the
#: path: telling "no directory" from "not a git repository" would map the host.
LOCAL_PATHS_REFUSED = (
    "connecting a directory on the server is for instance admins of this server;"
    " connect a git URL instead (https://, http://, git://, ssh:// or user@host:path)"
)


class RepoService:
    def __init__(self, store: Store, documents: Documents, data_dir: Path) -> None:
        self._store = store
        self._documents = documents
        self._clones = data_dir / "repos"

    async def add(
        self, actor: Principal, workspace_id: str, source: str, name: str | None = None
    ) -> Repo:
        """Connect a checkout on the server's host (instance admins only: it
        reads the host's disk) or clone a remote URL into the data dir (any writer)."""
        source = source.strip()
        if not 0 < len(source) <= MAX_SOURCE:
            raise InvalidInput(f"a repo source is 1-{MAX_SOURCE} characters")
        role = await role_in(self._store, workspace_id, actor)
        require_writer(role, "adding a repo")
        repo_id = self._store.repos.new_id()
        if kind_of(source) == "remote":
            info = await self._clone(source, repo_id)
        else:
            if not (await self._store.accounts.get_user(actor.user_id)).instance_admin:
                raise Forbidden(LOCAL_PATHS_REFUSED)
            require_admin(role, "connecting a directory of the server's host")
            info = await self._from_server_disk(source, repo_id)
        repo = await self._record(actor, workspace_id, repo_id, source, name or info.name, info)
        async with self._documents.document(workspace_doc(workspace_id)) as doc:
            with doc.transaction(origin=SERVICES):
                typed.put(doc, WORKSPACE, "repos", repo.id, _entry(repo), origin=SERVICES)
                change = event(actor.user_id, "repo.added", repo_id=repo.id, name=repo.name)
                typed.append(doc, WORKSPACE, "timeline", change, origin=SERVICES)
        return repo

    async def in_workspace(self, actor: Principal, workspace_id: str) -> list[Repo]:
        await role_in(self._store, workspace_id, actor)
        return await self._store.repos.in_workspace(workspace_id)

    async def get(self, actor: Principal, workspace_id: str, repo_id: str) -> Repo:
        await role_in(self._store, workspace_id, actor)
        return await self._store.repos.get(workspace_id, repo_id)

    async def set_setup(
        self, actor: Principal, workspace_id: str, repo_id: str, setup: RepoSetup
    ) -> Repo:
        """What new worktrees of the repo get (admins: the command runs on runtimes)."""
        role = await role_in(self._store, workspace_id, actor)
        require_admin(role, "changing a repo's worktree setup")
        for pattern in setup.copy_files:
            if not pattern or pattern.startswith("/") or ".." in PurePosixPath(pattern).parts:
                raise InvalidInput(f"copy globs stay inside the repo: {pattern!r}")
        repo = await self._store.repos.set_setup(workspace_id, repo_id, setup)
        async with self._documents.document(workspace_doc(workspace_id)) as doc:
            change = event(actor.user_id, "repo.setup_changed", repo_id=repo_id)
            typed.append(doc, WORKSPACE, "timeline", change, origin=SERVICES)
        return repo

    async def remove(self, actor: Principal, workspace_id: str, repo_id: str) -> None:
        """Disconnect a repo no session uses (its clone, if Trace made one, goes too)."""
        role = await role_in(self._store, workspace_id, actor)
        repo = await self._store.repos.get(workspace_id, repo_id)
        if actor.user_id != repo.added_by:
            require_admin(role, "removing a repo someone else added")
        using = await self._store.sessions.count_using_repo(repo_id)
        if using:
            raise Conflict(f"{using} session(s) use {repo.name}; delete them first")
        await self._store.repos.remove(workspace_id, repo_id)
        clone = self._clones / repo_id
        if Path(repo.path) == clone:
            await asyncio.to_thread(shutil.rmtree, clone, True)
        async with self._documents.document(workspace_doc(workspace_id)) as doc:
            with doc.transaction(origin=SERVICES):
                typed.delete(doc, WORKSPACE, "repos", repo_id, origin=SERVICES)
                change = event(actor.user_id, "repo.removed", repo_id=repo_id, name=repo.name)
                typed.append(doc, WORKSPACE, "timeline", change, origin=SERVICES)

    async def _from_server_disk(self, source: str, repo_id: str) -> git_repos.RepoInfo:
        """A checkout is connected where it is; a ``file://`` URL or a bare
        repository has no working tree for worktrees to share, so it is cloned."""
        if source.lower().startswith("file://"):
            return await self._clone(source, repo_id)
        local = Path(source)
        if await asyncio.to_thread(git_repos.is_bare, local):
            return await self._clone(await asyncio.to_thread(git_repos.file_url, local), repo_id)
        return await asyncio.to_thread(git_repos.inspect_checkout, local)

    async def _clone(self, url: str, repo_id: str) -> git_repos.RepoInfo:
        destination = self._clones / repo_id
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            return await asyncio.to_thread(git_repos.clone, url, destination)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, destination, True)
            raise

    async def _record(
        self,
        actor: Principal,
        workspace_id: str,
        repo_id: str,
        source: str,
        name: str,
        info: git_repos.RepoInfo,
    ) -> Repo:
        name = name.strip()
        if not 0 < len(name) <= MAX_NAME:
            raise InvalidInput(f"repo names are 1-{MAX_NAME} characters")
        try:
            return await self._store.repos.add(
                workspace_id,
                repo_id=repo_id,
                name=name,
                source=source,
                path=str(info.path),
                default_branch=info.default_branch,
                added_by=actor.user_id,
            )
        except Conflict as exc:
            await asyncio.to_thread(shutil.rmtree, self._clones / repo_id, True)
            raise Conflict(f"this workspace already has a repo named {name!r}") from exc


def _entry(repo: Repo) -> RepoEntry:
    return RepoEntry(
        id=repo.id,
        name=repo.name,
        source=repo.source,
        path=repo.path,
        default_branch=repo.default_branch,
        added_at=repo.added_at,
    )
