"""Deleting a session removes what it made on its bridge: worktree, checkpoint
refs, and its branch unless that was pushed or merged (the bridge decides,
:mod:`trace_sync.bridge.git.removals`).

The hosting bridge is asked at once; when it is away (or the removal fails
there) the removal is owed to it and travels in its next welcome, so a
deleted session leaves nothing behind once its bridge comes back.
"""

from __future__ import annotations

import logging
from typing import Any

from trace_sync.contract.bridge_protocol import Forget
from trace_sync.contract.errors import TraceError
from trace_sync.services.bridges.broker import Broker
from trace_sync.services.bridges.router import Router
from trace_sync.store import Store
from trace_sync.store.records import SessionRow

log = logging.getLogger(__name__)


class RemovalService:
    def __init__(self, store: Store, broker: Broker, router: Router) -> None:
        self._store = store
        self._broker = broker
        self._router = router

    async def remove(self, session: SessionRow) -> dict[str, Any]:
        """What was removed (``done``) or that it waits for the bridge (``pending``)."""
        runtime_id = session.runtime_id
        if runtime_id is None:
            return {"state": "nothing to remove", "why": "no bridge ever hosted it"}
        assignment = await self._router.assignment(session)
        forget = Forget(
            session_id=session.id,
            repo=assignment.repo,
            branch=assignment.branch,
            base_branch=assignment.spec.base_branch,
        )
        if session.location == "cloud":
            return await self._router.forget_cloud(forget)
        args = forget.model_dump(mode="json", exclude={"session_id"})
        if await self._broker.connected(runtime_id):
            try:
                removed = await self._broker.request(runtime_id, "forget", session.id, args)
                return {"state": "done", **removed}
            except TraceError as exc:
                log.warning("a removal failed", extra={"session": session.id, "why": str(exc)})
                why = f"the bridge could not remove it now ({exc}); it will when it reconnects"
        else:
            why = "its bridge is offline; it removes them when it reconnects"
        await self._store.removals.add(runtime_id, session.id, forget.model_dump(mode="json"))
        return {"state": "pending", "why": why}

    async def owed(self, runtime_id: str) -> list[Forget]:
        """Removals to carry in the runtime's welcome (and forget once sent)."""
        return [Forget.model_validate(spec) for spec in await self._store.removals.owed(runtime_id)]

    async def sent(self, forgets: list[Forget]) -> None:
        await self._store.removals.done([f.session_id for f in forgets])
