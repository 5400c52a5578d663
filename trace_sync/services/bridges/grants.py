"""Bridge access grants (ARCHITECTURE.md §5): request, approve, deny, revoke, expire.

Anyone who shares a workspace with a runtime's owner may ask for access
(capabilities ``session`` and ``terminal``, for one session or all, until an
optional expiry); only the owner decides. Every step is an event on the
timeline of the workspaces involved. When a grant ends (revoked, expired),
an authority change names its holder, so that every server process closes
the terminals it knows the holder opened and may no longer use.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from trace_sync.auth.principal import Principal
from trace_sync.contract.errors import Conflict, Forbidden, InvalidInput, NotFound
from trace_sync.docs import typed
from trace_sync.docs.layouts import WORKSPACE
from trace_sync.services.access import visible_session
from trace_sync.services.authority import Authority, AuthorityChanged, Reason
from trace_sync.services.documents import SERVICES, Documents, event, workspace_doc
from trace_sync.store import Store
from trace_sync.store.records import Capability, Grant, GrantState, RuntimeRecord

#: Who ``grant.expired`` events name as their actor.
SERVER_ACTOR = "trace"
_OPEN = (GrantState.PENDING, GrantState.APPROVED)


class GrantService:
    def __init__(self, store: Store, documents: Documents, authority: Authority) -> None:
        self._store = store
        self._documents = documents
        self._authority = authority

    async def request(
        self,
        actor: Principal,
        runtime_id: str,
        capabilities: Collection[Capability],
        *,
        session_id: str | None = None,
        expires_at: datetime | None = None,
    ) -> Grant:
        """Ask the runtime's owner for access; the grant is pending until decided."""
        runtime = await self._visible_runtime(actor, runtime_id)
        if runtime.owner_id == actor.user_id:
            raise InvalidInput("this is your own runtime; you need no grant on it")
        if not capabilities:
            raise InvalidInput("ask for at least one capability: session, terminal")
        if expires_at is not None and expires_at <= datetime.now(UTC):
            raise InvalidInput("a grant must expire in the future")
        if session_id is not None:
            await visible_session(self._store, session_id, actor)
        grant = await self._store.grants.add(
            runtime.id, actor.user_id, capabilities, session_id=session_id, expires_at=expires_at
        )
        await self._announce(grant, runtime, "grant.requested", actor.user_id)
        return grant

    async def of_runtime(self, actor: Principal, runtime_id: str) -> list[Grant]:
        """All grants on the runtime for its owner; one's own for anyone else."""
        runtime = await self._visible_runtime(actor, runtime_id)
        found = await self._store.grants.of_runtime(runtime.id)
        if runtime.owner_id == actor.user_id:
            return found
        return [g for g in found if g.grantee_id == actor.user_id]

    async def approve(self, actor: Principal, grant_id: str) -> Grant:
        return await self._decide(actor, grant_id, GrantState.APPROVED, [GrantState.PENDING])

    async def deny(self, actor: Principal, grant_id: str) -> Grant:
        return await self._decide(actor, grant_id, GrantState.DENIED, [GrantState.PENDING])

    async def revoke(self, actor: Principal, grant_id: str) -> Grant:
        """End a grant; its holder's terminals on the runtime close."""
        return await self._decide(actor, grant_id, GrantState.REVOKED, _OPEN)

    async def expire_due(self) -> list[Grant]:
        """End the grants whose expiry has passed (called periodically)."""
        ended = []
        for due in await self._store.grants.due(datetime.now(UTC)):
            try:
                grant = await self._store.grants.decide(
                    due.id, GrantState.EXPIRED, by=None, expect=_OPEN
                )
            except Conflict:
                continue  # decided meanwhile by its owner
            runtime = await self._store.runtimes.get(grant.runtime_id)
            await self._announce(grant, runtime, "grant.expired", SERVER_ACTOR)
            await self._withdrawn(grant)
            ended.append(grant)
        return ended

    async def _decide(
        self, actor: Principal, grant_id: str, state: GrantState, expect: Collection[GrantState]
    ) -> Grant:
        grant = await self._store.grants.get(grant_id)
        runtime = await self._store.runtimes.get(grant.runtime_id)
        if runtime.owner_id != actor.user_id:
            if grant.grantee_id != actor.user_id:
                raise NotFound(f"no grant {grant_id}")
            raise Forbidden("only the runtime's owner decides on its grants")
        grant = await self._store.grants.decide(grant_id, state, by=actor.user_id, expect=expect)
        await self._announce(grant, runtime, f"grant.{state.value}", actor.user_id)
        if state is GrantState.REVOKED:
            await self._withdrawn(grant)
        return grant

    async def _withdrawn(self, grant: Grant) -> None:
        await self._authority.publish(AuthorityChanged(Reason.GRANT, user_id=grant.grantee_id))

    async def _visible_runtime(self, actor: Principal, runtime_id: str) -> RuntimeRecord:
        """The runtime, if its owner shares a workspace with the actor (else not found)."""
        runtime = await self._store.runtimes.find(runtime_id)
        if runtime is None or not await self._shared_workspaces(runtime.owner_id, actor.user_id):
            raise NotFound(f"no runtime {runtime_id}")
        return runtime

    async def _shared_workspaces(self, a: str, b: str) -> list[str]:
        directory = self._store.directory
        mine = {w.id for w in await directory.list_workspaces(a)}
        return sorted(mine & {w.id for w in await directory.list_workspaces(b)})

    async def _announce(
        self, grant: Grant, runtime: RuntimeRecord, kind: str, actor_id: str
    ) -> None:
        """The event on the timeline of the session's workspace, or of every
        workspace the owner and the grantee share."""
        if grant.session_id is not None:
            session = await self._store.sessions.get(grant.session_id)
            workspaces = [session.workspace_id]
        else:
            workspaces = await self._shared_workspaces(runtime.owner_id, grant.grantee_id)
        change = event(
            actor_id,
            kind,
            grant_id=grant.id,
            runtime_id=runtime.id,
            grantee_id=grant.grantee_id,
            capabilities=sorted(grant.capabilities),
            session_id=grant.session_id,
        )
        for workspace_id in workspaces:
            async with self._documents.document(workspace_doc(workspace_id)) as doc:
                typed.append(doc, WORKSPACE, "timeline", change, origin=SERVICES)


async def may_use(
    store: Store,
    user_id: str,
    runtime: RuntimeRecord,
    capability: Capability,
    session_id: str | None,
) -> bool:
    """Whether ``user_id`` may use ``capability`` on ``runtime`` for ``session_id``:
    its owner always; anyone else with an approved, unexpired grant covering it."""
    if runtime.owner_id == user_id:
        return True
    at = datetime.now(UTC)
    held = await store.grants.held(runtime.id, user_id)
    return any(grant.allows(capability, session_id, at) for grant in held)
