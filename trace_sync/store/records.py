"""Plain records the store reads and writes (no SQLAlchemy types leak out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from trace_sync.contract.roles import Role
from trace_sync.contract.session_spec import SessionSpec
from trace_sync.contract.tools import Location, PermissionMode, Tool

__all__ = ["Role"]  # re-exported: the store's records speak the contract's roles


class TokenKind(StrEnum):
    USER = "user"  # acts as its user
    RUNTIME = "runtime"  # a bridge: writes io/log documents of sessions assigned to its runtime


@dataclass(frozen=True)
class User:
    id: str
    name: str
    created_at: datetime
    #: May touch the server's own disk (connect local paths), create accounts,
    #: revoke anyone's tokens and, by default, create workspaces.
    instance_admin: bool = False


@dataclass(frozen=True)
class TokenRecord:
    id: str
    user_id: str
    kind: TokenKind
    label: str
    runtime_id: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class Member:
    workspace_id: str
    user_id: str
    role: Role


@dataclass(frozen=True)
class SessionAccess:
    """What the permission policy needs to know about a session."""

    session_id: str
    workspace_id: str
    creator_id: str
    private: bool
    runtime_id: str | None
    #: Who holds the session now (after a hand-off, not its creator).
    owner_id: str | None = None


@dataclass(frozen=True)
class RepoSetup:
    """What a new worktree of the repo gets before its tool starts."""

    #: Globs of git-ignored files copied from the checkout (``.env``, ``config/*.local``).
    copy_files: tuple[str, ...] = ()
    #: A shell command run in the new worktree (``npm ci``).
    command: str | None = None
    #: How a session branch takes in its base on update: ``merge`` or ``rebase``.
    update_mode: str = "merge"
    #: The forge its remote is on, when not known by its host (github, gitlab, gitea),
    #: and that forge's API root when not the usual one.
    forge: str | None = None
    forge_url: str | None = None


@dataclass(frozen=True)
class Repo:
    id: str
    workspace_id: str
    name: str
    #: What the person gave: a local path or a remote URL.
    source: str
    #: The checkout on the server's host that worktrees are made from.
    path: str
    default_branch: str
    added_by: str
    added_at: datetime
    setup: RepoSetup = RepoSetup()


@dataclass(frozen=True)
class SessionRow:
    """A session's facts: who may see it, what it runs, where it stands."""

    id: str
    workspace_id: str
    creator_id: str
    owner_id: str
    private: bool
    runtime_id: str | None
    title: str
    tool: Tool
    model: str | None
    repo_id: str | None
    base_branch: str | None
    branch: str | None
    status: str
    location: Location
    parent_id: str | None
    parent_checkpoint: int | None
    created_at: datetime
    last_activity_at: datetime
    cost_usd: float
    #: True when ``cost_usd`` was computed from token counts, not reported by the tool.
    cost_estimated: bool = False
    #: How the tool asks for permission: ask, accept_edits or bypass.
    permission_mode: PermissionMode = "ask"
    #: The hosting runtime's last heartbeat and what the session's processes use
    #: (rolled up from its io document, a few times a minute at most).
    heartbeat_at: datetime | None = None
    cpu_percent: float | None = None
    memory_bytes: int | None = None
    disk_bytes: int | None = None
    #: Why the session failed (its runtime's error, or how its run was cut off).
    reason: str | None = None
    #: Lines added and removed in the session's changed files (against its base branch).
    lines_added: int = 0
    lines_removed: int = 0
    #: Input and output tokens the tool reported so far (what token budgets count).
    tokens: int = 0
    #: The session's pull request as its forge last said: number, state (open,
    #: merged, closed) and its checks in one word (success, failure, pending).
    pr_number: int | None = None
    pr_state: str | None = None
    pr_checks: str | None = None

    @property
    def spec(self) -> SessionSpec:
        """What the session was started with, defaults resolved (the prompt is in its queue).

        Built from the stored values without checking them again: they were
        checked when the session was made."""
        return SessionSpec.model_construct(
            repo_id=self.repo_id,
            tool=self.tool,
            base_branch=self.base_branch,
            model=self.model,
            permission_mode=self.permission_mode,
            title=self.title or None,
            private=self.private,
            location=self.location,
            prompt=None,
        )

    @property
    def access(self) -> SessionAccess:
        return SessionAccess(
            self.id,
            self.workspace_id,
            self.creator_id,
            self.private,
            self.runtime_id,
            self.owner_id,
        )


@dataclass(frozen=True)
class StoredReply:
    """The answer once given to a command with an idempotency key."""

    fingerprint: str
    status: int | None  # None while the first request is still running
    body: bytes


class Capability(StrEnum):
    """What a grant lets someone do on another person's runtime."""

    SESSION = "session"  # run sessions on it
    TERMINAL = "terminal"  # type into its sessions' terminals


class GrantState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True)
class RuntimeRecord:
    """A bridge instance of one user (desktop) or one session (sandbox, docker)."""

    id: str
    owner_id: str
    instance_id: str
    name: str
    kind: str
    version: str
    #: What the bridge said about itself in its last hello (tools found).
    capabilities: dict[str, Any]
    created_at: datetime
    last_seen_at: datetime | None


@dataclass(frozen=True)
class Grant:
    id: str
    runtime_id: str
    grantee_id: str
    capabilities: frozenset[Capability]
    #: The one session it covers; None for every session on the runtime.
    session_id: str | None
    expires_at: datetime | None
    state: GrantState
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None

    def allows(self, capability: Capability, session_id: str | None, at: datetime) -> bool:
        """True if approved, unexpired at ``at``, and covering ``capability`` for ``session_id``."""
        return (
            self.state is GrantState.APPROVED
            and capability in self.capabilities
            and (self.session_id is None or self.session_id == session_id)
            and (self.expires_at is None or at < self.expires_at)
        )


@dataclass(frozen=True)
class Invitation:
    """An offer to join a workspace with a role, good once until it expires."""

    id: str
    workspace_id: str
    role: Role
    created_by: str
    created_at: datetime
    expires_at: datetime
    accepted_by: str | None = None
