"""Checking what people type when they prompt or rename a session.

What they choose when they start one is a :class:`~trace_sync.contract.session_spec.SessionSpec`,
checked where it is made.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from trace_sync.auth.principal import Principal
from trace_sync.contract import session_spec
from trace_sync.contract.errors import InvalidInput
from trace_sync.contract.session_spec import MAX_PROMPT
from trace_sync.docs.entries import PromptEntry
from trace_sync.store.ids import new_id

PromptMode = Literal["queue", "interrupt"]


def new_prompt(actor: Principal, text: str, mode: PromptMode = "queue") -> PromptEntry:
    if not text.strip():
        raise InvalidInput("a prompt cannot be empty")
    if len(text) > MAX_PROMPT:
        raise InvalidInput(f"a prompt is at most {MAX_PROMPT} characters")
    return PromptEntry(
        id=new_id("p"), text=text, author_id=actor.user_id, at=datetime.now(UTC), mode=mode
    )


def clean_title(title: str) -> str:
    try:
        return session_spec.clean_title(title)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc


def title_from(prompt: str | None) -> str | None:
    first = next((line.strip() for line in (prompt or "").splitlines() if line.strip()), None)
    return None if first is None else first[:80]


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-") or "session"
