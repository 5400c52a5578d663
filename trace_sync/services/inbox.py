"""A person's attention inbox: read it, mark it read, follow sessions.

What goes in is derived by :mod:`trace_sync.services.attention`; here a
person reads their own items, across workspaces. Who may see what is checked
again at every read: an item of a session they can no longer see (removed
from the workspace, the session made private or deleted) is left out.
"""

from __future__ import annotations

from collections.abc import Collection

from trace_sync.auth.policy import can_see
from trace_sync.auth.principal import Principal
from trace_sync.contract.errors import NotFound
from trace_sync.services.access import visible_session
from trace_sync.services.inbox_signal import InboxSignal
from trace_sync.store import Store
from trace_sync.store.inbox import InboxItem

MAX_PAGE = 200


class InboxService:
    def __init__(self, store: Store, signal: InboxSignal | None = None) -> None:
        self._store = store
        self._signal = signal

    async def page(
        self,
        actor: Principal,
        *,
        unread: bool = False,
        open_only: bool = True,
        before: int | None = None,
        limit: int = 50,
    ) -> tuple[list[InboxItem], int]:
        """The actor's items, newest first, and how many open items wait for them (the
        badge, the tab's title), their visibility decided once for both."""
        # Counted first: an item that arrives in between is listed without being counted
        # yet (the next read counts it), never counted without being listed.
        waiting = await self._store.inbox.unread(actor.user_id)
        found = await self._store.inbox.page(
            actor.user_id,
            unread=unread,
            open_only=open_only,
            before=before,
            limit=min(limit, MAX_PAGE),
        )
        visible = await self._visible(
            actor, {sid for _, sid in waiting} | {i.session_id for i in found}
        )
        items = [item for item in found if item.session_id in visible]
        return items, sum(1 for _, sid in waiting if sid in visible)

    async def unread_count(self, actor: Principal) -> int:
        """How many open items wait for the actor."""
        unread = await self._store.inbox.unread(actor.user_id)
        visible = await self._visible(actor, {sid for _, sid in unread})
        return sum(1 for _, sid in unread if sid in visible)

    async def mark_read(self, actor: Principal, ids: Collection[int] | None) -> int:
        """Mark the actor's items read (``None``: all); how many changed."""
        marked = await self._store.inbox.mark_read(actor.user_id, ids)
        if marked and self._signal is not None:  # their other devices
            await self._signal.changed([actor.user_id])
        return marked

    async def item(self, actor: Principal, item_id: int) -> InboxItem:
        """One of the actor's items, if they may still see its session."""
        item = await self._store.inbox.get(item_id)
        if item is None or item.user_id != actor.user_id:
            raise NotFound(f"no inbox item {item_id}")
        await visible_session(self._store, item.session_id, actor)
        return item

    async def follow(self, actor: Principal, session_id: str, on: bool = True) -> None:
        """Follow a session (hear of its finished turns and failures), or stop."""
        await visible_session(self._store, session_id, actor)
        await self._store.inbox.follow(actor.user_id, session_id, on)

    async def _visible(self, actor: Principal, session_ids: set[str]) -> set[str]:
        """Those of ``session_ids`` the actor may see now (two queries however many)."""
        found = await self._store.sessions.find_many(session_ids)
        roles = await self._store.directory.roles_of(actor.user_id, {s.workspace_id for s in found})
        return {
            s.id
            for s in found
            if (role := roles.get(s.workspace_id)) is not None
            and can_see(actor.user_id, role, s.access)
        }
