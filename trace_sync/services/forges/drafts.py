"""A pull request's title and body drafted from the session: its prompt, what the
tool said last (a summary of the transcript), its checkpoints and changed files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pycrdt import Doc

from trace_sync.docs import entries as e
from trace_sync.docs import typed
from trace_sync.docs.layouts import SESSION, SESSION_IO

#: Bounds that keep a body readable (forges take far more).
MAX_PROMPT = 2000
MAX_SUMMARY = 3000
MAX_LISTED = 50


@dataclass(frozen=True)
class Draft:
    title: str
    body: str


def draft(session: Doc[Any], io: Doc[Any], sid: str) -> Draft:
    meta = typed.root_of(session, SESSION, "meta")
    prompts = [
        p for p in typed.read_array(session, SESSION, "prompts") if isinstance(p, e.PromptEntry)
    ]
    title = str(meta.get("title") or "") or (prompts[0].text.splitlines()[0] if prompts else "")
    sections = [
        ("Prompt", _quoted(prompts[0].text[:MAX_PROMPT]) if prompts else ""),
        ("Summary", _summary(io)),
        ("Checkpoints", _checkpoints(session)),
        ("Changed files", _files(io)),
    ]
    body = "\n\n".join(f"## {name}\n\n{text}" for name, text in sections if text)
    return Draft(title[:200] or f"Trace session {sid}", f"{body}\n\n---\nTrace-Session: {sid}\n")


def _summary(io: Doc[Any]) -> str:
    """The tool's last complete message: what it says it did."""
    said = [
        entry.text
        for entry in typed.read_array(io, SESSION_IO, "transcript")
        if isinstance(entry, e.AssistantText) and not entry.streaming and entry.text.strip()
    ]
    return said[-1].strip()[:MAX_SUMMARY] if said else ""


def _checkpoints(session: Doc[Any]) -> str:
    made = [
        c for c in typed.read_array(session, SESSION, "checkpoints") if isinstance(c, e.Checkpoint)
    ]
    return "\n".join(
        f"- #{c.n} {c.label or 'checkpoint'} ({c.commit[:10]})" for c in made[-MAX_LISTED:]
    )


def _files(io: Doc[Any]) -> str:
    changes = [
        f for f in typed.read_map(io, SESSION_IO, "files").values() if isinstance(f, e.FileChange)
    ]
    lines = [
        f"- `{f.path}` {f.status} (+{f.added} -{f.removed})" for f in sorted(changes, key=_path)
    ]
    more = len(lines) - MAX_LISTED
    return "\n".join(lines[:MAX_LISTED] + ([f"- and {more} more"] if more > 0 else []))


def _path(change: e.FileChange) -> str:
    return change.path


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" for line in text.splitlines())
