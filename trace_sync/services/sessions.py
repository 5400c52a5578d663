"""Sessions: start, prompt, pause, resume, rerun, stop, archive, restore, fork, hand off.

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
from trace_sync.contract.errors import Conflict, Forbidden, InvalidInput, NotFound
from trace_sync.contract.session_spec import SessionSpec
from trace_sync.contract.tools import PermissionMode
from trace_sync.docs import typed
from trace_sync.docs.entries import (
    Desired,
    Lineage,
    PromptEntry,
    PullRequestEntry,
    RuntimeHealth,
    RuntimeState,
    SessionMeta,
    SessionStatus,
    SessionSummary,
    TimelineEvent,
    Usage,
)
from trace_sync.docs.layouts import SESSION, SESSION_IO, WORKSPACE
from trace_sync.docs.migrations import migrate
from trace_sync.docs.names import DocKind
from trace_sync.services.access import (
    require_session_control,
    require_writer,
    role_in,
    visible_session,
)
from trace_sync.services.authority import Authority, AuthorityChanged, LocalAuthority, Reason
from trace_sync.services.bridges.grants import may_use
from trace_sync.services.documents import SERVICES, Documents, event, session_doc, workspace_doc
from trace_sync.services.inbox_signal import InboxSignal
from trace_sync.services.lifecycle import (
    ACTIVE,
    AT_WORK,
    LIVE,
    Command,
    apply_command,
    apply_report,
)
from trace_sync.services.session_input import (
    PromptMode,
    clean_title,
    new_prompt,
    slug,
    title_from,
)
from trace_sync.store import Store
from trace_sync.store.ids import new_id
from trace_sync.store.records import Capability, SessionRow
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
#: While a session is being placed on a runtime, its summary keeps the router's
#: ``waiting_reason`` across rewrites.
_PLACING = (SessionStatus.CREATED, SessionStatus.STARTING)
#: Statuses that say why (the row's ``reason``, the meta's ``reason``); a pause
#: says why only when no person made it (a budget was reached).
_WITH_REASON = frozenset({SessionStatus.FAILED, SessionStatus.INTERRUPTED, SessionStatus.PAUSED})

#: Called after a session was started, forked or resumed: place it on a runtime.
NeedsRuntime = Callable[[Principal, SessionRow], Awaitable[None]]
#: Called after a session was stopped, archived or deleted: its runtime may let go.
Released = Callable[[SessionRow], Awaitable[None]]
#: Called after a session was deleted: what its runtime removed (or will), as said to people.
Deleted = Callable[[SessionRow], Awaitable[dict[str, Any]]]
_RELEASING = (Command.STOP, Command.ARCHIVE)
#: Called after the runtime reported usage (budgets look at the totals).
UsageReported = Callable[[SessionRow], Awaitable[None]]
#: Called before a session is set going again (resume, rerun): raises to refuse.
BeforeRunning = Callable[[SessionRow], Awaitable[None]]


class SessionService:
    def __init__(
        self,
        store: Store,
        documents: Documents,
        on_needs_runtime: NeedsRuntime | None = None,
        on_released: Released | None = None,
        authority: Authority | None = None,
        on_deleted: Deleted | None = None,
        on_usage: UsageReported | None = None,
        before_running: BeforeRunning | None = None,
        inbox_signal: InboxSignal | None = None,
    ) -> None:
        self._store = store
        self._documents = documents
        self._authority = authority or LocalAuthority()
        self._on_needs_runtime = on_needs_runtime
        self._on_released = on_released
        self._on_deleted = on_deleted
        self._on_usage = on_usage
        self._before_running = before_running
        self._inbox_signal = inbox_signal

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

    async def start(self, actor: Principal, workspace_id: str, spec: SessionSpec) -> SessionRow:
        """A new session in a repo of the workspace, as ``spec`` says."""
        require_writer(await role_in(self._store, workspace_id, actor), "starting a session")
        if spec.repo_id is None:
            raise InvalidInput("a session starts in a repo: give repo_id")
        repo = await self._store.repos.get(workspace_id, spec.repo_id)
        title = spec.title or title_from(spec.prompt) or f"{spec.tool} on {repo.name}"
        branch = spec.base_branch or repo.default_branch
        resolved = spec.changed(title=clean_title(title), base_branch=branch)
        started = event(actor.user_id, "session.started", permission_mode=spec.permission_mode)
        row = await self._create(actor, workspace_id, resolved, started)
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
        model: str | None = None,
        permission_mode: PermissionMode | None = None,
    ) -> SessionRow:
        """A new session continuing this one's work, from its head or a checkpoint:
        the parent's spec, on from its branch, with the given fields changed."""
        parent, role = await visible_session(self._store, session_id, actor)
        require_writer(role, "forking a session")
        if checkpoint is not None:
            await self._require_checkpoint(parent.id, checkpoint)
        changes = {"model": model, "permission_mode": permission_mode}
        spec = parent.spec.changed(
            title=clean_title(title or f"{parent.title} (fork)"),
            prompt=prompt,
            base_branch=parent.branch or parent.base_branch,
            **{name: value for name, value in changes.items() if value is not None},
        )
        started = event(actor.user_id, "session.forked", parent_id=parent.id, checkpoint=checkpoint)
        row = await self._create(actor, parent.workspace_id, spec, started, parent, checkpoint)
        note = event(actor.user_id, "session.fork_made", child_id=row.id, checkpoint=checkpoint)
        await self._write(parent, note)
        await self._needs_runtime(actor, row)
        return row

    async def _create(
        self,
        actor: Principal,
        workspace_id: str,
        spec: SessionSpec,
        started: TimelineEvent,
        parent: SessionRow | None = None,
        checkpoint: int | None = None,
    ) -> SessionRow:
        """Record a session whose spec has its title and base branch resolved."""
        first = new_prompt(actor, spec.prompt) if spec.prompt else None
        session_id = new_id("s")
        title = spec.title or f"{spec.tool} session"
        row = await self._store.sessions.create(
            workspace_id,
            actor.user_id,
            session_id=session_id,
            private=spec.private,
            title=title,
            tool=spec.tool,
            model=spec.model,
            repo_id=spec.repo_id,
            base_branch=spec.base_branch,
            branch=f"trace/{slug(title)}-{session_id[-6:]}",
            status=apply_command(Command.START, SessionStatus.CREATED).value,
            location=spec.location,
            parent_id=None if parent is None else parent.id,
            parent_checkpoint=checkpoint,
            permission_mode=spec.permission_mode,
        )
        await self._store.budgets.start_session(workspace_id, session_id)
        await self._write_new(row, started, first)
        return row

    async def send(
        self, actor: Principal, session_id: str, text: str, mode: PromptMode = "queue"
    ) -> PromptEntry:
        """Add a prompt: queued while the tool is busy, or interrupting it."""
        session, role = await visible_session(self._store, session_id, actor)
        require_writer(role, "sending a prompt")
        await self._require_typing(actor, session)
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
        if command is Command.RESUME and self._before_running is not None:
            await self._before_running(session)
        session = await self._move(session_id, lambda status: apply_command(command, status))
        resumed = command is Command.RESUME
        cleared = False if resumed else None  # a resume ends an interruption
        await self._write(session, event(actor.user_id, kind), desired, interrupted=cleared)
        if resumed:
            await self._needs_runtime(actor, session)
        elif command in _RELEASING and self._on_released is not None:
            await self._on_released(session)
        return session

    async def rerun(self, actor: Principal, session_id: str) -> SessionRow:
        """Run again what a restart cut off: the last prompt the tool took goes
        again, as a new prompt, to a fresh run of the tool (one step for a shell
        command that died with its bridge)."""
        session, role = await visible_session(self._store, session_id, actor)
        require_writer(role, "running a session's prompt again")
        await self._require_typing(actor, session)
        apply_command(Command.RERUN, SessionStatus(session.status))
        if self._before_running is not None:
            await self._before_running(session)
        cut_off = await self._last_taken(session_id)
        if cut_off is None:
            raise Conflict(f"session {session_id} has no prompt to run again")
        session = await self._move(session_id, lambda status: apply_command(Command.RERUN, status))
        entry = new_prompt(actor, cut_off.text)
        change = event(actor.user_id, "session.rerun", prompt_id=entry.id, text=cut_off.text)
        await self._write(session, change, "running", entry, interrupted=False)
        await self._needs_runtime(actor, session)
        return session

    async def _last_taken(self, session_id: str) -> PromptEntry | None:
        """The last prompt the runtime says it handed to the tool."""
        async with self._documents.document(f"{session_doc(session_id)}/io") as io:
            found = typed.read_fields(io, SESSION_IO, "runtime", RuntimeState)
        taken = 0 if isinstance(found, typed.Flagged) else found.prompts_taken
        async with self._documents.document(session_doc(session_id)) as doc:
            prompts = list(typed.root_of(doc, SESSION, "prompts"))
        if not 0 < taken <= len(prompts):
            return None
        try:
            return PromptEntry.model_validate(prompts[taken - 1])
        except ValueError:
            return None

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
        await self._authority.publish(
            AuthorityChanged(Reason.SESSION_ACCESS, session_id=session_id)
        )
        change = event(actor.user_id, "session.handed_off", owner_id=new_owner_id)
        await self._write(session, change)
        return session

    async def delete(self, actor: Principal, session_id: str) -> dict[str, Any]:
        """Forget a session that no longer runs: its row, index entry and search
        entries; returns what its runtime removed (worktree, checkpoints, branch)."""
        session, role = await visible_session(self._store, session_id, actor)
        require_session_control(session, role, actor, "deleting a session")
        status = SessionStatus(session.status)
        if status in LIVE or status is SessionStatus.PAUSED:
            raise Conflict(f"cannot delete a session that is {status.value}; stop it first")
        # Its inbox items go with it: who held them must be known before.
        holders = await self._store.inbox.holders(session_id)
        await self._store.sessions.delete(session_id)
        if self._inbox_signal is not None:
            await self._inbox_signal.changed(holders)
        await self._authority.publish(
            AuthorityChanged(Reason.SESSION_ACCESS, session_id=session_id)
        )
        async with self._documents.document(workspace_doc(session.workspace_id)) as doc:
            typed.delete(doc, WORKSPACE, "sessions", session_id, origin=SERVICES)
        removed = await self._on_deleted(session) if self._on_deleted is not None else {}
        if self._on_released is not None:
            await self._on_released(session)
        return removed

    # -- the runtime's side ------------------------------------------------------

    async def interrupt(
        self,
        session_id: str,
        kind: str,
        cut_off: frozenset[SessionStatus] = AT_WORK,
        **payload: Any,
    ) -> SessionRow | None:
        """A session's run was cut off (its runtime was lost or restarted): one in
        ``cut_off`` (at work, by default) becomes interrupted with
        ``payload["reason"]``, marked so in its meta and with ``kind`` on its
        timeline; any other status stays (an idle tool lost nothing). Returns
        ``None`` if the session was not cut off."""
        if SessionStatus((await self._store.sessions.get(session_id)).status) not in cut_off:
            return None
        halted = SessionStatus.INTERRUPTED
        why = payload.get("reason")
        moved_from, session = await self._step(
            session_id, lambda status: halted if status in cut_off else status, reason=why
        )
        if session.status != halted or moved_from.status == halted:
            # A person's command (or the tool's end) got there first, or another
            # process (a cluster's old and new leader) cut it off already.
            return None
        await self._write(session, event("runtime", kind, **payload), interrupted=True)
        return session

    async def report_status(
        self,
        session_id: str,
        reported: SessionStatus,
        reason: str | None = None,
        generation: int = 0,
        revivals: int = 0,
    ) -> SessionRow:
        """What the runtime says is happening (derived from ``session/<sid>/io``),
        with its ``reason`` when it failed or was interrupted. An interrupted
        session the runtime reports at work again, on a revival (``revivals``,
        counted in io) not seen before, was resumed by its bridge after a
        restart: ``session.resumed_after_restart`` on its timeline. An io
        document read again after its bridge died says what the dead tool did,
        with no new revival: that cannot bring the session back to work.

        Reports that contradict a person's command (say 'running' after
        'stopped') are ignored, as :func:`apply_report` decides; so are reports
        about an older command than the latest (``generation``, the desired
        state the runtime last acted on, is behind): a resumed session's new
        bridge first finds what the old one left, which is not its status."""
        before = await self._store.sessions.get(session_id)
        if 0 < generation < await self._desired_generation(session_id):
            return before
        status = SessionStatus(before.status)
        revived = status is SessionStatus.INTERRUPTED and reported in ACTIVE
        if revived and revivals <= await self._revivals_seen(session_id):
            return before  # what a dead tool said: it is not back
        unchanged = apply_report(reported, status) is status
        if unchanged and reason in (None, before.reason):
            return before  # nothing happened: the activity time (and the list order) stays
        # Compared with the row it moved from, not ``before``: another process
        # taking in the same report meanwhile made that move (and its event).
        before, session = await self._step(
            session_id, lambda status: apply_report(reported, status), reason=reason
        )
        if (session.status, session.reason) == (before.status, before.reason):
            return session
        if before.status == SessionStatus.INTERRUPTED and session.status in ACTIVE:
            # The bridge came back and resumed the tool by itself.
            kind, payload = "session.resumed_after_restart", {"reason": before.reason}
            change = event("runtime", kind, status=reported.value, **payload)
            await self._write(session, change, interrupted=False, revivals=revivals)
            return session
        payload = {"reason": session.reason} if session.reason else {}
        change = event("runtime", "status.reported", status=reported.value, **payload)
        await self._write(session, change)
        return session

    async def report_usage(self, session_id: str, usage: Usage) -> SessionRow:
        """Tokens and cost the runtime reported: into ``session/<sid>`` usage, the
        session's row (its cost) and the workspace index."""
        session = await self._store.sessions.update(
            session_id,
            cost_usd=usage.cost_usd,
            cost_estimated=usage.estimated,
            tokens=usage.input_tokens + usage.output_tokens,
        )
        whole = Usage.model_validate(usage.model_dump())  # every field set, so every one written
        async with self._documents.document(session_doc(session_id)) as doc:
            typed.put_fields(doc, SESSION, "usage", whole, origin=SERVICES)
        await self._index(session)
        if self._on_usage is not None:
            await self._on_usage(session)
        return session

    async def pause_at_budget(self, session_id: str, reason: str) -> SessionRow | None:
        """A session at work that reached its budget pauses, saying so (``reason``)
        on its row and its timeline; ``None`` if it was not at work."""
        change = event("budget", "session.budget_reached", reason=reason)
        return await self._pause_at(session_id, reason, change)

    async def pause_at_limit(self, session_id: str, reason: str) -> SessionRow | None:
        """A session at work that went past a limit its host watches (its disk)
        pauses, saying so as at a budget; ``None`` if it was not at work."""
        change = event("host", "session.limit_reached", reason=reason)
        return await self._pause_at(session_id, reason, change)

    async def _pause_at(
        self, session_id: str, reason: str, change: TimelineEvent
    ) -> SessionRow | None:
        if SessionStatus((await self._store.sessions.get(session_id)).status) not in ACTIVE:
            return None
        paused = SessionStatus.PAUSED
        moved_from, session = await self._step(
            session_id, lambda status: paused if status in ACTIVE else status, reason=reason
        )
        if session.status != paused or session.reason != reason or moved_from.status == paused:
            return None  # a person's command (or another process) got there first
        await self._write(session, change, "paused")
        return session

    async def report_health(self, session_id: str, health: RuntimeHealth) -> SessionRow:
        """The runtime's heartbeat and what the session uses: into the session's row
        and the workspace index (not activity: a heartbeat is not news)."""
        session = await self._store.sessions.update(session_id, **health.model_dump())
        await self._index(session)
        return session

    async def report_diff(self, session_id: str, added: int, removed: int) -> SessionRow:
        """Lines added and removed in the session's changed files: into the session's
        row and the workspace index (not activity: the tool's turn already was)."""
        session = await self._store.sessions.update(
            session_id, lines_added=added, lines_removed=removed
        )
        await self._index(session)
        return session

    async def report_pull_request(self, session_id: str, pr: PullRequestEntry) -> SessionRow:
        """The session's pull request as the forge last said: into the session's row
        and the workspace index, so lists show it."""
        session = await self._store.sessions.update(
            session_id, pr_number=pr.number, pr_state=pr.state, pr_checks=pr.checks_state
        )
        await self._index(session)
        return session

    # -- internals -------------------------------------------------------------------

    async def _move(self, session_id: str, decide: Any, *, reason: str | None = None) -> SessionRow:
        """Compare-and-set the status to ``decide(current)``, re-deciding if
        someone else moved it in between. A failed or interrupted session keeps
        its reason (``reason`` replaces it); any other status has none."""
        return (await self._step(session_id, decide, reason=reason))[1]

    async def _step(
        self, session_id: str, decide: Any, *, reason: str | None = None
    ) -> tuple[SessionRow, SessionRow]:
        """:meth:`_move`, returning the row it moved from and the row now."""
        for _ in range(_CAS_ATTEMPTS):
            current = await self._store.sessions.get(session_id)
            target: SessionStatus = decide(SessionStatus(current.status))
            why = (reason or current.reason) if target in _WITH_REASON else None
            # The reason too: a report that only changes it (failed, for a new
            # cause) must not be made, and told, by two members at once.
            expect = {"status": current.status, "reason": current.reason}
            try:
                moved = await self._store.sessions.touch(
                    session_id, expect=expect, status=target.value, reason=why
                )
            except Conflict:
                continue
            return current, moved
        raise Conflict(f"session {session_id} keeps changing; try again")

    async def _require_typing(self, actor: Principal, session: SessionRow) -> None:
        """Prompts that run as commands on a machine (a shell tool's, or any tool's
        in bypass mode, which asks nobody) are typing into it: they take its
        owner's terminal grant. Before the session has a runtime, only its owner
        queues such prompts (they will run wherever the owner's session goes)."""
        if session.tool != "shell" and session.permission_mode != "bypass":
            return
        if session.runtime_id is None:
            if actor.user_id != session.owner_id:
                raise Forbidden(
                    "this session runs prompts as commands and has no runtime yet: "
                    "only its owner may queue them"
                )
            return
        runtime = await self._store.runtimes.get(session.runtime_id)
        if not await may_use(self._store, actor.user_id, runtime, Capability.TERMINAL, session.id):
            raise Forbidden(
                "a prompt to a shell session runs on its runtime owner's machine: "
                "it needs their grant with the terminal capability"
            )

    async def _revivals_seen(self, session_id: str) -> int:
        async with self._documents.document(session_doc(session_id)) as doc:
            return int(typed.root_of(doc, SESSION, "meta").get("revivals", 0))

    async def _desired_generation(self, session_id: str) -> int:
        async with self._documents.document(session_doc(session_id)) as doc:
            return int(typed.root_of(doc, SESSION, "desired").get("generation", 0))

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
        await self._store.search.put(session.id, "title", "title", session.title)
        async with self._documents.document(session_doc(session.id)) as doc:
            migrate(doc, DocKind.SESSION, origin=SERVICES)
        await self._write(session, started, "running", prompt)

    async def _write(
        self,
        session: SessionRow,
        change: TimelineEvent,
        desired: DesiredState | None = None,
        prompt: PromptEntry | None = None,
        *,
        interrupted: bool | None = None,
        revivals: int | None = None,
    ) -> None:
        """Mirror the row into ``session/<sid>`` and the workspace index, with
        ``change`` on the timeline, in one transaction per document."""
        if prompt is not None:
            # Rows before the document: a failed insert then leaves the document
            # as it was, so a retry cannot append the prompt twice.
            await self._store.search.put(session.id, "prompt", prompt.id, prompt.text)
        meta = _meta(session)
        if interrupted is not None:
            meta = meta.model_copy(update={"interrupted": interrupted})
        if revivals is not None:
            meta = meta.model_copy(update={"revivals": revivals})
        async with self._documents.document(session_doc(session.id)) as doc:
            with doc.transaction(origin=SERVICES):
                typed.put_fields(doc, SESSION, "meta", meta, origin=SERVICES)
                if desired is not None:
                    _set_desired(doc, desired)
                if prompt is not None:
                    typed.append(doc, SESSION, "prompts", prompt, origin=SERVICES)
                typed.append(doc, SESSION, "timeline", change, origin=SERVICES)
        await self._index(session)

    async def _index(self, session: SessionRow) -> None:
        """The session's summary in the workspace index (private ones left out)."""
        async with self._documents.document(workspace_doc(session.workspace_id)) as doc:
            if session.private:
                typed.delete(doc, WORKSPACE, "sessions", session.id, origin=SERVICES)
            else:
                summary = _summary(session)
                before = typed.read_map(doc, WORKSPACE, "sessions").get(session.id)
                if isinstance(before, SessionSummary) and summary.status in _PLACING:
                    summary = summary.model_copy(update={"waiting_reason": before.waiting_reason})
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
        location=session.location,
        private=session.private,
        creator_id=session.creator_id,
        owner_id=session.owner_id,
        created_at=session.created_at,
        parent=parent,
        permission_mode=session.permission_mode,
        reason=session.reason,
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
        permission_mode=session.permission_mode,
        heartbeat_at=session.heartbeat_at,
        cpu_percent=session.cpu_percent,
        memory_bytes=session.memory_bytes,
        disk_bytes=session.disk_bytes,
        lines_added=session.lines_added,
        lines_removed=session.lines_removed,
        pr_number=session.pr_number,
        pr_state=session.pr_state,
        pr_checks=session.pr_checks,
    )
