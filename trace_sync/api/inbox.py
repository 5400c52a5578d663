"""A person's attention inbox, across workspaces, and the sessions they follow."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from trace_sync.api.endpoints import Call, Endpoint
from trace_sync.api.models import Model
from trace_sync.api.pages import Page, PageQuery, decode_cursor, encode_cursor
from trace_sync.services.documents import person_doc
from trace_sync.store.inbox import InboxItem


class InboxQuery(PageQuery):
    unread: bool = Field(False, description="only items not read yet")
    all: bool = Field(False, description="also items that need nothing more (answered, resumed)")


class InboxItemOut(Model):
    id: int
    kind: str
    workspace_id: str
    session_id: str
    #: The session's title.
    title: str
    #: What it needs from you, or what happened.
    body: str
    request_id: str | None
    created_at: datetime
    read: bool
    resolved: bool

    @classmethod
    def of(cls, item: InboxItem) -> InboxItemOut:
        return cls(
            id=item.id,
            kind=item.kind,
            workspace_id=item.workspace_id,
            session_id=item.session_id,
            title=item.title,
            body=item.body,
            request_id=item.request_id,
            created_at=item.created_at,
            read=item.read_at is not None,
            resolved=item.resolved_at is not None,
        )


class InboxPage(Page[InboxItemOut]):
    #: Open items you have not read, over the whole inbox (the badge).
    unread: int
    #: Your own document (``person/<uid>``) whose ``inbox.changes`` moves whenever this
    #: page may read differently: follow it over sync and read again when it moves.
    signal: str


class ReadIn(Model):
    ids: list[int] | None = Field(None, max_length=1000, description="default: every item")


class ReadOut(Model):
    marked: int
    unread: int


class FollowIn(Model):
    follow: bool = True


async def inbox(call: Call) -> InboxPage:
    query: InboxQuery = call.query
    before = None if query.cursor is None else int(decode_cursor(query.cursor, "before")["before"])
    items, unread = await call.ctx.inbox.page(
        call.actor, unread=query.unread, open_only=not query.all, before=before, limit=query.limit
    )
    cursor = encode_cursor({"before": items[-1].id}) if len(items) == query.limit else None
    return InboxPage(
        items=[InboxItemOut.of(i) for i in items],
        next_cursor=cursor,
        unread=unread,
        signal=person_doc(call.actor.user_id),
    )


async def mark_read(call: Call) -> ReadOut:
    body: ReadIn = call.body
    marked = await call.ctx.inbox.mark_read(call.actor, body.ids)
    return ReadOut(marked=marked, unread=await call.ctx.inbox.unread_count(call.actor))


async def follow(call: Call) -> None:
    body: FollowIn = call.body
    await call.ctx.inbox.follow(call.actor, call.path["sid"], body.follow)


endpoints = [
    Endpoint(
        "GET",
        "/api/inbox",
        inbox,
        "What needs you across workspaces, newest first, with the unread count",
        query=InboxQuery,
        response=InboxPage,
    ),
    Endpoint(
        "POST",
        "/api/inbox/read",
        mark_read,
        "Mark inbox items read (all of them without ids), on every device of yours",
        body=ReadIn,
        response=ReadOut,
    ),
    Endpoint(
        "POST",
        "/api/sessions/{sid}/follow",
        follow,
        "Follow a session (hear of its finished turns and failures), or stop following",
        body=FollowIn,
    ),
]
