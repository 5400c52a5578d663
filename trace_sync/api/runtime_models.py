"""Request and response bodies of the runtimes, grants, terminals and worktree API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from trace_sync.api.models import Model
from trace_sync.api.pages import Page
from trace_sync.services.bridges.runtime_index import tools_of
from trace_sync.store.records import Capability, Grant, GrantState, RuntimeRecord

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Cells = Annotated[int, Field(ge=1, le=1000)]


class RegisterRuntimeIn(Model):
    #: A stable id the bridge keeps in its data dir (registering again finds the same runtime).
    instance_id: Id
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["desktop", "sandbox", "docker"] = "desktop"


class ToolOut(Model):
    name: str
    available: bool
    version: str | None = None


class RuntimeOut(Model):
    id: str
    name: str
    kind: str
    owner_id: str
    version: str
    online: bool
    created_at: datetime
    last_seen_at: datetime | None
    tools: list[ToolOut]


class RegisteredOut(Model):
    runtime_id: str
    #: The runtime token: shown once; earlier tokens of this runtime are revoked.
    token: str
    runtime: RuntimeOut


class PlaceIn(Model):
    runtime_id: Id


class PlacedOut(Model):
    session_id: str
    runtime_id: str | None


class GrantIn(Model):
    capabilities: list[Capability] = Field(min_length=1, max_length=2)
    session_id: Id | None = None
    expires_at: AwareDatetime | None = None


class GrantOut(Model):
    id: str
    runtime_id: str
    grantee_id: str
    capabilities: list[Capability]
    session_id: str | None
    expires_at: datetime | None
    state: GrantState
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None


class RuntimePage(Page[RuntimeOut]):
    pass


class GrantPage(Page[GrantOut]):
    pass


class TerminalIn(Model):
    cols: Cells = 80
    rows: Cells = 24


class TerminalOut(Model):
    terminal_id: str
    session_id: str
    runtime_id: str


class TerminalInputIn(Model):
    data: str = Field(min_length=1, max_length=64 * 1024)


class TerminalResizeIn(Model):
    cols: Cells
    rows: Cells


class CheckpointIn(Model):
    label: str = Field(default="", max_length=200)


class MergeIn(Model):
    strategy: Literal["merge", "squash", "rebase"] = Field(
        "merge", description="a merge commit, one squashed commit, or the commits replayed"
    )


class UpdateIn(Model):
    mode: Literal["merge", "rebase"] | None = Field(
        None, description="how the base comes in (default: the repo's update_mode)"
    )
    hand_off: bool = Field(
        False, description="on conflicts, leave them in the worktree and ask the tool to resolve"
    )


class FileIn(Model):
    content: str


def runtime_out(runtime: RuntimeRecord, online: bool) -> RuntimeOut:
    tools = [
        ToolOut(name=t.name, available=t.available, version=t.version) for t in tools_of(runtime)
    ]
    return RuntimeOut(
        id=runtime.id,
        name=runtime.name,
        kind=runtime.kind,
        owner_id=runtime.owner_id,
        version=runtime.version,
        online=online,
        created_at=runtime.created_at,
        last_seen_at=runtime.last_seen_at,
        tools=tools,
    )


def grant_out(grant: Grant) -> GrantOut:
    return GrantOut(
        id=grant.id,
        runtime_id=grant.runtime_id,
        grantee_id=grant.grantee_id,
        capabilities=sorted(grant.capabilities),
        session_id=grant.session_id,
        expires_at=grant.expires_at,
        state=grant.state,
        created_at=grant.created_at,
        decided_at=grant.decided_at,
        decided_by=grant.decided_by,
    )


class PreviewIn(Model):
    port: int = Field(ge=1, le=65535, description="the port the session's dev server listens on")


class PreviewOut(Model):
    port: int
    url: str = Field(description="your own link: it admits you until expires_at")
    expires_at: AwareDatetime
    declared_by: str


class PreviewPortsOut(Model):
    ports: list[int] = Field(description="ports the session's processes listen on now")
