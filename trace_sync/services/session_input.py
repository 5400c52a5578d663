"""Checking what people type when they start, prompt or rename a session."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal, get_args

from trace_sync.auth.principal import Principal
from trace_sync.docs.entries import PERMISSION_MODES, PromptEntry
from trace_sync.errors import InvalidInput
from trace_sync.store.ids import new_id

#: The coding tools a session can run (their adapters live in ``adapters/``).
Tool = Literal["claude_code", "codex", "acp", "shell"]
TOOLS: tuple[str, ...] = get_args(Tool)
MAX_TITLE = 200
MAX_PROMPT = 100_000
MAX_MODEL = 100
#: A git branch name Trace accepts (a safe subset of ``git check-ref-format``).
BRANCH = re.compile(r"^(?!.*\.\.)(?!.*//)(?!.*@\{)[A-Za-z0-9][A-Za-z0-9._/-]{0,199}(?<![./])$")
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
    title = " ".join(title.split())
    if not 0 < len(title) <= MAX_TITLE:
        raise InvalidInput(f"a title is 1-{MAX_TITLE} characters")
    return title


def title_from(prompt: str | None) -> str | None:
    first = next((line.strip() for line in (prompt or "").splitlines() if line.strip()), None)
    return None if first is None else first[:80]


def check_tool(tool: str) -> str:
    if tool not in TOOLS:
        raise InvalidInput(f"unknown tool {tool!r}; use one of {', '.join(TOOLS)}")
    return tool


def clean_model(model: str | None) -> str | None:
    if model is not None and not 0 < len(model.strip()) <= MAX_MODEL:
        raise InvalidInput(f"a model name is 1-{MAX_MODEL} characters")
    return model.strip() if model else None


def check_permission_mode(mode: str) -> str:
    if mode not in PERMISSION_MODES:
        raise InvalidInput(f"permission mode is one of {', '.join(PERMISSION_MODES)}, not {mode!r}")
    return mode


def check_branch(name: str) -> str:
    if not BRANCH.match(name) or name.endswith(".lock"):
        raise InvalidInput(f"not a usable branch name: {name!r}")
    return name


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-") or "session"
