"""What a session shows, read from the server's copy of its documents.

Transcript, terminal output, changed files and checkpoints are written by the
runtime into ``session/<sid>/io`` (and its sealed ``session/<sid>/log/<name>``
segments) and synced to the server; reading them here needs no bridge, so
they answer while the session's runtime is offline. Whoever may see the
session may read them (viewers too); a session one may not see is not found.

Positions are absolute: the n-th transcript entry or the n-th character of a
terminal's output since the session began, whether it is still in the live
window or already sealed into a segment, so a cursor made of a position never
repeats or skips anything when the runtime seals the window meanwhile.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trace_sync.auth.principal import Principal
from trace_sync.contract.errors import Conflict, NotFound
from trace_sync.docs import typed
from trace_sync.docs.entries import Checkpoint, FileChange, SegmentRef, TerminalInfo
from trace_sync.docs.layouts import SESSION, SESSION_IO, SESSION_LOG
from trace_sync.services import checkpoint_diffs
from trace_sync.services.access import visible_session
from trace_sync.services.documents import Documents, session_doc
from trace_sync.store import Store


@dataclass(frozen=True)
class Numbered:
    """A transcript entry (as the runtime wrote it) and its absolute position."""

    n: int
    entry: dict[str, Any]


@dataclass(frozen=True)
class Chunk:
    """A piece of a terminal's output starting at character ``offset``."""

    offset: int
    text: str
    sealed: bool


class SessionReads:
    def __init__(self, store: Store, documents: Documents) -> None:
        self._store = store
        self._documents = documents

    async def transcript(
        self, actor: Principal, session_id: str, start: int, limit: int
    ) -> tuple[list[Numbered], int]:
        """Up to ``limit`` entries from position ``start``, and the position after the last one."""
        await visible_session(self._store, session_id, actor)
        refs, window = await self._io(session_id, _transcript_window)
        found: list[Numbered] = []
        sealed_end = 0
        for ref in (r for r in refs if r.kind == "transcript"):
            sealed_end = max(sealed_end, ref.first + ref.count)
            if ref.first + ref.count <= start or len(found) >= limit:
                continue
            entries = await self._segment(session_id, ref.name)
            found += _numbered(entries, ref.first, start)
        found += _numbered(window, sealed_end, start)
        found = found[:limit]
        return found, sealed_end + len(window)

    async def terminals(self, actor: Principal, session_id: str) -> list[TerminalInfo]:
        await visible_session(self._store, session_id, actor)
        async with self._documents.document(_io(session_id)) as doc:
            found = typed.read_map(doc, SESSION_IO, "terminals").values()
        return sorted((t for t in found if isinstance(t, TerminalInfo)), key=lambda t: t.id)

    async def output(
        self, actor: Principal, session_id: str, terminal_id: str, start: int, limit: int
    ) -> tuple[list[Chunk], int]:
        """Up to ``limit`` chunks of a terminal's output from character ``start``
        (sealed segments, then the live window), and the character count so far."""
        await visible_session(self._store, session_id, actor)
        async with self._documents.document(_io(session_id)) as doc:
            info = typed.read_map(doc, SESSION_IO, "terminals").get(terminal_id)
            if not isinstance(info, TerminalInfo):
                raise NotFound(f"session {session_id} has no terminal {terminal_id}")
            window = str(typed.root_of(doc, SESSION_IO, "output").get(terminal_id) or "")
            refs = _refs(doc)
        chunks: list[Chunk] = []
        for ref in (r for r in refs if r.kind == "terminal" and r.terminal_id == terminal_id):
            if ref.first + ref.count <= start or len(chunks) >= limit:
                continue
            offset = ref.first
            for text in await self._segment(session_id, ref.name):
                chunks += _from(Chunk(offset, str(text), True), start)
                offset += len(str(text))
        chunks += _from(Chunk(info.sealed_chars, window, False), start)
        return chunks[:limit], info.sealed_chars + len(window)

    async def segments(self, actor: Principal, session_id: str) -> list[SegmentRef]:
        await visible_session(self._store, session_id, actor)
        refs, _ = await self._io(session_id, lambda doc: None)
        return refs

    async def segment(self, actor: Principal, session_id: str, name: str) -> list[Any]:
        """The entries of one sealed segment the session's ``io`` references."""
        refs = await self.segments(actor, session_id)
        if not any(r.name == name for r in refs):
            raise NotFound(f"session {session_id} has no log segment {name}")
        return await self._segment(session_id, name)

    async def files(self, actor: Principal, session_id: str) -> list[FileChange]:
        """Changed files against the base branch, as the runtime last reported them."""
        await visible_session(self._store, session_id, actor)
        async with self._documents.document(_io(session_id)) as doc:
            found = typed.read_map(doc, SESSION_IO, "files").values()
        return sorted((f for f in found if isinstance(f, FileChange)), key=lambda f: f.path)

    async def file(self, actor: Principal, session_id: str, path: str) -> FileChange:
        for change in await self.files(actor, session_id):
            if path in (change.path, change.old_path):
                return change
        raise NotFound(f"{path} has not changed in session {session_id}")

    async def checkpoints(self, actor: Principal, session_id: str) -> list[Checkpoint]:
        await visible_session(self._store, session_id, actor)
        async with self._documents.document(session_doc(session_id)) as doc:
            found = typed.read_array(doc, SESSION, "checkpoints")
        return sorted((c for c in found if isinstance(c, Checkpoint)), key=lambda c: c.n)

    async def checkpoint_diff(
        self, actor: Principal, session_id: str, n: int, path: str | None
    ) -> list[FileChange]:
        """What checkpoint ``n`` changed since the one before it (or since the
        branch it was taken on), from the repository's copy on the server."""
        session, _ = await visible_session(self._store, session_id, actor)
        made = await self.checkpoints(actor, session_id)
        mine = next((c for c in made if c.n == n), None)
        if mine is None:
            raise NotFound(f"session {session_id} has no checkpoint {n}")
        before = next((c.commit for c in reversed(made) if c.n < n), None)
        if session.repo_id is None:
            raise Conflict(f"session {session_id} has no repository")
        repo = await self._store.repos.get(session.workspace_id, session.repo_id)
        return await asyncio.to_thread(
            checkpoint_diffs.diff, Path(repo.path), mine.commit, before, path
        )

    async def _io(self, session_id: str, take: Any) -> tuple[list[SegmentRef], Any]:
        async with self._documents.document(_io(session_id)) as doc:
            return _refs(doc), take(doc)

    async def _segment(self, session_id: str, name: str) -> list[Any]:
        async with self._documents.document(f"{session_doc(session_id)}/log/{name}") as doc:
            return list(typed.root_of(doc, SESSION_LOG, "entries"))


def _io(session_id: str) -> str:
    return f"{session_doc(session_id)}/io"


def _refs(doc: Any) -> list[SegmentRef]:
    return [r for r in typed.read_array(doc, SESSION_IO, "segments") if isinstance(r, SegmentRef)]


def _transcript_window(doc: Any) -> list[Any]:
    return list(typed.root_of(doc, SESSION_IO, "transcript"))


def _numbered(entries: list[Any], first: int, start: int) -> list[Numbered]:
    return [
        Numbered(first + i, dict(e))
        for i, e in enumerate(entries)
        if first + i >= start and isinstance(e, dict)
    ]


def _from(chunk: Chunk, start: int) -> list[Chunk]:
    """``chunk`` cut to begin at ``start`` (nothing if it ends before)."""
    end = chunk.offset + len(chunk.text)
    if end <= start or not chunk.text:
        return []
    skip = max(0, start - chunk.offset)
    return [Chunk(chunk.offset + skip, chunk.text[skip:], chunk.sealed)]
