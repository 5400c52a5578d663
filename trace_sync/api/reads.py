"""Reads of what a session shows: transcript, terminal output and its sealed
segments, changed files and diffs, checkpoints; from the server's copy of the
documents, so they answer while the session's runtime is offline."""

from __future__ import annotations

from typing import Any

from trace_sync.api.endpoints import Call, Endpoint
from trace_sync.api.pages import PageQuery, decode_cursor, encode_cursor, page_of
from trace_sync.api.read_models import (
    CheckpointDiffQuery,
    CheckpointOut,
    CheckpointPage,
    ChunkOut,
    DiffQuery,
    FileChangeOut,
    FileChangePage,
    OutputPage,
    SegmentEntriesPage,
    SegmentOut,
    SegmentPage,
    TerminalInfoOut,
    TerminalPage,
    TranscriptItemOut,
    TranscriptPage,
)
from trace_sync.contract.errors import InvalidInput
from trace_sync.docs.entries import FileChange
from trace_sync.services.session_reads import SessionReads

SESSION = "/api/sessions/{sid}"


def _reads(call: Call) -> SessionReads:
    reads: SessionReads = call.ctx.reads
    return reads


def _position(query: PageQuery) -> int:
    """Where a positional cursor points (0 without one)."""
    if query.cursor is None:
        return 0
    at = decode_cursor(query.cursor, "at")["at"]
    if not isinstance(at, int) or at < 0:
        raise InvalidInput("not a cursor this server made; pass next_cursor back as is")
    return at


async def transcript(call: Call) -> TranscriptPage:
    query: PageQuery = call.query
    found, total = await _reads(call).transcript(
        call.actor, call.path["sid"], _position(query), query.limit
    )
    after = found[-1].n + 1 if found else max(_position(query), total)
    items = [TranscriptItemOut(n=e.n, entry=e.entry) for e in found]
    more = after < total
    return TranscriptPage(
        items=items, next_cursor=encode_cursor({"at": after}) if more else None, total=total
    )


async def terminals(call: Call) -> TerminalPage:
    found = await _reads(call).terminals(call.actor, call.path["sid"])
    page, cursor = page_of(found, lambda t: (t.id,), call.query)
    items = [TerminalInfoOut.model_validate(t.model_dump(include=_TERMINAL)) for t in page]
    return TerminalPage(items=items, next_cursor=cursor)


_TERMINAL = set(TerminalInfoOut.model_fields)


async def output(call: Call) -> OutputPage:
    query: PageQuery = call.query
    sid, tid = call.path["sid"], call.path["tid"]
    chunks, total = await _reads(call).output(call.actor, sid, tid, _position(query), query.limit)
    end = chunks[-1].offset + len(chunks[-1].text) if chunks else total
    cursor = encode_cursor({"at": end}) if end < total else None
    items = [ChunkOut(offset=c.offset, text=c.text, sealed=c.sealed) for c in chunks]
    return OutputPage(items=items, next_cursor=cursor, total_chars=total)


async def segments(call: Call) -> SegmentPage:
    sid = call.path["sid"]
    found = await _reads(call).segments(call.actor, sid)
    page, cursor = page_of(found, lambda s: (f"{s.at.isoformat()}", s.name), call.query)
    items = [
        SegmentOut(**s.model_dump(include=_SEGMENT), document=f"session/{sid}/log/{s.name}")
        for s in page
    ]
    return SegmentPage(items=items, next_cursor=cursor)


_SEGMENT = set(SegmentOut.model_fields) - {"document"}


async def segment(call: Call) -> SegmentEntriesPage:
    query: PageQuery = call.query
    entries = await _reads(call).segment(call.actor, call.path["sid"], call.path["name"])
    start = _position(query)
    page = entries[start : start + query.limit]
    end = start + len(page)
    cursor = encode_cursor({"at": end}) if end < len(entries) else None
    return SegmentEntriesPage(items=page, next_cursor=cursor)


async def changes(call: Call) -> FileChangePage:
    found = await _reads(call).files(call.actor, call.path["sid"])
    page, cursor = page_of(found, lambda f: (f.path,), call.query)
    return FileChangePage(items=[_file(f, diff=False) for f in page], next_cursor=cursor)


async def diff(call: Call) -> FileChangeOut:
    query: DiffQuery = call.query
    return _file(await _reads(call).file(call.actor, call.path["sid"], query.path), diff=True)


async def checkpoints(call: Call) -> CheckpointPage:
    found = await _reads(call).checkpoints(call.actor, call.path["sid"])
    page, cursor = page_of(found, lambda c: (f"{c.n:012d}",), call.query)
    items = [CheckpointOut.model_validate(c.model_dump(include=_CHECKPOINT)) for c in page]
    return CheckpointPage(items=items, next_cursor=cursor)


_CHECKPOINT = set(CheckpointOut.model_fields)


async def checkpoint_diff(call: Call) -> FileChangePage:
    query: CheckpointDiffQuery = call.query
    n = int(call.path["n"])
    found = await _reads(call).checkpoint_diff(call.actor, call.path["sid"], n, query.path)
    page, cursor = page_of(found, lambda f: (f.path,), query)
    return FileChangePage(items=[_file(f, diff=True) for f in page], next_cursor=cursor)


def _file(change: FileChange, *, diff: bool) -> FileChangeOut:
    fields: dict[str, Any] = change.model_dump(include=set(FileChangeOut.model_fields))
    if not diff:
        fields["diff"] = None
    return FileChangeOut.model_validate(fields)


endpoints = [
    Endpoint(
        "GET",
        f"{SESSION}/transcript",
        transcript,
        "The transcript, oldest first: sealed segments, then the live window (viewers too)",
        query=PageQuery,
        response=TranscriptPage,
    ),
    Endpoint(
        "GET",
        f"{SESSION}/terminals",
        terminals,
        "The session's terminals (the tool's and shells)",
        query=PageQuery,
        response=TerminalPage,
    ),
    Endpoint(
        "GET",
        f"{SESSION}/terminals/{{tid}}/output",
        output,
        "A terminal's output from its start: sealed segments, then the live window",
        query=PageQuery,
        response=OutputPage,
    ),
    Endpoint(
        "GET",
        f"{SESSION}/segments",
        segments,
        "Sealed log segments (session/<sid>/log/<name> documents)",
        query=PageQuery,
        response=SegmentPage,
    ),
    Endpoint(
        "GET",
        f"{SESSION}/segments/{{name}}",
        segment,
        "The entries of one sealed log segment",
        query=PageQuery,
        response=SegmentEntriesPage,
    ),
    Endpoint(
        "GET",
        f"{SESSION}/changes",
        changes,
        "Files changed against the base branch (diffs left out)",
        query=PageQuery,
        response=FileChangePage,
    ),
    Endpoint(
        "GET",
        f"{SESSION}/diff",
        diff,
        "One changed file's diff, base branch to worktree",
        query=DiffQuery,
        response=FileChangeOut,
    ),
    Endpoint(
        "GET",
        f"{SESSION}/checkpoints",
        checkpoints,
        "Checkpoints, oldest first",
        query=PageQuery,
        response=CheckpointPage,
    ),
    Endpoint(
        "GET",
        f"{SESSION}/checkpoints/{{n:int}}/diff",
        checkpoint_diff,
        "What a checkpoint changed since the one before (?path= for one file)",
        query=CheckpointDiffQuery,
        response=FileChangePage,
    ),
]
