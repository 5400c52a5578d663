"""Plain records the store reads and writes (no SQLAlchemy types leak out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    """A member's role in a workspace, strongest first."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"

    @property
    def can_write(self) -> bool:
        return self is not Role.VIEWER

    @property
    def is_admin(self) -> bool:
        return self in (Role.OWNER, Role.ADMIN)


class TokenKind(StrEnum):
    USER = "user"  # acts as its user
    RUNTIME = "runtime"  # a bridge: writes io/log documents of sessions assigned to its runtime


@dataclass(frozen=True)
class User:
    id: str
    name: str
    created_at: datetime


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
