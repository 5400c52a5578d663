"""A person's attention inbox: read it, mark it read, follow sessions.

What goes in is derived by :mod:`trace_sync.services.attention`; here a
person reads their own items, across workspaces. Who may see what is checked
again at every read: an item of a session they can no longer see (removed
from the workspace, the session made private or deleted) is left out.
"""

from __future__ import annotations

from collections.abc import Collection

from trace_sync.auth.principal import Principal
from trace_sync.contract.errors import NotFound
from trace_sync.services.access import visible_session
from trace_sync.store import Store
from trace_sync.store.inbox import InboxItem

MAX_PAGE = 200


class InboxService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def items(
        self,
        actor: Principal,
        *,
        unread: bool = False,
        open_only: bool = True,
        before: int | None = None,
        limit: int = 50,
    ) -> list[InboxItem]:
        """The actor's items, newest first."""
        found = await self._store.inbox.page(
            actor.user_id,
            unread=unread,
            open_only=open_only,
            before=before,
            limit=min(limit, MAX_PAGE),
        )
        visible = await self._visible(actor, {item.session_id for item in found})
        return [item for item in found if item.session_id in visible]

    async def unread_count(self, actor: Principal) -> int:
        """How many open items wait for the actor (the badge, the tab's title)."""
        unread = await self._store.inbox.unread(actor.user_id)
        visible = await self._visible(actor, {sid for _, sid in unread})
        return sum(1 for _, sid in unread if sid in visible)

    async def mark_read(self, actor: Principal, ids: Collection[int] | None) -> int:
        """Mark the actor's items read (``None``: all); how many changed."""
        return await self._store.inbox.mark_read(actor.user_id, ids)

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
        visible = set()
        for sid in session_ids:
            try:
                await visible_session(self._store, sid, actor)
            except NotFound:
                continue
            visible.add(sid)
        return visible
