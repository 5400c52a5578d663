"""A workspace's usage: cost and tokens per day, per member (session owner) or per tool.

Only sessions the asking person may see count (a private session of someone
else's stays out of a member's totals, as it stays out of their lists).
Per member and per tool add up each session's running totals (``usage`` of
``session/<sid>``); per day adds up the tool's per-turn usage notes of the
transcript, each on the day (UTC) it was reported.

Each total reads the documents of every visible session: fine for the
hundreds of sessions of a team, not a data warehouse.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import ValidationError

from trace_sync.auth.principal import Principal
from trace_sync.docs import typed
from trace_sync.docs.entries import Usage, UsageNote
from trace_sync.docs.layouts import SESSION
from trace_sync.services.access import role_in
from trace_sync.services.documents import Documents, session_doc
from trace_sync.services.session_reads import SessionReads
from trace_sync.store import Store
from trace_sync.store.records import SessionRow
from trace_sync.store.sessions import PageAfter, Viewer

Grouping = Literal["day", "member", "tool"]
_BATCH = 200
_ALL = 1 << 30


@dataclass
class UsageTotal:
    #: The day (``YYYY-MM-DD``), the member's user id or the tool.
    key: str
    #: How people read the key (a member's name).
    label: str
    sessions: set[str] = field(default_factory=set)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    #: True when any part of the cost was computed from tokens, not reported.
    estimated: bool = False

    def add(self, session_id: str, usage: Usage | UsageNote) -> None:
        self.sessions.add(session_id)
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cost_usd += usage.cost_usd
        self.estimated = self.estimated or usage.estimated


class UsageService:
    def __init__(self, store: Store, documents: Documents, reads: SessionReads) -> None:
        self._store = store
        self._documents = documents
        self._reads = reads

    async def totals(self, actor: Principal, workspace_id: str, by: Grouping) -> list[UsageTotal]:
        """Totals grouped ``by``, biggest cost first (days: newest first)."""
        role = await role_in(self._store, workspace_id, actor)
        sessions = await self._visible(workspace_id, Viewer(actor.user_id, role.is_admin))
        totals: dict[str, UsageTotal] = {}
        if by == "day":
            await self._by_day(actor, sessions, totals)
        else:
            names = await self._names(workspace_id) if by == "member" else {}
            for session in sessions:
                key = session.owner_id if by == "member" else session.tool
                total = totals.setdefault(key, UsageTotal(key, names.get(key, key)))
                total.add(session.id, await self._session_usage(session))
        if by == "day":
            return sorted(totals.values(), key=lambda t: t.key, reverse=True)
        return sorted(totals.values(), key=lambda t: (-t.cost_usd, t.key))

    async def _by_day(
        self, actor: Principal, sessions: Iterable[SessionRow], totals: dict[str, UsageTotal]
    ) -> None:
        for session in sessions:
            entries, _ = await self._reads.transcript(actor, session.id, 0, _ALL)
            for numbered in entries:
                if numbered.entry.get("kind") != "usage":
                    continue
                try:
                    note = UsageNote.model_validate(numbered.entry)
                except ValidationError:
                    continue  # a flagged entry counts for nothing, as everywhere
                day = note.at.date().isoformat()
                totals.setdefault(day, UsageTotal(day, day)).add(session.id, note)

    async def _session_usage(self, session: SessionRow) -> Usage:
        async with self._documents.document(session_doc(session.id)) as doc:
            usage = typed.read_fields(doc, SESSION, "usage", Usage)
        if isinstance(usage, Usage):
            # The row holds the cost as reported (or estimated) last; tokens live in the document.
            return usage.model_copy(update={"cost_usd": session.cost_usd})
        return Usage(cost_usd=session.cost_usd, estimated=session.cost_estimated)

    async def _visible(self, workspace_id: str, viewer: Viewer) -> list[SessionRow]:
        found: list[SessionRow] = []
        after: PageAfter | None = None
        while True:
            batch = await self._store.sessions.page(workspace_id, viewer, after=after, limit=_BATCH)
            found += batch
            if len(batch) < _BATCH:
                return found
            after = PageAfter(batch[-1].last_activity_at, batch[-1].id)

    async def _names(self, workspace_id: str) -> dict[str, str]:
        names: dict[str, str] = {}
        for member in await self._store.directory.members(workspace_id):
            names[member.user_id] = (await self._store.accounts.get_user(member.user_id)).name
        return names
