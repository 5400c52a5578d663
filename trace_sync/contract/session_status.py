"""A session's statuses, as the API, the documents and every client spell them."""

from __future__ import annotations

from enum import StrEnum


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
    #: A run cut off by a restart of its bridge; ``reason`` says what was cut off.
    INTERRUPTED = "interrupted"
    ARCHIVED = "archived"
