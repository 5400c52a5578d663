"""Searching a workspace's session history, as the person asking may see it."""

from __future__ import annotations

from dataclasses import dataclass

from trace_sync.auth.principal import Principal
from trace_sync.services.access import role_in
from trace_sync.store import Store
from trace_sync.store.records import SessionRow
from trace_sync.store.search import SearchHit
from trace_sync.store.sessions import Viewer

MAX_RESULTS = 200


@dataclass(frozen=True)
class Found:
    session: SessionRow
    hit: SearchHit


class SearchService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def search(
        self, actor: Principal, workspace_id: str, query: str, *, limit: int = 20, offset: int = 0
    ) -> list[Found]:
        """Sessions whose title, prompts or transcript match ``query``, best first;
        private sessions only for those who may see them."""
        role = await role_in(self._store, workspace_id, actor)
        viewer = Viewer(actor.user_id, role.is_admin)
        limit = max(1, min(limit, MAX_RESULTS))
        hits = await self._store.search.find(
            workspace_id, viewer, query, limit=limit, offset=max(0, offset)
        )
        found = []
        for hit in hits:
            session = await self._store.sessions.find(hit.session_id)
            if session is not None:  # deleted between the two reads
                found.append(Found(session, hit))
        return found
