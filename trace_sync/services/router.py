"""The session router: which runtime hosts a session that needs one.

In order: an explicit runtime (its owner, or someone holding a ``session``
grant on it); the runtime already hosting the session, if it is connected;
for ``cloud`` sessions a runtime started by the configured host adapter;
otherwise the actor's own most recently seen online desktop bridge. With no
runtime available the session stays ``starting`` with ``runtime.waiting`` on
its timeline, and is placed when a desktop bridge of its owner says hello.
"""

from __future__ import annotations

import logging

from trace_sync.auth.principal import Principal
from trace_sync.docs import typed
from trace_sync.docs.entries import SessionStatus
from trace_sync.docs.layouts import SESSION
from trace_sync.errors import Conflict, Forbidden, NotFound, TraceError
from trace_sync.runtime.hosts import HostRegistry, Launch
from trace_sync.runtime.protocol import (
    Assign,
    Assignment,
    ParentRef,
    RepoRef,
    SetupSpec,
    Unassign,
)
from trace_sync.services.access import require_writer, visible_session
from trace_sync.services.accounts import AccountService
from trace_sync.services.broker import Broker
from trace_sync.services.documents import SERVICES, Documents, event, session_doc
from trace_sync.services.grants import may_use
from trace_sync.services.lifecycle import LIVE
from trace_sync.services.runtime_index import RuntimeIndex
from trace_sync.services.runtimes import issue_runtime_token
from trace_sync.store import Store
from trace_sync.store.records import Capability, RuntimeRecord, SessionRow

log = logging.getLogger(__name__)


class Router:
    def __init__(
        self,
        store: Store,
        documents: Documents,
        broker: Broker,
        index: RuntimeIndex,
        accounts: AccountService,
        hosts: HostRegistry,
        *,
        server_url: str,
        cloud_host: str | None,
    ) -> None:
        self._store = store
        self._documents = documents
        self._broker = broker
        self._index = index
        self._accounts = accounts
        self.hosts = hosts
        self._server_url = server_url
        self._cloud_host = cloud_host

    async def needs_runtime(self, actor: Principal, session: SessionRow) -> None:
        """The session service's hook (start, fork, resume): never fails the
        command that called it; a session that cannot be placed waits."""
        try:
            await self.place(actor, session)
        except TraceError as exc:
            log.warning("session not placed", extra={"session": session.id, "why": str(exc)})
            await self._note(session.id, "runtime.waiting", reason=str(exc))

    async def choose(self, actor: Principal, session_id: str, runtime_id: str) -> SessionRow:
        """A person picks the runtime a session runs on."""
        session, role = await visible_session(self._store, session_id, actor)
        require_writer(role, "choosing a session's runtime")
        await self.place(actor, session, runtime_id)
        return await self._store.sessions.get(session_id)

    async def place(
        self, actor: Principal, session: SessionRow, runtime_id: str | None = None
    ) -> str | None:
        """Choose the session's runtime and assign it; ``None`` if it must wait."""
        runtime: RuntimeRecord | None
        if runtime_id is not None:
            runtime = await self._explicit(actor, session, runtime_id)
        elif session.runtime_id is not None and self._broker.connected(session.runtime_id):
            runtime = await self._store.runtimes.get(session.runtime_id)
        elif session.location == "cloud":
            return await self._cloud(actor, session)
        else:
            runtime = await self._own_desktop(actor.user_id)
        if runtime is None:
            await self._note(session.id, "runtime.waiting", reason="no desktop bridge is online")
            return None
        await self.assign(session, runtime.id)
        return runtime.id

    async def claim_waiting(self, runtime: RuntimeRecord) -> list[SessionRow]:
        """A desktop bridge said hello: its owner's waiting local sessions are its
        now (recorded, not sent: they travel in the welcome)."""
        if runtime.kind != "desktop":
            return []
        waiting = SessionStatus.STARTING.value
        claimed = await self._store.sessions.awaiting_runtime(runtime.owner_id, waiting)
        for session in claimed:
            await self.assign(session, runtime.id, send=False)
        return claimed

    async def assign(self, session: SessionRow, runtime_id: str, *, send: bool = True) -> None:
        """Record the placement (telling a former runtime to let go) and send it."""
        if session.runtime_id != runtime_id:
            await self._store.sessions.assign_runtime(session.id, runtime_id)
            if session.runtime_id is not None:
                await self._broker.offer(session.runtime_id, Unassign(session_id=session.id))
            await self._note(session.id, "runtime.assigned", runtime_id=runtime_id)
        if send:
            assignment = await self.assignment(session)
            await self._broker.offer(runtime_id, Assign(**assignment.model_dump()))

    async def assignment(self, session: SessionRow) -> Assignment:
        """What a bridge needs to host ``session``."""
        repo, setup = None, SetupSpec()
        if session.repo_id is not None:
            try:
                found = await self._store.repos.get(session.workspace_id, session.repo_id)
                repo = RepoRef(
                    id=found.id,
                    name=found.name,
                    source=found.source,
                    path=found.path,
                    default_branch=found.default_branch,
                )
                setup = SetupSpec(copy=list(found.setup.copy_files), command=found.setup.command)
            except NotFound:
                pass  # the repo was removed; the bridge keeps what it has
        parent = None
        if session.parent_id is not None:
            parent = ParentRef(session_id=session.parent_id, checkpoint=session.parent_checkpoint)
        return Assignment(
            session_id=session.id,
            workspace_id=session.workspace_id,
            repo=repo,
            base_branch=session.base_branch,
            branch=session.branch,
            tool=session.tool,
            model=session.model,
            permission_mode=session.permission_mode,
            setup=setup,
            parent=parent,
        )

    # -- choices -------------------------------------------------------------------------

    async def _explicit(
        self, actor: Principal, session: SessionRow, runtime_id: str
    ) -> RuntimeRecord:
        runtime = await self._store.runtimes.find(runtime_id)
        if runtime is None:
            raise NotFound(f"no runtime {runtime_id}")
        if not await may_use(self._store, actor.user_id, runtime, Capability.SESSION, session.id):
            raise Forbidden(
                "running a session on someone else's runtime needs their grant "
                "with the session capability"
            )
        moving = session.runtime_id not in (None, runtime_id)
        if moving and SessionStatus(session.status) in LIVE - {SessionStatus.STARTING}:
            raise Conflict(f"session {session.id} is {session.status} elsewhere; stop it first")
        return runtime

    async def _own_desktop(self, user_id: str) -> RuntimeRecord | None:
        for runtime in await self._store.runtimes.of_owners([user_id]):
            if runtime.kind == "desktop" and self._broker.connected(runtime.id):
                return runtime
        return None

    async def _cloud(self, actor: Principal, session: SessionRow) -> str | None:
        if self._cloud_host is None:
            await self._note(session.id, "runtime.waiting", reason="no cloud host is configured")
            return None
        host = self.hosts.get(self._cloud_host)
        runtime = await self._store.runtimes.register(
            actor.user_id, f"{host.kind}-{session.id}", f"{host.kind} for {session.id}", host.kind
        )
        token = await issue_runtime_token(self._store, self._accounts, runtime)
        await self.assign(session, runtime.id, send=False)
        await self._index.publish(runtime, online=False)
        await host.start(Launch(self._server_url, runtime.id, token, session.id))
        return runtime.id

    async def _note(self, session_id: str, kind: str, **payload: object) -> None:
        async with self._documents.document(session_doc(session_id)) as doc:
            typed.append(doc, SESSION, "timeline", event("trace", kind, **payload), origin=SERVICES)
