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


class AddMemberIn(Model):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Role = Role.MEMBER


class NewMemberOut(Model):
    user: UserOut
    role: Role
    #: The first token of a user this request created; None for an existing user.
    token: str | None


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
