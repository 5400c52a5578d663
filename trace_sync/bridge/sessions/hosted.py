"""One hosted session: its documents, worktree, tool, terminals and file watch.

``session/<sid>`` is read (never written: it is the server's), and every
change to it wakes one reconcile pass:

- ``desired``: each generation is acted on once and recorded in io
  ``runtime.generation`` — running starts the tool (resuming its own session
  when io names one) or continues a paused one; paused stops its processes;
  stopped ends it, keeping its resume id; archived also archives the worktree.
  A host opened after the bridge restarted finds its generation already
  recorded and first ends what the dead bridge's tool left running
  (:mod:`.leftovers`). Then it revives what the restart found: a tool that
  was idle starts again, idle; one cut off mid-turn is ``interrupted`` and,
  if it can resume, is started on its own conversation with
  :data:`CONTINUE` (its pending requests were closed: it asks again); one
  that cannot (a shell command) stays interrupted, saying which command
  died, until a person resumes or reruns it.
- ``prompts`` and ``decisions`` go to the tool (:class:`SessionInbox`).

Turn ends make a checkpoint (paired with the tool's conversation point);
restoring one of a tool that can rewind records io ``runtime.rewind``, and the
tool's next start continues from that point (a tool idle between turns is
ended and started again at once). The worktree watcher keeps io ``files``
current; health is sampled at each heartbeat into io ``runtime``.

>>> async with HostedSession(assignment, env) as host:
...     await host.request("checkpoint", {"label": "before"})
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trace_sync.bridge import leftovers
from trace_sync.bridge.git.archives import archive
from trace_sync.bridge.git.checkpoints import create_checkpoint, list_checkpoints, snapshot
from trace_sync.bridge.git.gitexec import rev
from trace_sync.bridge.git.watcher import watch_changes
from trace_sync.bridge.git.worktrees import Worktree, disk_usage
from trace_sync.bridge.process_tree import UsageMeter
from trace_sync.bridge.sessions.inbox import SessionInbox
from trace_sync.bridge.sessions.io_writer import IoWriter
from trace_sync.bridge.sessions.log_segments import ORIGIN, SyncLogSegments
from trace_sync.bridge.sessions.terminals import TOOL_TERMINAL, SessionTerminals
from trace_sync.bridge.sessions.tool import ToolSlot
from trace_sync.bridge.sessions.transcript import TranscriptWindow
from trace_sync.bridge.sessions.worktree import ensure_present, prepare
from trace_sync.bridge.sessions.worktree_requests import WorktreeRequests
from trace_sync.bridge.tools import registry
from trace_sync.bridge.tools.interface import Capabilities, TurnEnded
from trace_sync.bridge.tools.run import entry_id
from trace_sync.bridge.tools.settings import BridgeTools
from trace_sync.client.reconnect import Backoff
from trace_sync.client.sync_client import SyncClient
from trace_sync.contract.bridge_protocol import Assignment, HostedTerminal, SessionHealth
from trace_sync.contract.errors import Conflict, NotFound, TraceError
from trace_sync.docs import typed
from trace_sync.docs.entries import (
    Checkpoint,
    Desired,
    ErrorNote,
    SessionStatus,
    ToolPoint,
)
from trace_sync.docs.layouts import SESSION, SESSION_IO
from trace_sync.docs.migrations import migrate
from trace_sync.docs.names import DocKind

log = logging.getLogger(__name__)

#: Statuses that mean a tool was mid-turn: a restart cut that turn off.
_AT_WORK = {SessionStatus.RUNNING, SessionStatus.WAITING_APPROVAL, SessionStatus.WAITING_INPUT}
#: The prompt a resumed tool continues with after a restart cut its turn off.
CONTINUE = (
    "Your previous turn was cut off because the Trace bridge hosting this session "
    "restarted; anything you were waiting for was not answered. Continue where you left off."
)
#: The first turn of a new conversation when the tool's own could not be loaded.
AFRESH = (
    "Your previous turn was cut off because the Trace bridge hosting this session "
    "restarted, and your earlier conversation could not be loaded. You were asked: "
    "{asked}\nContinue where you left off, from the working tree as it is now."
)
#: Worktree disk use is measured at most this often (it walks the tree).
DISK_EVERY_S = 30.0
SYNC_WAIT_S = 10.0


@dataclass(frozen=True)
class HostedSessionEnv:
    """What every session host of a bridge shares."""

    server_url: str
    #: The runtime token (a secret: never logged).
    token: str
    data_dir: Path
    tools: BridgeTools
    runtime_id: str | None
    #: ``notify(session_id, kind, **payload)``: a bridge event for the server.
    notify: Callable[..., Awaitable[None]]
    heartbeat_s: float = 5.0
    backoff: Backoff = Backoff()
    #: Variables every process of the bridge carries (its guard's mark: see guard.py).
    marks: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"HostedSessionEnv({self.server_url!r}, {self.runtime_id!r})"


class HostedSession:
    """``async with HostedSession(assignment, env) as host``; leaving stops the tool."""

    def __init__(self, assignment: Assignment, env: HostedSessionEnv) -> None:
        self.assignment = assignment
        self.sid = assignment.session_id
        self._env = env
        self._stack = AsyncExitStack()
        self._changed = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._meter = UsageMeter()
        self.tree: Worktree | None = None
        self.health = SessionHealth()
        #: What the restart found, for :meth:`_revive`: a tool that was idle or mid-turn.
        self._found: SessionStatus | None = None
        #: A rewind ended the tool idle: the reconcile loop starts it again.
        self._restart = False

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> HostedSession:
        try:
            await self._open()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def _open(self) -> None:
        env, stack = self._env, self._stack
        await self._reap()
        self.session = await self._client(f"session/{self.sid}", read_only=True)
        self.io = await self._client(f"session/{self.sid}/io", read_only=False)
        migrate(self.io.doc, DocKind.SESSION_IO, origin=ORIGIN)
        segments = SyncLogSegments(env.server_url, self.sid, env.token, backoff=env.backoff)
        window = await stack.enter_async_context(TranscriptWindow(self.io.doc, segments))
        self.writer = IoWriter(self.io.doc, window)
        self.terminals = await stack.enter_async_context(
            SessionTerminals(self.io.doc, segments, self._notify, env=self._marked())
        )
        self.slot = ToolSlot(self.writer, self.terminals, self._turn_ended, self.wake)
        stack.push_async_callback(self.slot.stop)
        self.inbox = SessionInbox(self.session.doc, self.writer, self.slot)
        self.requests = WorktreeRequests(
            self.sid,
            self._worktree,
            self.writer,
            self._title,
            self._capabilities,
            rewind=self._rewind,
            in_turn=lambda: self.slot.in_turn,
        )
        self._settle()
        await self._prepare()
        subscription = self.session.doc.observe(lambda _: self.wake())
        stack.callback(self.session.doc.unobserve, subscription)
        stack.push_async_callback(self._cancel_tasks)
        self._spawn("reconcile", self._reconcile_loop())
        self._spawn("health", self._health_loop())
        self.wake()

    async def _client(self, name: str, *, read_only: bool) -> SyncClient:
        client = SyncClient(
            self._env.server_url,
            name,
            self._env.token,
            read_only=read_only,
            backoff=self._env.backoff,
        )
        await self._stack.enter_async_context(client)
        while True:  # a server that is down delays the host; a refusal ends it
            try:
                await client.wait_synced(SYNC_WAIT_S)
                return client
            except TimeoutError:
                log.info("waiting for the server to sync a document", extra={"doc": name})

    async def _reap(self) -> None:
        """End what this session's processes left running when an earlier bridge died."""
        ended = await asyncio.to_thread(leftovers.reap, self.sid)
        if ended:
            log.warning(
                "ended processes an earlier bridge left running",
                extra={"session": self.sid, "pids": ended},
            )

    def _settle(self) -> None:
        """Nothing runs in a host just opened: say so where io says otherwise. A
        turn at work was cut off: interrupted, with its reason (see :meth:`_revive`)."""
        self.writer.settle()
        state = self.writer.state()
        fields: dict[str, Any] = {"runtime_id": self._env.runtime_id, "pid": None}
        if state.status in _AT_WORK or state.status is SessionStatus.IDLE:
            self._found = state.status
        if state.status in _AT_WORK:
            fields |= {"status": SessionStatus.INTERRUPTED, "error": self._cut_off()}
        self.writer.runtime(**fields)
        for tid, info in dict(typed.root_of(self.io.doc, SESSION_IO, "terminals").items()).items():
            if isinstance(info, dict) and info.get("state") == "running":
                with self.io.doc.transaction(origin=ORIGIN):
                    typed.root_of(self.io.doc, SESSION_IO, "terminals")[tid] = {
                        **info,
                        "state": "exited",
                    }

    def _cut_off(self) -> str:
        """Why the turn stopped: for a tool that cannot resume, which command died."""
        if self._resumable():
            return "the bridge restarted during a turn"
        text = self._last_prompt()
        if not text:
            return "the bridge restarted while a command ran"
        return f"the bridge restarted while `{text}` ran"

    def _last_prompt(self) -> str:
        """The text of the last prompt the tool took ('' when there is none)."""
        prompts = list(typed.root_of(self.session.doc, SESSION, "prompts"))
        taken = self.writer.state().prompts_taken
        last = prompts[taken - 1] if 0 < taken <= len(prompts) else None
        text = last.get("text") if isinstance(last, dict) else None
        return text if isinstance(text, str) else ""

    def _resumable(self) -> bool:
        """Whether this session's tool can continue its own conversation."""
        tool = self.assignment.spec.tool
        try:
            adapter = registry.adapter(tool, **self._env.tools.settings(tool).options)
        except TraceError:
            return False
        return adapter.capabilities.resume and self.writer.state().tool_session_id is not None

    async def _revive(self) -> None:
        """Start again what the restart found idle or cut off, unless a person's
        newer command (a generation not yet acted on) decides instead."""
        found, self._found = self._found, None
        desired = typed.read_fields(self.session.doc, SESSION, "desired", Desired)
        newer = isinstance(desired, Desired) and desired.generation > self.writer.state().generation
        if found is None or newer or self.tree is None or self.slot.alive:
            return
        if found is SessionStatus.IDLE:
            failed = await self._start_tool()
            if failed is not None:
                self.writer.runtime(status=SessionStatus.FAILED, error=failed)
            return
        if not self._resumable():
            return  # interrupted until a person resumes or reruns it
        state = self.writer.state()
        reason = state.error
        # Counted first: the server takes the tool's reports as a revival, not as stale io.
        self.writer.runtime(revivals=state.revivals + 1)
        failed = await self._start_tool(prompt=CONTINUE)
        if failed is not None:
            # Its conversation could not be loaded (the tool was ended before it saved
            # it, say): a new one, told what it was asked, rather than a failed session.
            log.warning("resuming failed: starting afresh", extra={"session": self.sid})
            self.writer.runtime(tool_session_id=None)
            failed = await self._start_tool(prompt=AFRESH.format(asked=self._last_prompt()))
        if failed is not None:
            self.writer.runtime(error=f"{reason}; it could not resume: {failed}")

    async def _prepare(self) -> None:
        try:
            prepared = await prepare(self.assignment, self._env.data_dir)
        except TraceError as exc:
            log.error("no worktree for a session", extra={"session": self.sid, "error": str(exc)})
            self.writer.runtime(status=SessionStatus.FAILED, error=f"no worktree: {exc}")
            return
        self.tree = prepared.tree
        self.writer.runtime(worktree=str(self.tree.path), branch=self.tree.branch)
        setup = prepared.setup
        if setup is not None and not setup.ok:
            why = "timed out" if setup.timed_out else f"exited with code {setup.exit_code}"
            message = f"The setup command {setup.command!r} {why}.\n{setup.output[-2000:]}"
            self.writer.transcript.write(ErrorNote(id=entry_id(), at=_now(), message=message))
        if self.tree.path.is_dir():
            self._spawn("files", self._watch_files(self.tree))
            self._spawn("fetch", self.requests.look_at_remote(self.tree))

    # -- what the bridge asks -------------------------------------------------------------

    @property
    def hosting(self) -> bool:
        """Whether a tool of this session runs here now (what ``hello`` lists)."""
        return self.slot.alive

    def hosted_terminals(self) -> list[HostedTerminal]:
        return self.terminals.hosted(self.sid)

    def wake(self) -> None:
        self._changed.set()

    async def request(self, op: str, args: dict[str, Any]) -> Any:
        return await self.requests.answer(op, args)

    async def open_terminal(self, tid: str, opened_by: str, cols: int, rows: int) -> None:
        await self.terminals.open(tid, opened_by, self._worktree().path, cols, rows)

    async def type(self, tid: str, data: str) -> None:
        if tid == TOOL_TERMINAL:
            await self.slot.type(data)
        else:
            await self.terminals.input(tid, data)

    def resize(self, tid: str, cols: int, rows: int) -> None:
        if tid == TOOL_TERMINAL:
            self.slot.resize(cols, rows)
        else:
            self.terminals.resize(tid, cols, rows)

    async def close_terminal(self, tid: str) -> None:
        await self.terminals.close(tid)

    # -- reconciling ----------------------------------------------------------------------

    async def _reconcile_loop(self) -> None:
        await self._revive()
        while True:
            await self._changed.wait()
            self._changed.clear()
            try:
                await self._reconcile()
            except TraceError as exc:
                log.error("reconciling a session failed", extra={"session": self.sid}, exc_info=exc)
                self.writer.runtime(error=str(exc))

    async def _reconcile(self) -> None:
        found = typed.read_fields(self.session.doc, SESSION, "desired", Desired)
        if isinstance(found, Desired) and found.generation > self.writer.state().generation:
            status = await self._act(found.state)
            done: dict[str, Any] = {"generation": found.generation, "status": status}
            if status is not SessionStatus.FAILED:
                done["error"] = None  # an earlier failure (a restart, say) is over
            self.writer.runtime(**done)
        if self._restart:
            await self._start_again()
        if await self.inbox.deliver_prompts():
            self.wake()  # the next one goes when it may
        await self.inbox.deliver_decisions()

    async def _act(self, state: str) -> SessionStatus:
        if state == "archived":
            return await self._archive()
        if self.tree is not None and await ensure_present(self.tree):
            self._spawn("files", self._watch_files(self.tree))
        if state == "paused":
            self.slot.pause()
            return SessionStatus.PAUSED
        if state == "stopped":
            await self.slot.stop()
            return SessionStatus.STOPPED
        if self.slot.alive:
            self.slot.resume()
        else:
            failed = await self._start_tool()
            if failed is not None:
                self.writer.runtime(status=SessionStatus.FAILED, error=failed)
        return self.slot.status() if self.slot.alive else SessionStatus.FAILED

    async def _start_tool(self, prompt: str | None = None) -> str | None:
        """Start the tool (with ``prompt`` as its first turn); why it did not, if not."""
        # The assignment's spec is the one source of what to run: its tool, its
        # model (the bridge's tool settings give one only when the spec names
        # none) and its permission mode. The meta of session/<sid> holds the
        # same values for people to see; the bridge does not read them from there.
        spec = self.assignment.spec
        tool = spec.tool
        tree = self._worktree()
        try:
            adapter = registry.adapter(tool, **self._env.tools.settings(tool).options)
            resume_id, resume_at = self._resume_from(adapter.capabilities)
            fork = False
            if resume_id is None and self.assignment.parent and adapter.capabilities.fork:
                resume_id = await self._parent_point()
                fork = resume_id is not None
            context = self._env.tools.context(
                tool,
                tree.path,
                model=spec.model,
                permission_mode=spec.permission_mode,
                resume_id=resume_id,
                fork=fork,
                resume_at=resume_at,
            )
            marked = replace(context, env=self._marked(context.env))
            await self.slot.start(adapter, marked, prompt)
        except TraceError as exc:
            log.error("the tool did not start", extra={"session": self.sid, "error": str(exc)})
            return f"{tool} did not start: {exc}"
        return None

    def _resume_from(self, can: Capabilities) -> tuple[str | None, str | None]:
        """The tool's own conversation to continue, and the point to continue it
        from (a restore's rewind not yet taken up)."""
        state = self.writer.state()
        if can.rewind and state.rewind is not None:
            return state.rewind.tool_session_id, state.rewind.tool_point
        return (state.tool_session_id if can.resume else None), None

    async def _rewind(self, point: ToolPoint) -> None:
        """The tool's next start continues its conversation from ``point``: one
        idle between turns is ended now and started again by the reconcile loop
        (which orders it with a pause or stop sent meanwhile); a paused or ended
        one starts so when resumed."""
        self.writer.runtime(rewind=point)
        restart = self.slot.alive and not self.slot.paused
        await self.slot.stop()
        self._restart = restart  # once it is gone: a pass meanwhile saw it alive
        self.wake()

    async def _start_again(self) -> None:
        """Start the tool ended by a rewind, unless people want it paused or stopped."""
        self._restart = False
        desired = typed.read_fields(self.session.doc, SESSION, "desired", Desired)
        if self.slot.alive or not isinstance(desired, Desired) or desired.state != "running":
            return
        failed = await self._start_tool()
        if failed is not None:
            self.writer.runtime(status=SessionStatus.FAILED, error=failed)

    async def _archive(self) -> SessionStatus:
        await self.slot.stop()
        for terminal in self.terminals.hosted(self.sid):
            await self.terminals.close(terminal.terminal_id)
        await self._stop_task("files")
        if self.tree is not None and self.tree.path.exists():
            kept = await archive(self.tree)
            if kept is not None:
                self.writer.add_checkpoint(kept)
        return SessionStatus.ARCHIVED

    # -- turn ends, files, health ----------------------------------------------------------

    async def _turn_ended(self, ended: TurnEnded) -> None:
        self.wake()  # the next prompt may go
        tree = self.tree
        if tree is None or not tree.path.is_dir():
            return
        await self.requests.refresh_branch(tree)  # the tool may have committed
        state = await asyncio.to_thread(snapshot, tree.path)
        if ended.tool_point is None and state == await self._last_state(tree):
            return  # nothing new to go back to (a shell command that changed no file)
        made = await create_checkpoint(
            tree, tool_session_id=ended.tool_session_id, tool_point=ended.tool_point
        )
        self.writer.add_checkpoint(made)

    async def _last_state(self, tree: Worktree) -> str | None:
        """The tree of the last checkpoint (or of the branch head when there is none)."""
        made = typed.read_array(self.io.doc, SESSION_IO, "checkpoints")
        last = next((c for c in reversed(made) if isinstance(c, Checkpoint)), None)
        name = f"{last.commit}^{{tree}}" if last is not None else "HEAD^{tree}"
        return await asyncio.to_thread(rev, tree.path, name)

    async def _watch_files(self, tree: Worktree) -> None:
        try:
            async with watch_changes(tree) as change_sets:
                async for changes in change_sets:
                    self.writer.files(changes)
        except TraceError as exc:
            log.warning("the worktree watch ended", extra={"session": self.sid, "error": str(exc)})

    async def _health_loop(self) -> None:
        disk: int | None = None
        measured = float("-inf")
        loop = asyncio.get_running_loop()
        while True:
            usage = await asyncio.to_thread(self._meter.sample, self.slot.pid)
            tree = self.tree
            if tree is not None and loop.time() - measured >= DISK_EVERY_S:
                measured = loop.time()
                with contextlib.suppress(NotFound):
                    disk = await disk_usage(tree.path)
            status = self.writer.state().status
            cpu = usage.cpu_percent if usage is not None else None
            memory = usage.memory_bytes if usage is not None else None
            self.health = SessionHealth(
                status=status.value if status else None,
                cpu_percent=cpu,
                memory_bytes=memory,
                disk_bytes=disk,
            )
            self.writer.runtime(
                heartbeat_at=_now(), cpu_percent=cpu, memory_bytes=memory, disk_bytes=disk
            )
            await asyncio.sleep(self._env.heartbeat_s)  # the pace of heartbeats

    # -- helpers -----------------------------------------------------------------------------

    async def _parent_point(self) -> str | None:
        """The tool session of the checkpoint this fork starts from."""
        parent = self.assignment.parent
        if parent is None or self.tree is None:
            return None
        made = await list_checkpoints(self.tree.checkout, parent.session_id)
        chosen: list[Checkpoint] = [c for c in made if parent.checkpoint in (None, c.n)]
        return chosen[-1].tool_session_id if chosen else None

    def _worktree(self) -> Worktree:
        if self.tree is None:
            raise Conflict(f"session {self.sid} has no worktree on this bridge")
        return self.tree

    def _meta(self, key: str) -> Any:
        return typed.root_of(self.session.doc, SESSION, "meta").get(key)

    def _capabilities(self) -> Capabilities:
        try:
            return registry.adapter(self.assignment.spec.tool).capabilities
        except TraceError:  # a tool this bridge cannot load: claim nothing
            return Capabilities()

    def _title(self) -> str:
        return str(self._meta("title") or "")

    def _marked(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """``env`` with the marks the processes of this session carry (see leftovers.py)."""
        return leftovers.marked(self.sid, env, **self._env.marks)

    async def _notify(self, kind: str, **payload: Any) -> None:
        await self._env.notify(self.sid, kind, **payload)

    def _spawn(self, name: str, work: Awaitable[None]) -> None:
        old = self._tasks.get(name)
        if old is not None and not old.done():
            old.cancel()
        self._tasks[name] = asyncio.ensure_future(work)

    async def _stop_task(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _cancel_tasks(self) -> None:
        for name in list(self._tasks):
            await self._stop_task(name)


def _now() -> datetime:
    return datetime.now(UTC)
