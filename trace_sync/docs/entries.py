"""Entry models: the shape of every value stored in a document root.

Entries are plain JSON objects inside Yjs Maps and Arrays, so any Yjs client
reads them without Trace code. Unknown fields are kept (``extra="allow"``):
an older server or client never drops what a newer one wrote.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Entry(BaseModel):
    model_config = ConfigDict(extra="allow")


class SessionStatus(StrEnum):
    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    WAITING_INPUT = "waiting_input"
    WAITING_APPROVAL = "waiting_approval"
    IDLE = "idle"
    PAUSED = "paused"
    STOPPED = "stopped"
    FAILED = "failed"
    ARCHIVED = "archived"


# -- workspace/<wid> ---------------------------------------------------------


class WorkspaceMeta(Entry):
    id: str
    name: str


class MemberEntry(Entry):
    name: str
    role: Literal["owner", "admin", "member", "viewer"]


class RepoEntry(Entry):
    id: str
    name: str
    source: str = Field(description="local path or remote URL")
    path: str = Field(description="checkout on the server host")
    default_branch: str
    added_at: datetime


class SessionSummary(Entry):
    title: str
    status: SessionStatus
    tool: str
    branch: str | None = None
    repo_id: str
    owner_id: str
    private: bool = False
    last_activity: datetime
    cost_usd: float = 0.0
    cost_estimated: bool = False
    needs_attention: bool = False


# -- session/<sid> -------------------------------------------------------------


class Lineage(Entry):
    session_id: str
    checkpoint: int | None = None


class SessionMeta(Entry):
    id: str
    workspace_id: str
    title: str
    tool: str
    model: str | None = None
    repo_id: str
    base_branch: str
    branch: str | None = None
    status: SessionStatus
    location: Literal["local", "cloud"] = "local"
    private: bool = False
    creator_id: str
    owner_id: str
    created_at: datetime
    parent: Lineage | None = None


class Desired(Entry):
    """What the services want the runtime to do; the bridge reconciles it."""

    state: Literal["running", "paused", "stopped", "archived"]
    generation: int = 0


class PromptEntry(Entry):
    id: str
    text: str
    author_id: str
    at: datetime
    mode: Literal["queue", "interrupt"] = "queue"


class TimelineEvent(Entry):
    id: str
    at: datetime
    actor_id: str
    kind: str
    payload: dict[str, Any] = Field(default_factory=dict)


class Usage(Entry):
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    estimated: bool = False


# -- session/<sid>/notes -----------------------------------------------------


class ReviewComment(Entry):
    id: str
    author_id: str
    path: str
    line: int
    text: str
    at: datetime
    resolved: bool = False


# -- session/<sid>/io (written by the runtime; validated by the server) --------


class TranscriptEntry(Entry):
    """One transcript item. ``kind`` says which fields follow: user_prompt,
    assistant_text, thinking, tool_call, tool_result, file_change, question,
    plan, usage, error, or raw (an unknown tool event kept verbatim)."""

    id: str
    kind: str
    at: datetime


class FileChange(Entry):
    path: str
    status: Literal["added", "modified", "deleted", "renamed", "untracked"]
    old_path: str | None = None
    added: int = 0
    removed: int = 0
    binary: bool = False
    diff: str | None = Field(default=None, description="unified diff; absent when summarized")
    summary: str | None = None


class ApprovalRequest(Entry):
    id: str
    tool: str
    title: str
    input: dict[str, Any] = Field(default_factory=dict)
    at: datetime


class RuntimeState(Entry):
    runtime_id: str | None = None
    state: str = "none"
    heartbeat_at: datetime | None = None
