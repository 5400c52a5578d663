"""Workspace roles, strongest first: what a member may do is decided from these."""

from __future__ import annotations

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
