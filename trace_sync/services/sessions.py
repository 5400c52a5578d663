"""Sessions: start, prompt, pause, resume, stop, archive, restore, fork, hand off.

Each command checks the actor's role, moves the status through the state
machine (:mod:`trace_sync.services.lifecycle`) with a compare-and-set on the
session's row — so of two people's concurrent commands exactly one decides
on any given status — and then writes the outcome into ``session/<sid>``
(meta, desired state, prompts, timeline) and the workspace's session index.
The runtime reads ``desired`` and reports what really happens; its reports
come back through :meth:`SessionService.report_status`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any, Literal

from pycrdt import Doc

from trace_sync.auth.principal import Principal
from trace_sync.docs import typed
from trace_sync.docs.entries import (
    Checkpoint,
    Desired,
    Lineage,
    PromptEntry,
    RuntimeHealth,
    SessionMeta,
    SessionStatus,
    SessionSummary,
    TimelineEvent,
    Usage,
)
from trace_sync.docs.layouts import SESSION, WORKSPACE
from trace_sync.docs.migrations import migrate
from trace_sync.docs.names import DocKind
from trace_sync.errors import Conflict, InvalidInput, NotFound
from trace_sync.services.access import (
    require_session_control,
    require_writer,
    role_in,
    visible_session,
)
from trace_sync.services.documents import SERVICES, Documents, event, session_doc, workspace_doc
from trace_sync.services.lifecycle import LIVE, Command, apply_command, apply_report
from trace_sync.services.session_input import (
    PromptMode,
    check_branch,
    check_permission_mode,
    check_tool,
    clean_model,
    clean_title,
    new_prompt,
    slug,
    title_from,
)
from trace_sync.store import Store
from trace_sync.store.ids import new_id
from trace_sync.store.records import SessionRow
from trace_sync.store.sessions import PageAfter, Viewer

DesiredState = Literal["running", "paused", "stopped", "archived"]
#: Lifecycle commands: what the runtime should then be doing, and the timeline event.
_LIFECYCLE: dict[Command, tuple[DesiredState, str]] = {
    Command.PAUSE: ("paused", "session.paused"),
    Command.RESUME: ("running", "session.resumed"),
    Command.STOP: ("stopped", "session.stopped"),
    Command.ARCHIVE: ("archived", "session.archived"),
    Command.RESTORE: ("stopped", "session.restored"),
}
_CAS_ATTEMPTS = 5

Location = Literal["local", "cloud"]
#: Called after a session was started, forked or resumed: place it on a runtime.
NeedsRuntime = Callable[[Principal, SessionRow], Awaitable[None]]
#: Called after a session was stopped, archived or deleted: its runtime may let go.
Released = Callable[[SessionRow], Awaitable[None]]
_RELEASING = (Command.STOP, Command.ARCHIVE)


class SessionService:
    def __init__(
        self,
        store: Store,
        documents: Documents,
        on_needs_runtime: NeedsRuntime | None = None,
        on_released: Released | None = None,
    ) -> None:
        self._store = store
        self._documents = documents
        self._on_needs_runtime = on_needs_runtime
        self._on_released = on_released

    # -- queries -----------------------------------------------------------------

    async def get(self, actor: Principal, session_id: str) -> SessionRow:
        return (await visible_session(self._store, session_id, actor))[0]

    async def page(
        self,
        actor: Principal,
        workspace_id: str,
        *,
        statuses: Collection[SessionStatus] = (),
        after: PageAfter | None = None,
        limit: int = 50,
    ) -> list[SessionRow]:
        role = await role_in(self._store, workspace_id, actor)
        viewer = Viewer(actor.user_id, role.is_admin)
        wanted = [s.value for s in statuses]
        return await self._store.sessions.page(
            workspace_id, viewer, statuses=wanted, after=after, limit=limit
        )

    async def timeline(self, actor: Principal, session_id: str) -> list[TimelineEvent]:
        await visible_session(self._store, session_id, actor)
        async with self._documents.document(session_doc(session_id)) as doc:
            events = typed.read_array(doc, SESSION, "timeline")
        return [e for e in events if isinstance(e, TimelineEvent)]

    # -- commands ------------------------------------------------------------------

    async def start(
        self,
        actor: Principal,
        workspace_id: str,
        *,
        repo_id: str,
        tool: str,
        base_branch: str | None = None,
        model: str | None = None,
        prompt: str | None = None,
        title: str | None = None,
        location: Location = "local",
        private: bool = False,
        permission_mode: str = "ask",
    ) -> SessionRow:
        require_writer(await role_in(self._store, workspace_id, actor), "starting a session")
        if location not in ("local", "cloud"):
            raise InvalidInput(f"a session runs 'local' or 'cloud', not {location!r}")
        check_permission_mode(permission_mode)
        repo = await self._store.repos.get(workspace_id, repo_id)
        first = new_prompt(actor, prompt) if prompt else None
        session_id = new_id("s")
        title = clean_title(title or title_from(prompt) or f"{tool} on {repo.name}")
        row = await self._store.sessions.create(
            workspace_id,
            actor.user_id,
            session_id=session_id,
            private=private,
            title=title,
            tool=check_tool(tool),
            model=clean_model(model),
            repo_id=repo.id,
            base_branch=check_branch(base_branch or repo.default_branch),
            branch=f"trace/{slug(title)}-{session_id[-6:]}",
            status=apply_command(Command.START, SessionStatus.CREATED).value,
            location=location,
            permission_mode=permission_mode,
        )
        started = event(actor.user_id, "session.started", permission_mode=permission_mode)
        await self._write_new(row, started, first)
        await self._needs_runtime(actor, row)
        return row

    async def fork(
        self,
        actor: Principal,
        session_id: str,
        *,
        checkpoint: int | None = None,
        title: str | None = None,
        prompt: str | None = None,
    ) -> SessionRow:
        """A new session continuing this one's work, from its head or a checkpoint."""
        parent, role = await visible_session(self._store, session_id, actor)
        require_writer(role, "forking a session")
        if checkpoint is not None:
            await self._require_checkpoint(parent.id, checkpoint)
        first = new_prompt(actor, prompt) if prompt else None
        child_id = new_id("s")
        title = clean_title(title or f"{parent.title} (fork)")
        row = await self._store.sessions.create(
            parent.workspace_id,
            actor.user_id,
            session_id=child_id,
            private=parent.private,
            title=title,
            tool=parent.tool,
            model=parent.model,
            repo_id=parent.repo_id,
            base_branch=parent.branch or parent.base_branch,
            branch=f"trace/{slug(title)}-{child_id[-6:]}",
            status=apply_command(Command.START, SessionStatus.CREATED).value,
            location=parent.location,
            parent_id=parent.id,
            parent_checkpoint=checkpoint,
            permission_mode=parent.permission_mode,
        )
        started = event(actor.user_id, "session.forked", parent_id=parent.id, checkpoint=checkpoint)
        await self._write_new(row, started, first)
        note = event(actor.user_id, "session.fork_made", child_id=row.id, checkpoint=checkpoint)
        await self._write(parent, note)
        await self._needs_runtime(actor, row)
        return row

    async def send(
        self, actor: Principal, session_id: str, text: str, mode: PromptMode = "queue"
    ) -> PromptEntry:
        """Add a prompt: queued while the tool is busy, or interrupting it."""
        session, role = await visible_session(self._store, session_id, actor)
        require_writer(role, "sending a prompt")
        apply_command(Command.SEND, SessionStatus(session.status))
        entry = new_prompt(actor, text, mode)
        session = await self._store.sessions.touch(session_id)
        change = event(actor.user_id, "prompt.sent", prompt_id=entry.id, mode=mode)
        await self._write(session, change, prompt=entry)
        return entry

    async def command(self, actor: Principal, session_id: str, command: Command) -> SessionRow:
        """Pause, resume, stop, archive or restore."""
        if command not in _LIFECYCLE:
            raise InvalidInput(f"{command.value} is not a lifecycle command")
        desired, kind = _LIFECYCLE[command]
        session, role = await visible_session(self._store, session_id, actor)
        require_writer(role, f"{command.value} a session")
        session = await self._move(session_id, lambda status: apply_command(command, status))
        resumed = command is Command.RESUME
        cleared = False if resumed else None  # a resume ends an interruption
        await self._write(session, event(actor.user_id, kind), desired, interrupted=cleared)
        if resumed:
            await self._needs_runtime(actor, session)
        elif command in _RELEASING and self._on_released is not None:
            await self._on_released(session)
        return session

    async def rename(self, actor: Principal, session_id: str, title: str) -> SessionRow:
        session, role = await visible_session(self._store, session_id, actor)
        require_writer(role, "renaming a session")
        session = await self._store.sessions.touch(session_id, title=clean_title(title))
        await self._write(session, event(actor.user_id, "session.renamed", title=session.title))
        await self._store.search.put(session.id, "title", "title", session.title)
        return session

    async def hand_off(self, actor: Principal, session_id: str, new_owner_id: str) -> SessionRow:
        """Give the session to another member who may write."""
        session, role = await visible_session(self._store, session_id, actor)
        require_session_control(session, role, actor, "handing off a session")
        their_role = await self._store.directory.role_of(session.workspace_id, new_owner_id)
        if their_role is None:
            raise NotFound(f"{new_owner_id} is not a member of this workspace")
        if not their_role.can_write:
            raise InvalidInput(f"{new_owner_id} is a viewer and cannot own a session")
        session = await self._store.sessions.touch(session_id, owner_id=new_owner_id)
        change = event(actor.user_id, "session.handed_off", owner_id=new_owner_id)
        await self._write(session, change)
        return session

    async def delete(self, actor: Principal, session_id: str) -> None:
        """Forget a session that no longer runs: its row, index entry and search entries."""
        session, role = await visible_session(self._store, session_id, actor)
        require_session_control(session, role, actor, "deleting a session")
        status = SessionStatus(session.status)
        if status in LIVE or status is SessionStatus.PAUSED:
            raise Conflict(f"cannot delete a session that is {status.value}; stop it first")
        await self._store.sessions.delete(session_id)
        async with self._documents.document(workspace_doc(session.workspace_id)) as doc:
            typed.delete(doc, WORKSPACE, "sessions", session_id, origin=SERVICES)
        if self._on_released is not None:
            await self._on_released(session)

    # -- the runtime's side ------------------------------------------------------

    async def interrupt(self, session_id: str, kind: str, **payload: Any) -> SessionRow | None:
        """A live session's run was cut off (its runtime was lost or restarted):
        it becomes failed, marked interrupted and offered for resume, with ``kind``
        on its timeline. Returns ``None`` if the session was not live."""
        if SessionStatus((await self._store.sessions.get(session_id)).status) not in LIVE:
            return None
        failed = SessionStatus.FAILED
        session = await self._move(session_id, lambda status: failed if status in LIVE else status)
        if session.status != failed:
            return None  # a person's command got there first
        await self._write(session, event("runtime", kind, **payload), interrupted=True)
        return session

    async def report_status(self, session_id: str, reported: SessionStatus) -> SessionRow:
        """What the runtime says is happening (derived from ``session/<sid>/io``).

        Reports that contradict a person's command (say 'running' after
        'stopped') are ignored, as :func:`apply_report` decides."""
        before = await self._store.sessions.get(session_id)
        session = await self._move(session_id, lambda status: apply_report(reported, status))
        if session.status != before.status:
            await self._write(session, event("runtime", "status.reported", status=reported.value))
        return session

    async def report_usage(self, session_id: str, usage: Usage) -> SessionRow:
        """Tokens and cost the runtime reported: into ``session/<sid>`` usage, the
        session's row (its cost) and the workspace index."""
        session = await self._store.sessions.update(
            session_id, cost_usd=usage.cost_usd, cost_estimated=usage.estimated
        )
        whole = Usage.model_validate(usage.model_dump())  # every field set, so every one written
        async with self._documents.document(session_doc(session_id)) as doc:
            typed.put_fields(doc, SESSION, "usage", whole, origin=SERVICES)
        await self._index(session)
        return session

    async def report_health(self, session_id: str, health: RuntimeHealth) -> SessionRow:
        """The runtime's heartbeat and what the session uses: into the session's row
        and the workspace index (not activity: a heartbeat is not news)."""
        session = await self._store.sessions.update(session_id, **health.model_dump())
        await self._index(session)
        return session

    async def record_checkpoints(self, session_id: str, made: list[Checkpoint]) -> list[int]:
        """Add the runtime's checkpoints the registry lacks; return their numbers."""
        async with self._documents.document(session_doc(session_id)) as doc:
            known = {c.get("n") for c in typed.root_of(doc, SESSION, "checkpoints")}
            new = [c for c in made if c.n not in known]
            if new:
                numbers = [c.n for c in new]
                change = event("runtime", "checkpoints.recorded", numbers=numbers)
                with doc.transaction(origin=SERVICES):
                    for checkpoint in new:
                        typed.append(doc, SESSION, "checkpoints", checkpoint, origin=SERVICES)
                    typed.append(doc, SESSION, "timeline", change, origin=SERVICES)
        return [c.n for c in new]

    # -- internals -------------------------------------------------------------------

    async def _move(self, session_id: str, decide: Any) -> SessionRow:
        """Compare-and-set the status to ``decide(current)``, re-deciding if
        someone else moved it in between."""
        for _ in range(_CAS_ATTEMPTS):
            current = await self._store.sessions.get(session_id)
            target: SessionStatus = decide(SessionStatus(current.status))
            try:
                return await self._store.sessions.touch(
                    session_id, expect_status=current.status, status=target.value
                )
            except Conflict:
                continue
        raise Conflict(f"session {session_id} keeps changing; try again")

    async def _needs_runtime(self, actor: Principal, session: SessionRow) -> None:
        if self._on_needs_runtime is not None:
            await self._on_needs_runtime(actor, session)

    async def _require_checkpoint(self, session_id: str, checkpoint: int) -> None:
        async with self._documents.document(session_doc(session_id)) as doc:
            registry = list(typed.root_of(doc, SESSION, "checkpoints"))
        if not any(isinstance(c, dict) and c.get("n") == checkpoint for c in registry):
            raise NotFound(f"session {session_id} has no checkpoint {checkpoint}")

    async def _write_new(
        self, session: SessionRow, started: TimelineEvent, prompt: PromptEntry | None
    ) -> None:
        async with self._documents.document(session_doc(session.id)) as doc:
            migrate(doc, DocKind.SESSION, origin=SERVICES)
        await self._write(session, started, "running", prompt)
        await self._store.search.put(session.id, "title", "title", session.title)

    async def _write(
        self,
        session: SessionRow,
        change: TimelineEvent,
        desired: DesiredState | None = None,
        prompt: PromptEntry | None = None,
        *,
        interrupted: bool | None = None,
    ) -> None:
        """Mirror the row into ``session/<sid>`` and the workspace index, with
        ``change`` on the timeline, in one transaction per document."""
        meta = _meta(session)
        if interrupted is not None:
            meta = meta.model_copy(update={"interrupted": interrupted})
        async with self._documents.document(session_doc(session.id)) as doc:
            with doc.transaction(origin=SERVICES):
                typed.put_fields(doc, SESSION, "meta", meta, origin=SERVICES)
                if desired is not None:
                    _set_desired(doc, desired)
                if prompt is not None:
                    typed.append(doc, SESSION, "prompts", prompt, origin=SERVICES)
                typed.append(doc, SESSION, "timeline", change, origin=SERVICES)
        await self._index(session)
        if prompt is not None:
            await self._store.search.put(session.id, "prompt", prompt.id, prompt.text)

    async def _index(self, session: SessionRow) -> None:
        """The session's summary in the workspace index (private ones left out)."""
        async with self._documents.document(workspace_doc(session.workspace_id)) as doc:
            if session.private:
                typed.delete(doc, WORKSPACE, "sessions", session.id, origin=SERVICES)
            else:
                summary = _summary(session)
                typed.put(doc, WORKSPACE, "sessions", session.id, summary, origin=SERVICES)


def _set_desired(doc: Doc[Any], state: DesiredState) -> None:
    """A new generation tells the runtime to act even if the state repeats (resume twice)."""
    generation = int(typed.root_of(doc, SESSION, "desired").get("generation", 0)) + 1
    desired = Desired(state=state, generation=generation)
    typed.put_fields(doc, SESSION, "desired", desired, origin=SERVICES)


def _meta(session: SessionRow) -> SessionMeta:
    parent = None
    if session.parent_id is not None:
        parent = Lineage(session_id=session.parent_id, checkpoint=session.parent_checkpoint)
    return SessionMeta(
        id=session.id,
        workspace_id=session.workspace_id,
        title=session.title,
        tool=session.tool,
        model=session.model,
        repo_id=session.repo_id or "",
        base_branch=session.base_branch or "",
        branch=session.branch,
        status=SessionStatus(session.status),
        location=session.location,  # type: ignore[arg-type]
        private=session.private,
        creator_id=session.creator_id,
        owner_id=session.owner_id,
        created_at=session.created_at,
        parent=parent,
        permission_mode=session.permission_mode,  # type: ignore[arg-type]
    )


def _summary(session: SessionRow) -> SessionSummary:
    status = SessionStatus(session.status)
    return SessionSummary(
        title=session.title,
        status=status,
        tool=session.tool,
        branch=session.branch,
        repo_id=session.repo_id or "",
        owner_id=session.owner_id,
        private=session.private,
        last_activity=session.last_activity_at,
        cost_usd=session.cost_usd,
        cost_estimated=session.cost_estimated,
        needs_attention=status in (SessionStatus.WAITING_APPROVAL, SessionStatus.WAITING_INPUT),
        permission_mode=session.permission_mode,  # type: ignore[arg-type]
        heartbeat_at=session.heartbeat_at,
        cpu_percent=session.cpu_percent,
        memory_bytes=session.memory_bytes,
        disk_bytes=session.disk_bytes,
    )
