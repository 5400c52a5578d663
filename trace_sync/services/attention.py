"""Attention: what needs a person, derived in one place from the session documents.

Every loaded session document passes through :meth:`Attention.changed` (a
``Rooms.on_change`` hook), and each kind says one thing:

- ``session/<sid>/io`` ``approvals``: a pending permission, question or plan
  goes to everyone who may answer it (writers who see the session); gone
  from the map (the tool took an answer), it is resolved for all;
- ``session/<sid>`` ``timeline``: a failure or interruption, a finished turn,
  a budget reached go to the session's followers (its creator, its owner and
  whoever follows it); a hand-off to the new owner; a decision resolves the
  request's items, a resume resolves the session's halts;
- ``session/<sid>/notes``: review comments and draft lines that @mention a
  person go to them.

Items land in the store's inbox (one per person and thing, so a document
loaded again adds nothing twice); the new ones go to ``on_new`` (the
notifier's queue: delivery never holds this up), and the people whose items
were added or resolved to ``signal`` (their open apps read the inbox again).
Timeline events older than :data:`MAX_AGE` are history, not news: they add
nothing.

Work for one document runs in one task; changes meanwhile fold into its next pass.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from pycrdt import Doc

from trace_sync.auth.policy import can_see
from trace_sync.contract.errors import InvalidInput, TraceError
from trace_sync.docs import typed
from trace_sync.docs.entries import ApprovalRequest, ReviewComment, TimelineEvent
from trace_sync.docs.layouts import SESSION, SESSION_IO, SESSION_NOTES
from trace_sync.docs.names import DocKind, parse_doc_name
from trace_sync.services.documents import DocumentChange
from trace_sync.services.inbox_signal import InboxSignal
from trace_sync.store import Store
from trace_sync.store.inbox import InboxItem, NewItem
from trace_sync.store.records import SessionRow

log = logging.getLogger(__name__)

#: How often at most a notes document is read for @mentions.
NOTES_EVERY_S = 1.0
#: A draft longer than this is no prompt: it is not read for @mentions.
MAX_DRAFT = 100_000
#: Timeline events older than this, found when a document loads, are not news.
MAX_AGE = timedelta(hours=24)
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_.-]{1,64})")
#: Timeline kinds that end a halt (a failure or interruption needs nobody after these).
_ENDS_HALT = frozenset(
    {"session.resumed", "session.rerun", "session.resumed_after_restart", "session.stopped"}
)
_INTERRUPTED = frozenset({"runtime.lost", "session.interrupted"})
OnNew = Callable[[list[InboxItem]], None]


class Attention:
    """Long-lived, ``async with`` only::

    async with Attention(store, notifier.enqueue) as attention:
        rooms.on_change(attention.changed)
    """

    def __init__(
        self, store: Store, on_new: OnNew | None = None, signal: InboxSignal | None = None
    ) -> None:
        self._store = store
        self._on_new = on_new
        self._signal = signal
        self._dirty: dict[str, Doc[Any]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        #: Per document: what was taken in already (timeline length, request ids, mention keys).
        self._seen_timeline: dict[str, int] = {}
        self._seen_pending: dict[str, frozenset[str]] = {}
        self._seen_mentions: dict[str, frozenset[str]] = {}
        self._closed = False

    async def __aenter__(self) -> Attention:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closed = True
        await self.idle()

    def changed(self, change: DocumentChange) -> None:
        """The ``on_change`` hook: note a session document for a pass soon."""
        if self._closed or not change.name.startswith("session/"):
            return
        try:
            kind = parse_doc_name(change.name).kind
        except InvalidInput:
            return
        if kind not in (DocKind.SESSION, DocKind.SESSION_IO, DocKind.SESSION_NOTES):
            return
        if change.loaded:
            for seen in (self._seen_timeline, self._seen_pending, self._seen_mentions):
                seen.pop(change.name, None)
        self._dirty[change.name] = change.doc
        if change.name not in self._tasks:
            task = asyncio.get_running_loop().create_task(self._drain(change.name))
            self._tasks[change.name] = task

    async def idle(self) -> None:
        """Wait until every noted change has been taken in (for tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def _drain(self, name: str) -> None:
        try:
            while name in self._dirty:
                if name.endswith("/notes"):
                    # People type into notes: a pass a second at most, whatever the rate.
                    await asyncio.sleep(NOTES_EVERY_S)
                doc = self._dirty.pop(name)
                try:
                    await self._take(name, doc)
                except TraceError as exc:  # e.g. the session was deleted meanwhile
                    log.warning("attention skipped a change of %s: %s", name, exc)
        finally:
            del self._tasks[name]

    async def _take(self, name: str, doc: Doc[Any]) -> None:
        parsed = parse_doc_name(name)
        sid = str(parsed.session_id)
        if parsed.kind is DocKind.SESSION_IO:
            await self._take_requests(name, sid, doc)
        elif parsed.kind is DocKind.SESSION:
            await self._take_timeline(name, sid, doc)
        else:
            await self._take_mentions(name, sid, doc)

    # -- what the tool asks ----------------------------------------------------------

    async def _take_requests(self, name: str, sid: str, doc: Doc[Any]) -> None:
        found = typed.read_map(doc, SESSION_IO, "approvals")
        pending = {r.id: r for r in found.values() if isinstance(r, ApprovalRequest)}
        if frozenset(pending) == self._seen_pending.get(name):
            return
        self._seen_pending[name] = frozenset(pending)
        keys = {_request_key(sid, rid) for rid in pending}
        gone = await self._store.inbox.open_keys(sid, f"approval:{sid}:") - keys
        await self._resolve(gone)
        if not pending:
            return
        session = await self._store.sessions.get(sid)
        answerers = await self._people(session, writers_only=True)
        items = [
            NewItem(
                user,
                _request_key(sid, r.id),
                "approval" if r.kind == "permission" else "question",
                session.workspace_id,
                sid,
                session.title,
                _asks(r),
                request_id=r.id,
            )
            for r in pending.values()
            for user in answerers
        ]
        await self._add(items)

    # -- what happened to the session --------------------------------------------------

    async def _take_timeline(self, name: str, sid: str, doc: Doc[Any]) -> None:
        timeline = list(typed.root_of(doc, SESSION, "timeline"))
        start = self._seen_timeline.get(name, 0)
        self._seen_timeline[name] = len(timeline)
        fresh = [_event(raw) for raw in timeline[start:]]
        events = [e for e in fresh if e is not None and datetime.now(UTC) - e.at < MAX_AGE]
        if not events:
            return
        session = await self._store.sessions.get(sid)
        items: list[NewItem] = []
        for change in events:
            items += await self._from_event(session, change)
        await self._add(items)

    async def _from_event(self, session: SessionRow, change: TimelineEvent) -> list[NewItem]:
        sid, payload = session.id, change.payload
        if change.kind == "approval.decided":
            await self._resolve({_request_key(sid, str(payload.get("request_id")))})
            return []
        if change.kind in _ENDS_HALT:
            await self._resolve(await self._store.inbox.open_keys(sid, f"halt:{sid}:"))
            return []
        if change.kind == "session.handed_off":
            owner = str(payload.get("owner_id"))
            if owner == change.actor_id:
                return []
            who = await self._name(change.actor_id)
            body = f"was handed to you by {who}"
            return [self._item(session, owner, f"event:{change.id}", "handoff", body)]
        found = _followed(change)
        if found is None:
            return []
        kind, body, prefix = found
        followers = await self._people(session, followers=True)
        return [
            self._item(session, u, f"{prefix}:{sid}:{change.id}", kind, body) for u in followers
        ]

    # -- @mentions in notes ------------------------------------------------------------

    async def _take_mentions(self, name: str, sid: str, doc: Doc[Any]) -> None:
        said: dict[str, tuple[str, str | None]] = {}  # key -> (text, author)
        for comment in typed.read_array(doc, SESSION_NOTES, "comments"):
            if isinstance(comment, ReviewComment) and _MENTION.search(comment.text):
                where = f"in a review comment on {comment.path}:{comment.line}"
                said[f"comment:{comment.id}"] = (f"{where}: {comment.text}", comment.author_id)
        # The draft is typed a character at a time: one item per person mentioned in
        # it (keyed by the name, not the line, which changes with every keystroke).
        draft = typed.root_of(doc, SESSION_NOTES, "draft")
        for line in str(draft).splitlines() if len(draft) <= MAX_DRAFT else ():
            for mentioned in _MENTION.findall(line):
                said.setdefault(f"draft:{mentioned}", (f"in the prompt draft: {line}", None))
        if frozenset(said) == self._seen_mentions.get(name):
            return
        new = {k: v for k, v in said.items() if k not in self._seen_mentions.get(name, frozenset())}
        self._seen_mentions[name] = frozenset(said)
        session = await self._store.sessions.get(sid)
        readers = await self._people(session)
        names = {await self._name(user): user for user in readers}
        items = []
        for key, (text, author) in new.items():
            for mentioned in {m.group(1) for m in _MENTION.finditer(text)}:
                user = names.get(mentioned)
                if user is not None and user != author:
                    body = f"mentions you {text[:500]}"
                    items.append(self._item(session, user, f"mention:{sid}:{key}", "mention", body))
        await self._add(items)

    # -- shared ----------------------------------------------------------------------

    async def _people(
        self, session: SessionRow, *, writers_only: bool = False, followers: bool = False
    ) -> list[str]:
        """Members who see the session: all, writers only, or its followers."""
        chosen = None
        if followers:
            chosen = {session.creator_id, session.owner_id}
            chosen |= await self._store.inbox.followers(session.id)
        people = []
        for member in await self._store.directory.members(session.workspace_id):
            if chosen is not None and member.user_id not in chosen:
                continue
            if writers_only and not member.role.can_write:
                continue
            if can_see(member.user_id, member.role, session.access):
                people.append(member.user_id)
        return sorted(people)

    async def _name(self, user_id: str) -> str:
        try:
            return (await self._store.accounts.get_user(user_id)).name
        except TraceError:
            return user_id

    @staticmethod
    def _item(session: SessionRow, user: str, key: str, kind: str, body: str) -> NewItem:
        return NewItem(user, key, kind, session.workspace_id, session.id, session.title, body)

    async def _add(self, items: list[NewItem]) -> None:
        if not items:
            return
        added = await self._store.inbox.add(items)
        if added and self._on_new is not None:
            self._on_new(added)
        if added and self._signal is not None:
            await self._signal.changed(item.user_id for item in added)

    async def _resolve(self, keys: set[str]) -> None:
        whose = await self._store.inbox.resolve(keys)
        if whose and self._signal is not None:
            await self._signal.changed(whose)


def _request_key(sid: str, request_id: str) -> str:
    return f"approval:{sid}:{request_id}"


def _asks(request: ApprovalRequest) -> str:
    if request.kind == "question":
        return f"asks: {request.title}"
    if request.kind == "plan":
        return f"asks to go ahead with a plan: {request.title}"
    return f"asks to use {request.tool}: {request.title}"


def _event(raw: Any) -> TimelineEvent | None:
    try:
        return TimelineEvent.model_validate(dict(raw))
    except (ValueError, TypeError):
        return None


def _followed(change: TimelineEvent) -> tuple[str, str, str] | None:
    """(inbox kind, what it says, key prefix) for events a session's followers hear of."""
    reason = change.payload.get("reason")
    why = f": {reason}" if reason else ""
    if change.kind in _INTERRUPTED:
        return "interrupted", f"was interrupted{why}", "halt"
    if change.kind == "session.budget_reached":
        return "budget", f"was paused: it {reason}", "halt"
    if change.kind == "session.limit_reached":
        return "limit", f"was paused: {reason}", "halt"
    if change.kind != "status.reported":
        return None
    status = change.payload.get("status")
    if status == "failed":
        return "failed", f"failed{why}", "halt"
    if status == "idle":
        return "finished", "finished its turn", "event"
    return None
