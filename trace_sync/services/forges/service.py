"""Pull (merge) requests of sessions: opened with a draft from the session, kept
in ``session/<sid>`` ``pull_request`` as the forge says, merged when it allows.

The forge's token is the workspace secret ``forge_token:<host>`` (else
``forge_token``), read only here, at the moment of a call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from trace_sync.auth.principal import Principal
from trace_sync.contract.errors import Conflict, InvalidInput, NotFound
from trace_sync.docs import typed
from trace_sync.docs.entries import PullRequestEntry
from trace_sync.docs.layouts import SESSION
from trace_sync.services import git_repos
from trace_sync.services.access import require_writer, visible_session
from trace_sync.services.bridges.worktrees import WorktreeService
from trace_sync.services.documents import SERVICES, Documents, event, session_doc
from trace_sync.services.forges.drafts import draft
from trace_sync.services.forges.forge import Forge, Place, PullRequest, load_forge
from trace_sync.services.forges.places import host_and_project, place_of
from trace_sync.services.secrets import SecretService
from trace_sync.store import Store
from trace_sync.store.records import SessionRow

TOKEN_SECRET = "forge_token"
#: Where a pull request's number and state go besides its document: the session's
#: row and the workspace index (the session service's ``report_pull_request``).
Report = Callable[[str, PullRequestEntry], Awaitable[object]]
METHODS = ("merge", "squash", "rebase")


class ForgeService:
    def __init__(
        self,
        store: Store,
        documents: Documents,
        worktrees: WorktreeService,
        secrets: SecretService,
        report: Report | None = None,
    ) -> None:
        self._store = store
        self._report = report
        self._secrets = secrets
        self._documents = documents
        self._worktrees = worktrees

    async def open(
        self, actor: Principal, session_id: str, title: str | None = None, body: str | None = None
    ) -> PullRequestEntry:
        """Push the session's branch, then open its pull request (a draft from the
        session fills what is not given)."""
        session = await self._writable(actor, session_id, "opening a pull request")
        if await self._entry(session.id) is not None:
            raise Conflict(f"session {session.id} already has a pull request")
        place, base, host = await self._place(session)
        await self._worktrees.push(actor, session.id)
        drafted = await self._draft(session.id)
        async with self._forge(session, place, host) as forge:
            made = await forge.open(
                str(session.branch), base, title or drafted.title, body or drafted.body
            )
        entry = await self._keep(session, place, made, base)
        await self._note(session, actor, "pull_request.opened", number=made.number, url=made.url)
        return entry

    async def show(self, actor: Principal, session_id: str) -> PullRequestEntry:
        """The pull request as its forge has it now (state, reviews, checks)."""
        session, _ = await visible_session(self._store, session_id, actor)
        kept = await self._held(session)
        place, _, host = await self._place(session)
        async with self._forge(session, place, host) as forge:
            found = await forge.get(kept.number)
        return await self._keep(session, place, found, kept.base)

    async def merge(
        self, actor: Principal, session_id: str, method: str = "merge"
    ) -> PullRequestEntry:
        """Merge it on the forge (refused, with the forge's reason, when it may not be)."""
        if method not in METHODS:
            raise InvalidInput(f"a merge method is one of {', '.join(METHODS)}")
        session = await self._writable(actor, session_id, "merging a pull request")
        kept = await self._held(session)
        place, _, host = await self._place(session)
        async with self._forge(session, place, host) as forge:
            merged = await forge.merge(kept.number, method)  # type: ignore[arg-type]
        entry = await self._keep(session, place, merged, kept.base)
        await self._note(session, actor, "pull_request.merged", number=kept.number, method=method)
        return entry

    async def _writable(self, actor: Principal, session_id: str, doing: str) -> SessionRow:
        session, role = await visible_session(self._store, session_id, actor)
        require_writer(role, doing)
        return session

    async def _place(self, session: SessionRow) -> tuple[Place, str, str]:
        """The forge, the base branch, and the remote's host (which names the token)."""
        if session.repo_id is None or session.branch is None:
            raise Conflict(f"session {session.id} has no repo branch")
        repo = await self._store.repos.get(session.workspace_id, session.repo_id)
        url = await asyncio.to_thread(git_repos.push_url, Path(repo.path))
        if url is None:
            raise Conflict(f"the repo {repo.name} has no remote")
        place = place_of(url, repo.setup.forge, repo.setup.forge_url)
        return place, session.base_branch or repo.default_branch, host_and_project(url)[0]

    def _forge(self, session: SessionRow, place: Place, host: str) -> _Connection:
        return _Connection(self._secrets, session.workspace_id, place, host)

    async def _draft(self, session_id: str) -> Any:
        name = session_doc(session_id)
        async with (
            self._documents.document(name) as doc,
            self._documents.document(f"{name}/io") as io,
        ):
            return draft(doc, io, session_id)

    async def _entry(self, session_id: str) -> PullRequestEntry | None:
        async with self._documents.document(session_doc(session_id)) as doc:
            found = typed.read_fields(doc, SESSION, "pull_request", PullRequestEntry)
        return found if isinstance(found, PullRequestEntry) else None

    async def _held(self, session: SessionRow) -> PullRequestEntry:
        kept = await self._entry(session.id)
        if kept is None:
            raise NotFound(f"session {session.id} has no pull request")
        return kept

    async def _keep(
        self, session: SessionRow, place: Place, pr: PullRequest, base: str
    ) -> PullRequestEntry:
        fields = asdict(pr)
        fields.pop("head_sha")
        entry = PullRequestEntry(
            forge=place.kind,
            head=str(session.branch),
            base=base,
            checked_at=datetime.now(UTC).replace(microsecond=0),
            **fields,
        )
        async with self._documents.document(session_doc(session.id)) as doc:
            typed.put_fields(doc, SESSION, "pull_request", entry, origin=SERVICES)
        if self._report is not None:
            await self._report(session.id, entry)
        return entry

    async def _note(self, session: SessionRow, actor: Principal, kind: str, **payload: Any) -> None:
        async with self._documents.document(session_doc(session.id)) as doc:
            change = event(actor.user_id, kind, **payload)
            typed.append(doc, SESSION, "timeline", change, origin=SERVICES)


class _Connection:
    """A forge adapter with its token and an HTTP client, for one ``async with``."""

    def __init__(self, secrets: SecretService, workspace_id: str, place: Place, host: str) -> None:
        self._secrets = secrets
        self._workspace_id = workspace_id
        self._place = place
        self._host = host
        self._http = httpx.AsyncClient(follow_redirects=False)

    async def __aenter__(self) -> Forge:
        token = await self._token(self._host)
        return load_forge(self._place, token, self._http)

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def _token(self, host: str) -> str:
        try:
            return await self._secrets.value(self._workspace_id, f"{TOKEN_SECRET}:{host}")
        except NotFound:
            return await self._secrets.value(self._workspace_id, TOKEN_SECRET)
