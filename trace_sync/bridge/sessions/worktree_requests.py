"""The server's requests on a session's worktree, answered with the git library.

``checkpoint {label}``, ``restore {n}``, ``merge {strategy}``, ``commit``, ``push``,
``fetch``, ``update {mode, leave_conflicts}``, ``read_file {path}`` and ``write_file {path,
content}``; paths are confined to the worktree by
:mod:`trace_sync.bridge.git.files`. New checkpoints (the one asked for, and the
one a restore makes of the state it replaces) are listed in io ``checkpoints``;
after a merge, push, fetch or update io ``branch`` says where the branch stands. A
restore takes the conversation back too when the tool can rewind and the
checkpoint names its point (``rewind``); its answer says plainly which it did.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from trace_sync.bridge.git.branch_sync import branch_status, fetch, push, remote_of, update
from trace_sync.bridge.git.branches import commit_state
from trace_sync.bridge.git.checkpoints import (
    create_checkpoint,
    list_checkpoints,
    restore_checkpoint,
)
from trace_sync.bridge.git.files import read_file, write_file
from trace_sync.bridge.git.merges import merge_session
from trace_sync.bridge.git.worktrees import Worktree
from trace_sync.bridge.sessions.io_writer import IoWriter
from trace_sync.bridge.tools.interface import Capabilities
from trace_sync.contract.errors import Conflict, InvalidInput, TraceError
from trace_sync.docs.entries import Checkpoint, ToolPoint

log = logging.getLogger(__name__)

#: What moves or reads the branch against its remote and base: one at a time, so
#: a fetch never counts against a tracking ref a push is rewriting.
BRANCH_OPS = {"merge", "push", "fetch", "commit", "update"}
MAX_LABEL = 200
#: The look at the remote when a session opens waits at most this long: it is
#: only there to freshen the figures after a restart.
OPENING_FETCH_S = 15.0
#: Largest file read for the server: its reply (base64 for binary) must stay
#: under the control socket's 8 MiB frame limit.
READ_LIMIT = 4 * 1024 * 1024


async def _no_rewind(point: ToolPoint) -> None:
    return None


class WorktreeRequests:
    """Answers for one session; ``tree()`` is its worktree (Conflict while it has none)."""

    def __init__(
        self,
        sid: str,
        tree: Callable[[], Worktree],
        writer: IoWriter,
        title: Callable[[], str],
        capabilities: Callable[[], Capabilities] = Capabilities,
        rewind: Callable[[ToolPoint], Awaitable[None]] = _no_rewind,
        in_turn: Callable[[], bool] = lambda: False,
    ) -> None:
        self._sid = sid
        self._tree = tree
        self._writer = writer
        self._title = title
        #: The session's tool's: whether a restore can bring its conversation back too.
        self._capabilities = capabilities
        self._branch_lock = asyncio.Lock()
        #: Has the tool's next start continue its conversation from a point.
        self._rewind = rewind
        self._in_turn = in_turn

    async def answer(self, op: str, args: dict[str, Any]) -> Any:
        handler = {
            "checkpoint": self.checkpoint,
            "restore": self.restore,
            "merge": self.merge,
            "push": self.push,
            "fetch": self.fetch,
            "commit": self.commit,
            "update": self.update,
            "read_file": self.read_file,
            "write_file": self.write_file,
        }.get(op)
        if handler is None:
            raise InvalidInput(f"unsupported operation {op!r}")
        tree = self._tree()
        if not tree.path.is_dir():
            raise Conflict(f"session {self._sid} is archived: restore it first")
        if op not in BRANCH_OPS:
            return await handler(tree, args)
        async with self._branch_lock:
            return await handler(tree, args)

    async def checkpoint(self, tree: Worktree, args: dict[str, Any]) -> Any:
        label = _text(args, "label", default="")[:MAX_LABEL]
        tool_session = self._writer.state().tool_session_id
        made = await create_checkpoint(tree, label, tool_session_id=tool_session)
        self._writer.add_checkpoint(made)
        return made.model_dump(mode="json", exclude_none=True)

    async def restore(self, tree: Worktree, args: dict[str, Any]) -> Any:
        n = args.get("n")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise InvalidInput("restore needs a checkpoint number n >= 1")
        made = await list_checkpoints(tree.checkout, self._sid)
        point = self._point(n, made)
        if point is not None and self._in_turn():
            # Going back would end the turn under way: a person decides that.
            raise Conflict(
                f"a turn is running: interrupt it or let it end, then restore checkpoint {n}"
            )
        kept = await restore_checkpoint(tree, n, point=self._current_point(made))
        if kept is not None:
            self._writer.add_checkpoint(kept)
        if point is not None:
            await self._rewind(point)
        saved = kept.n if kept is not None else None
        return {"restored": n, "saved": saved, "files": True, **self._conversation(n, point)}

    def _point(self, n: int, made: list[Checkpoint]) -> ToolPoint | None:
        """Checkpoint ``n``'s conversation point, when the tool can go back to it."""
        if not self._capabilities().rewind:
            return None
        found = next((c for c in made if c.n == n), None)
        return _point_of(found) if found is not None else None

    def _current_point(self, made: list[Checkpoint]) -> ToolPoint | None:
        """Where the tool's conversation stands: the checkpoint a restore keeps of
        the state it replaces carries it, so undoing the restore brings it back."""
        state = self._writer.state()
        if state.rewind is not None:
            return state.rewind
        ours = [c for c in made if c.tool_session_id == state.tool_session_id]
        return next(filter(None, map(_point_of, reversed(ours))), None)

    def _conversation(self, n: int, point: ToolPoint | None) -> dict[str, str]:
        """What became of the tool's conversation, said plainly."""
        if not self._capabilities().resume:
            why = "the tool keeps no conversation between turns: only files were restored"
            return {"conversation": "none", "why": why}
        if point is not None:
            why = (
                f"the tool's conversation goes back to checkpoint {n}; "
                "its next turn continues from there"
            )
            return {"conversation": "rewound", "why": why}
        why = f"only files were restored: the tool still remembers what came after checkpoint {n}"
        return {"conversation": "kept", "why": why}

    async def merge(self, tree: Worktree, args: dict[str, Any]) -> Any:
        strategy = _text(args, "strategy", default="merge")
        try:
            return asdict(await merge_session(tree, self._message(), strategy))  # type: ignore[arg-type]
        finally:
            await self.refresh_branch(tree)

    async def commit(self, tree: Worktree, args: dict[str, Any]) -> Any:
        """The worktree's state committed on the session branch (a cloud session's
        merge is made from it, once the branch is back in the repo)."""
        tip = await asyncio.to_thread(commit_state, tree, self._message())
        return {"branch": tree.branch, "commit": tip}

    async def push(self, tree: Worktree, args: dict[str, Any]) -> Any:
        try:
            return asdict(await push(tree, self._message()))
        finally:
            await self.refresh_branch(tree)

    async def fetch(self, tree: Worktree, args: dict[str, Any]) -> Any:
        """Look at the remote: io ``branch`` (also the answer) counts against what it
        has now. A remote out of reach changes nothing."""
        await fetch(tree)
        status = await branch_status(tree)
        self._writer.branch(status)
        return status.model_dump(mode="json")

    async def look_at_remote(self, tree: Worktree) -> None:
        """When the session opens: fetch once, so a restart shows what the remote has
        now; a remote out of reach is logged and left for a person to try again."""
        if await asyncio.to_thread(remote_of, tree) is None:
            return
        async with self._branch_lock:
            try:
                await fetch(tree, timeout=OPENING_FETCH_S)
            except TraceError as exc:
                why = {"session": self._sid, "error": str(exc)}
                log.info("the remote was not fetched", extra=why)
                return
            await self.refresh_branch(tree)

    async def update(self, tree: Worktree, args: dict[str, Any]) -> Any:
        mode = _text(args, "mode", default="merge")
        leave = args.get("leave_conflicts") is True
        try:
            return asdict(await update(tree, mode, self._message(), leave_conflicts=leave))  # type: ignore[arg-type]
        finally:
            await self.refresh_branch(tree)

    async def refresh_branch(self, tree: Worktree) -> None:
        """io ``branch`` says where the session branch stands now."""
        if tree.path.is_dir():
            self._writer.branch(await branch_status(tree))

    def _message(self) -> str:
        return f"{self._title() or 'Trace session'}\n\nTrace-Session: {self._sid}\n"

    async def read_file(self, tree: Worktree, args: dict[str, Any]) -> Any:
        found = await read_file(tree.path, _text(args, "path"), limit=READ_LIMIT)
        answer: dict[str, Any] = {"path": found.path, "size": found.size, "binary": found.binary}
        if found.binary:
            answer["data"] = base64.b64encode(found.data).decode()
        else:
            answer["text"] = found.text
        return answer

    async def write_file(self, tree: Worktree, args: dict[str, Any]) -> Any:
        path = _text(args, "path")
        size = await write_file(tree.path, path, _text(args, "content").encode())
        return {"path": path, "size": size}


def _point_of(checkpoint: Checkpoint) -> ToolPoint | None:
    if checkpoint.tool_session_id and checkpoint.tool_point:
        return ToolPoint(
            tool_session_id=checkpoint.tool_session_id, tool_point=checkpoint.tool_point
        )
    return None


def _text(args: dict[str, Any], name: str, default: str | None = None) -> str:
    value = args.get(name, default)
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string")
    return value
