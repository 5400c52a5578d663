"""The server's requests on a session's worktree, answered with the git library.

``checkpoint {label}``, ``restore {n}``, ``merge``, ``read_file {path}`` and
``write_file {path, content}``; paths are confined to the worktree by
:mod:`trace_sync.runtime.files`. New checkpoints (the one asked for, and the
one a restore makes of the state it replaces) are listed in io ``checkpoints``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from trace_sync.errors import Conflict, InvalidInput
from trace_sync.runtime.checkpoints import create_checkpoint, restore_checkpoint
from trace_sync.runtime.files import read_file, write_file
from trace_sync.runtime.io_writer import IoWriter
from trace_sync.runtime.merges import merge_session
from trace_sync.runtime.worktrees import Worktree

MAX_LABEL = 200
#: Largest file read for the server: its reply (base64 for binary) must stay
#: under the control socket's 8 MiB frame limit.
READ_LIMIT = 4 * 1024 * 1024


class WorktreeRequests:
    """Answers for one session; ``tree()`` is its worktree (Conflict while it has none)."""

    def __init__(
        self, sid: str, tree: Callable[[], Worktree], writer: IoWriter, title: Callable[[], str]
    ) -> None:
        self._sid = sid
        self._tree = tree
        self._writer = writer
        self._title = title

    async def answer(self, op: str, args: dict[str, Any]) -> Any:
        handler = {
            "checkpoint": self.checkpoint,
            "restore": self.restore,
            "merge": self.merge,
            "read_file": self.read_file,
            "write_file": self.write_file,
        }.get(op)
        if handler is None:
            raise InvalidInput(f"unsupported operation {op!r}")
        tree = self._tree()
        if not tree.path.is_dir():
            raise Conflict(f"session {self._sid} is archived: restore it first")
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
        kept = await restore_checkpoint(tree, n)
        if kept is not None:
            self._writer.add_checkpoint(kept)
        return {"restored": n, "saved": kept.n if kept is not None else None}

    async def merge(self, tree: Worktree, args: dict[str, Any]) -> Any:
        message = f"{self._title() or 'Trace session'}\n\nTrace-Session: {self._sid}\n"
        return asdict(await merge_session(tree, message))

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


def _text(args: dict[str, Any], name: str, default: str | None = None) -> str:
    value = args.get(name, default)
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string")
    return value
