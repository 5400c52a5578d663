"""Request and response bodies of the accounts and workspaces API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from trace_sync.api.pages import Page
from trace_sync.store.records import Role, TokenKind


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UserOut(Model):
    id: str
    name: str
    created_at: datetime


class MemberOut(Model):
    user: UserOut
    role: Role


class WorkspaceOut(Model):
    id: str
    name: str
    role: Role


class MeOut(Model):
    user: UserOut
    token_id: str
    workspaces: list[WorkspaceOut]
    #: Whether you may connect server directories, create accounts and revoke any token.
    instance_admin: bool = False


class AddMemberIn(Model):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Role = Role.MEMBER
    #: Make the new account an instance admin too.
    instance_admin: bool = False


class NewMemberOut(Model):
    user: UserOut
    role: Role
    #: The new account's first token (shown once).
    token: str


class InvitationIn(Model):
    role: Role = Role.MEMBER


class InvitationOut(Model):
    #: Give it to the person you invite; they run ``trace workspace join CODE``.
    code: str
    workspace_id: str
    role: Role
    expires_at: datetime


class TokenOut(Model):
    id: str
    kind: TokenKind
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class SignInLinkOut(Model):
    url: str


class TokenPage(Page[TokenOut]):
    pass


class MemberPage(Page[MemberOut]):
    pass


class WorkspacePage(Page[WorkspaceOut]):
    pass


class WorkspaceIn(Model):
    name: str = Field(min_length=1, max_length=200)


class RoleIn(Model):
    role: Role
