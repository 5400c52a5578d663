"""The session router: which runtime hosts a session that needs one.

In order: an explicit runtime (its owner, or someone holding a ``session``
grant on it); the runtime already hosting the session, if it is connected;
for ``cloud`` sessions a runtime started by the configured host adapter;
otherwise the actor's own most recently seen online desktop bridge. With no
runtime available the session stays ``starting`` with ``runtime.waiting`` on
its timeline and the reason as ``waiting_reason`` in its workspace summary (so
a list can say why), and is placed when a desktop bridge of its owner says hello.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from trace_sync.auth.principal import Principal
from trace_sync.bridge.git.merges import merge_branch
from trace_sync.bridge.hosts import HostAdapter, HostRegistry, Launch
from trace_sync.contract.bridge_protocol import (
    Assign,
    Forget,
    ParentRef,
    RepoRef,
    SetupSpec,
    Unassign,
)
from trace_sync.contract.errors import Conflict, Forbidden, NotFound, TraceError
from trace_sync.contract.session_status import SessionStatus
from trace_sync.docs import typed
from trace_sync.docs.entries import SessionSummary
from trace_sync.docs.layouts import SESSION, WORKSPACE
from trace_sync.services.access import require_session_control, require_writer, visible_session
from trace_sync.services.accounts import AccountService
from trace_sync.services.authority import Authority, AuthorityChanged, LocalAuthority, Reason
from trace_sync.services.bridges.broker import Broker
from trace_sync.services.bridges.cloud_host import CLOUD_HOST
from trace_sync.services.bridges.grants import may_use
from trace_sync.services.bridges.runtime_index import RuntimeIndex
from trace_sync.services.bridges.runtimes import issue_runtime_token
from trace_sync.services.documents import (
    SERVICES,
    Documents,
    event,
    session_doc,
    workspace_doc,
)
from trace_sync.services.lifecycle import LIVE
from trace_sync.store import Store
from trace_sync.store.records import Capability, RuntimeRecord, SessionRow

log = logging.getLogger(__name__)

#: A cloud session in these has no box (sessions.py releases it on stop and archive).
_RELEASED = frozenset({SessionStatus.STOPPED, SessionStatus.ARCHIVED})


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
        authority: Authority | None = None,
    ) -> None:
        self._store = store
        self._authority = authority or LocalAuthority()
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
        # Its tool then runs where the mover chose: not for any writer to decide.
        require_session_control(session, role, actor, "moving a session to another runtime")
        await self.place(actor, session, runtime_id)
        return await self._store.sessions.get(session_id)

    async def place(
        self, actor: Principal, session: SessionRow, runtime_id: str | None = None
    ) -> str | None:
        """Choose the session's runtime and assign it; ``None`` if it must wait."""
        runtime: RuntimeRecord | None
        if runtime_id is not None:
            runtime = await self._explicit(actor, session, runtime_id)
        elif session.runtime_id is not None and await self._broker.connected(session.runtime_id):
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
            await self._authority.publish(AuthorityChanged(Reason.PLACEMENT, session_id=session.id))
            if session.runtime_id is not None:
                await self._broker.offer(session.runtime_id, Unassign(session_id=session.id))
            await self._note(session.id, "runtime.assigned", runtime_id=runtime_id)
        if send:
            await self._broker.offer(runtime_id, await self.assignment(session))

    async def assignment(self, session: SessionRow) -> Assign:
        """What a bridge needs to host ``session`` (an ``assign`` message; a welcome
        lists them too)."""
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
        return Assign(
            session_id=session.id,
            workspace_id=session.workspace_id,
            spec=session.spec,
            repo=repo,
            branch=session.branch,
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
            if runtime.kind == "desktop" and await self._broker.connected(runtime.id):
                return runtime
        return None

    async def _cloud(self, actor: Principal, session: SessionRow) -> str | None:
        if self._cloud_host is None:
            await self._note(session.id, "runtime.waiting", reason="no cloud host is configured")
            return None
        runtime_id: str = await self._on_host("place", session.id, user=actor.user_id)
        return runtime_id

    async def released(self, session: SessionRow) -> None:
        """A cloud session was stopped, archived or deleted: its host stops its
        bridge (what it made is kept; a resume starts a new one). Never fails
        the command that called it."""
        if session.location != "cloud" or self._cloud_host is None:
            return
        try:
            await self._on_host("stop", session.id)
        except TraceError as exc:
            facts = {"session": session.id, "why": str(exc)}
            log.warning("a cloud bridge did not stop", extra=facts)

    async def forget_cloud(self, owed: Forget) -> dict[str, Any]:
        """A cloud session was deleted: its host removes its directory and what it
        brought back to the repo."""
        if self._cloud_host is None:
            return {"state": "pending", "why": "no cloud host is configured to remove it"}
        forgotten: dict[str, Any] = await self._on_host(
            "forget", owed.session_id, owed=owed.model_dump(mode="json")
        )
        return forgotten

    async def land(self, session: SessionRow, commit: str, strategy: str) -> dict[str, Any] | None:
        """A cloud session is merged in its repo, not in its bridge's clone (whose base
        may be behind the repo's): its host brings the branch back at ``commit``,
        then it is merged into the repo's base by ``strategy``. None when the
        session is not a cloud one (its bridge merges it)."""
        if session.location != "cloud" or self._cloud_host is None:
            return None
        repo = (await self.assignment(session)).repo
        if repo is None or session.branch is None:
            raise Conflict(f"session {session.id} has no repo branch to merge")
        base = session.base_branch or repo.default_branch
        await self._on_host("land", session.id, base=base, commit=commit)
        message = f"{session.title or 'Trace session'}\n\nTrace-Session: {session.id}\n"
        checkout = Path(repo.path)
        merged = await merge_branch(checkout, session.branch, base, message, strategy)  # type: ignore[arg-type]
        return asdict(merged)

    # -- the cloud host, on the process holding it (cloud_host.py) -----------------------

    async def _on_host(self, op: str, session_id: str, **args: Any) -> Any:
        """Do ``op`` on the cloud host, through whichever process holds it."""
        try:
            return await self._broker.request(CLOUD_HOST, op, session_id, args)
        except Conflict as exc:
            if not str(exc).startswith("runtime unavailable"):
                raise
            raise Conflict(f"the {self._cloud_host} host is unavailable: {exc}") from exc

    async def host_op(self, op: str, session_id: str, args: dict[str, Any]) -> Any:
        """What the holder of the cloud host does for :meth:`_on_host`."""
        host = self.hosts.get(self._cloud_host or "")
        if op == "place":
            return await self._start_box(host, args["user"], session_id)
        if op == "stop":
            return await host.stop(session_id)
        if op == "forget":
            return await host.forget(Forget.model_validate(args["owed"]))
        if op == "land":
            return await host.land(session_id, args["base"], args["commit"])
        raise Conflict(f"no cloud host operation {op!r}")

    async def settle(self, host: HostAdapter) -> None:
        """Stop the boxes ``host`` adopted whose sessions no longer want them."""
        for session_id in host.boxes():
            try:
                session = await self._store.sessions.get(session_id)
                wanted = SessionStatus(session.status) not in _RELEASED
            except NotFound:
                wanted = False
            if not wanted:
                log.info("stopping a box its session let go", extra={"session": session_id})
                await host.stop(session_id)

    async def _start_box(self, host: HostAdapter, user_id: str, session_id: str) -> str:
        session = await self._store.sessions.get(session_id)
        if session.runtime_id is not None and host.running(session.id):
            # Its box outlived a server restart and reconnects on its own: a new
            # one (and a new token, revoking the running one's) would replace it.
            return session.runtime_id
        instance = f"{host.kind}-{session.id}"
        runtime = await self._store.runtimes.register(
            user_id, instance, f"{host.kind} for {session.id}", host.kind
        )
        token = await issue_runtime_token(self._store, self._accounts, runtime)
        await self.assign(session, runtime.id, send=False)
        await self._index.publish(runtime, online=False)
        repo = (await self.assignment(session)).repo
        await host.start(
            Launch(self._server_url, runtime.id, token, session.id, instance, repo, session.branch)
        )
        return runtime.id

    async def _note(self, session_id: str, kind: str, **payload: object) -> None:
        async with self._documents.document(session_doc(session_id)) as doc:
            typed.append(doc, SESSION, "timeline", event("trace", kind, **payload), origin=SERVICES)
        if kind in ("runtime.waiting", "runtime.assigned"):
            await self._waiting(session_id, payload.get("reason"))

    async def _waiting(self, session_id: str, reason: object) -> None:
        """Why the session waits for a runtime (``None``: it does not), in its summary."""
        session = await self._store.sessions.get(session_id)
        async with self._documents.document(workspace_doc(session.workspace_id)) as doc:
            summary = typed.read_map(doc, WORKSPACE, "sessions").get(session_id)
            if isinstance(summary, SessionSummary):  # private sessions have none
                hint = None if reason is None else str(reason)
                changed = summary.model_copy(update={"waiting_reason": hint})
                typed.put(doc, WORKSPACE, "sessions", session_id, changed, origin=SERVICES)
