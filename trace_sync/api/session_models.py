"""Request and response bodies of the repos, sessions and search API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from trace_sync.api.models import Model
from trace_sync.api.pages import Page, PageQuery
from trace_sync.contract.session_spec import MAX_PROMPT, MAX_TITLE, SessionSpec
from trace_sync.contract.session_status import SessionStatus
from trace_sync.contract.tools import Location, PermissionMode, Tool
from trace_sync.store.records import Repo, SessionRow


class RepoIn(Model):
    source: str = Field(
        min_length=1, max_length=2048, description="a directory on the server's host or a git URL"
    )
    name: str | None = Field(None, min_length=1, max_length=100)


class RepoSetupBody(Model):
    """What each new worktree of the repo gets before its tool starts."""

    copy_files: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="globs of git-ignored files copied from the checkout (.env)",
    )
    command: str | None = Field(None, max_length=4096, description="run in the new worktree")
    update_mode: Literal["merge", "rebase"] = Field(
        "merge", description="how `session update` takes in the base branch"
    )
    forge: Literal["github", "gitlab", "gitea"] | None = Field(
        None, description="the forge of a self-hosted remote (well-known hosts are recognised)"
    )
    forge_url: str | None = Field(
        None,
        max_length=2048,
        pattern=r"^https?://[^\s]+$",
        description="the forge's API root, when not the host's usual one",
    )


class RepoOut(Model):
    id: str
    workspace_id: str
    name: str
    source: str
    path: str
    default_branch: str
    added_by: str
    added_at: datetime
    setup: RepoSetupBody

    @classmethod
    def of(cls, repo: Repo) -> RepoOut:
        setup = RepoSetupBody(
            copy_files=list(repo.setup.copy_files),
            command=repo.setup.command,
            update_mode=repo.setup.update_mode,  # type: ignore[arg-type]
            forge=repo.setup.forge,  # type: ignore[arg-type]
            forge_url=repo.setup.forge_url,
        )
        return cls(**vars(repo) | {"setup": setup})


class RepoPage(Page[RepoOut]):
    pass


class SessionDocuments(Model):
    """The documents of a session, to open at ``/sync/<name>``."""

    session: str
    io: str
    notes: str


class SessionOut(Model):
    id: str
    workspace_id: str
    title: str
    status: SessionStatus
    tool: Tool
    model: str | None
    repo_id: str | None
    base_branch: str | None
    branch: str | None
    location: Location
    private: bool
    creator_id: str
    owner_id: str
    runtime_id: str | None
    parent_id: str | None
    parent_checkpoint: int | None
    created_at: datetime
    last_activity_at: datetime
    cost_usd: float
    cost_estimated: bool
    needs_attention: bool
    permission_mode: PermissionMode
    heartbeat_at: datetime | None = Field(None, description="the hosting runtime's last heartbeat")
    cpu_percent: float | None = Field(None, description="CPU of the session's processes")
    memory_bytes: int | None = Field(None, description="resident memory of its processes")
    disk_bytes: int | None = Field(None, description="disk its worktree takes")
    reason: str | None = Field(
        None, description="why the session failed, was interrupted or paused itself; null otherwise"
    )
    lines_added: int = Field(0, description="lines added in its changed files")
    lines_removed: int = Field(0, description="lines removed in its changed files")
    tokens: int = Field(0, description="input and output tokens the tool reported so far")
    pr_number: int | None = Field(None, description="its pull request's number, if it has one")
    pr_state: str | None = Field(None, description="open, merged or closed, as the forge last said")
    pr_checks: str | None = Field(
        None, description="its pull request's checks in one word: success, failure or pending"
    )
    documents: SessionDocuments
    sync_path: str = Field("/sync", description="websocket path the documents sync at")

    @classmethod
    def of(cls, row: SessionRow) -> SessionOut:
        status = SessionStatus(row.status)
        waiting = status in (SessionStatus.WAITING_APPROVAL, SessionStatus.WAITING_INPUT)
        name = f"session/{row.id}"
        documents = SessionDocuments(session=name, io=f"{name}/io", notes=f"{name}/notes")
        return cls(**vars(row) | {"needs_attention": waiting, "documents": documents})


class Removed(Model):
    """What deleting a session removed on its bridge."""

    state: Literal["done", "pending", "nothing to remove"] = Field(
        description="done: removed now; pending: when its bridge reconnects"
    )
    why: str | None = None
    worktree: bool | None = Field(None, description="a worktree directory was removed")
    checkpoints: int | None = Field(None, description="checkpoint refs removed")
    branch: str | None = Field(
        None, description="deleted, 'kept: pushed', 'kept: merged' or none (there was none)"
    )


class SessionDeleted(Model):
    id: str
    deleted: bool = True
    removed: Removed


class SessionPage(Page[SessionOut]):
    pass


class SessionQuery(PageQuery):
    status: list[SessionStatus] = Field(default_factory=list)


class StartSessionIn(SessionSpec):
    """A :class:`SessionSpec`: what to run, where and how (``permission_mode`` ask: every
    permission goes to a person; bypass: none, explicitly)."""

    repo_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class TitleIn(Model):
    title: str = Field(min_length=1, max_length=MAX_TITLE)


class PromptIn(Model):
    text: str = Field(min_length=1, max_length=MAX_PROMPT)
    mode: Literal["queue", "interrupt"] = "queue"


class PromptOut(Model):
    id: str
    text: str
    author_id: str
    at: datetime
    mode: Literal["queue", "interrupt"]


class ForkIn(Model):
    """The parent's spec is the fork's; these fields, when given, replace its own."""

    checkpoint: int | None = Field(None, ge=0)
    title: str | None = Field(None, max_length=MAX_TITLE)
    prompt: str | None = Field(None, max_length=MAX_PROMPT)
    model: str | None = Field(None, max_length=100)
    permission_mode: PermissionMode | None = None


class HandoffIn(Model):
    owner_id: str = Field(min_length=1, max_length=64)


class TimelineEventOut(Model):
    id: str
    at: datetime
    actor_id: str
    kind: str
    payload: dict[str, Any]


class TimelinePage(Page[TimelineEventOut]):
    pass


class SearchQuery(PageQuery):
    q: str = Field(min_length=1, max_length=200)
    limit: int = Field(20, ge=1, le=100)


class SearchHitOut(Model):
    session: SessionOut
    #: Where it matched: title, prompt or transcript.
    kind: str
    #: The matching text with the matched words in [brackets].
    snippet: str


class SearchPage(Page[SearchHitOut]):
    pass
