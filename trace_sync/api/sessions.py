"""Sessions: start, list, show, prompt, lifecycle commands, fork, hand-off, timeline."""

from __future__ import annotations

from datetime import datetime

from trace_sync.api.endpoints import Call, Endpoint, Handler
from trace_sync.api.pages import PageQuery, decode_cursor, encode_cursor
from trace_sync.api.session_models import (
    ForkIn,
    HandoffIn,
    PromptIn,
    PromptOut,
    Removed,
    SessionDeleted,
    SessionOut,
    SessionPage,
    SessionQuery,
    StartSessionIn,
    TimelineEventOut,
    TimelinePage,
    TitleIn,
)
from trace_sync.contract.errors import InvalidInput
from trace_sync.services.lifecycle import Command
from trace_sync.store.sessions import PageAfter

SESSION = "/api/sessions/{sid}"
IN_WORKSPACE = "/api/workspaces/{wid}/sessions"


async def list_sessions(call: Call) -> SessionPage:
    query: SessionQuery = call.query
    after = _after(query.cursor) if query.cursor else None
    rows = await call.ctx.sessions.page(
        call.actor, call.path["wid"], statuses=query.status, after=after, limit=query.limit + 1
    )
    page = rows[: query.limit]
    cursor = None
    if len(rows) > query.limit:
        last = page[-1]
        cursor = encode_cursor({"t": last.last_activity_at.isoformat(), "id": last.id})
    return SessionPage(items=[SessionOut.of(r) for r in page], next_cursor=cursor)


def _after(cursor: str) -> PageAfter:
    position = decode_cursor(cursor, "t", "id")
    try:
        return PageAfter(datetime.fromisoformat(position["t"]), str(position["id"]))
    except (TypeError, ValueError) as exc:
        raise InvalidInput("not a cursor this server made; pass next_cursor back as is") from exc


async def start_session(call: Call) -> SessionOut:
    spec: StartSessionIn = call.body
    return SessionOut.of(await call.ctx.sessions.start(call.actor, call.path["wid"], spec))


async def get_session(call: Call) -> SessionOut:
    return SessionOut.of(await call.ctx.sessions.get(call.actor, call.path["sid"]))


async def rename_session(call: Call) -> SessionOut:
    session = await call.ctx.sessions.rename(call.actor, call.path["sid"], call.body.title)
    return SessionOut.of(session)


async def delete_session(call: Call) -> SessionDeleted | None:
    """204 as ever; with ``Prefer: return=representation`` (RFC 7240) what was removed."""
    sid = call.path["sid"]
    removed = await call.ctx.sessions.delete(call.actor, sid)
    if "return=representation" not in call.request.headers.get("prefer", ""):
        return None
    return SessionDeleted(id=sid, removed=Removed.model_validate(removed))


async def send_prompt(call: Call) -> PromptOut:
    body: PromptIn = call.body
    entry = await call.ctx.sessions.send(call.actor, call.path["sid"], body.text, body.mode)
    return PromptOut.model_validate(entry.model_dump())


def lifecycle(command: Command) -> Handler:
    async def run(call: Call) -> SessionOut:
        return SessionOut.of(await call.ctx.sessions.command(call.actor, call.path["sid"], command))

    run.__name__ = f"{command.value}_session"
    return run


async def rerun_session(call: Call) -> SessionOut:
    return SessionOut.of(await call.ctx.sessions.rerun(call.actor, call.path["sid"]))


async def fork_session(call: Call) -> SessionOut:
    body: ForkIn = call.body
    forked = await call.ctx.sessions.fork(
        call.actor,
        call.path["sid"],
        checkpoint=body.checkpoint,
        title=body.title,
        prompt=body.prompt,
        model=body.model,
        permission_mode=body.permission_mode,
    )
    return SessionOut.of(forked)


async def hand_off(call: Call) -> SessionOut:
    session = await call.ctx.sessions.hand_off(call.actor, call.path["sid"], call.body.owner_id)
    return SessionOut.of(session)


async def timeline(call: Call) -> TimelinePage:
    """The timeline is append-only, so a position is a stable cursor."""
    events = await call.ctx.sessions.timeline(call.actor, call.path["sid"])
    query: PageQuery = call.query
    start = int(decode_cursor(query.cursor, "n")["n"]) if query.cursor else 0
    page = events[start : start + query.limit]
    end = start + len(page)
    cursor = encode_cursor({"n": end}) if end < len(events) else None
    items = [TimelineEventOut.model_validate(e.model_dump()) for e in page]
    return TimelinePage(items=items, next_cursor=cursor)


_COMMANDS = {
    Command.PAUSE: "Pause a running, waiting or idle session",
    Command.RESUME: "Resume a paused, stopped, failed or interrupted session",
    Command.STOP: "Stop a session",
    Command.ARCHIVE: "Archive a stopped, idle, failed or interrupted session (its history is kept)",
    Command.RESTORE: "Restore an archived session (as stopped)",
}

endpoints = [
    Endpoint(
        "GET",
        IN_WORKSPACE,
        list_sessions,
        "Sessions you may see, most recent activity first (?status= repeats or takes commas)",
        query=SessionQuery,
        response=SessionPage,
    ),
    Endpoint(
        "POST",
        IN_WORKSPACE,
        start_session,
        "Start a session (writers)",
        body=StartSessionIn,
        response=SessionOut,
        status=201,
    ),
    Endpoint("GET", SESSION, get_session, "A session", response=SessionOut),
    Endpoint(
        "PATCH", SESSION, rename_session, "Rename a session", body=TitleIn, response=SessionOut
    ),
    Endpoint(
        "DELETE",
        SESSION,
        delete_session,
        "Delete a session that no longer runs (its owner or admins): its worktree, "
        "checkpoints and branch (unless pushed or merged) go too. 204, or 200 with what was "
        "removed when asked with `Prefer: return=representation`",
        response=SessionDeleted,
    ),
    Endpoint(
        "POST",
        f"{SESSION}/prompts",
        send_prompt,
        "Send a prompt: queued while the tool is busy, or interrupting it",
        body=PromptIn,
        response=PromptOut,
        status=201,
    ),
    *(
        Endpoint("POST", f"{SESSION}/{c.value}", lifecycle(c), summary, response=SessionOut)
        for c, summary in _COMMANDS.items()
    ),
    Endpoint(
        "POST",
        f"{SESSION}/rerun",
        rerun_session,
        "Run again what a restart cut off (an interrupted session): the last prompt the tool "
        "took is sent again, as a new prompt, to a fresh run of the tool",
        response=SessionOut,
    ),
    Endpoint(
        "POST",
        f"{SESSION}/fork",
        fork_session,
        "Fork a session from its head or a checkpoint",
        body=ForkIn,
        response=SessionOut,
        status=201,
    ),
    Endpoint(
        "POST",
        f"{SESSION}/handoff",
        hand_off,
        "Hand a session to another writing member (its owner or admins)",
        body=HandoffIn,
        response=SessionOut,
    ),
    Endpoint(
        "GET",
        f"{SESSION}/timeline",
        timeline,
        "Every transition and command, oldest first",
        query=PageQuery,
        response=TimelinePage,
    ),
]
