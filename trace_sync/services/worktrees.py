"""Git and file operations on a session's worktree, done by the bridge that hosts it.

The server never touches a worktree: it checks the person's role, asks the
hosting bridge over its control socket (:meth:`Broker.request`) and returns
the bridge's answer. The bridge confines paths to the worktree; the checks
here only refuse what can never be right, before it travels.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from trace_sync.auth.principal import Principal
from trace_sync.docs import typed
from trace_sync.docs.layouts import SESSION
from trace_sync.errors import Conflict, InvalidInput
from trace_sync.services.access import require_writer, visible_session
from trace_sync.services.broker import Broker
from trace_sync.services.documents import SERVICES, Documents, event, session_doc
from trace_sync.store import Store
from trace_sync.store.records import SessionRow

MAX_PATH = 4096
MAX_LABEL = 200


class WorktreeService:
    def __init__(self, store: Store, documents: Documents, broker: Broker) -> None:
        self._store = store
        self._documents = documents
        self._broker = broker

    async def checkpoint(self, actor: Principal, session_id: str, label: str = "") -> Any:
        """A checkpoint of the worktree now; the bridge lists it in io ``checkpoints``."""
        if len(label) > MAX_LABEL:
            raise InvalidInput(f"a checkpoint label is at most {MAX_LABEL} characters")
        session = await self._writable(actor, session_id, "making a checkpoint")
        return await self._ask(session, "checkpoint", label=label)

    async def restore(self, actor: Principal, session_id: str, n: int) -> Any:
        """Bring the worktree back to checkpoint ``n``."""
        if n < 1:
            raise InvalidInput("checkpoints are numbered from 1")
        session = await self._writable(actor, session_id, "restoring a checkpoint")
        result = await self._ask(session, "restore", n=n)
        await self._note(session, actor, "checkpoint.restored", n=n)
        return result

    async def merge(self, actor: Principal, session_id: str) -> Any:
        """Merge the session branch into its base: ``{merged, commit?, conflicts}``."""
        session = await self._writable(actor, session_id, "merging a session")
        result = await self._ask(session, "merge")
        merged = isinstance(result, dict) and bool(result.get("merged"))
        kind = "session.merged" if merged else "session.merge_failed"
        conflicts = result.get("conflicts", []) if isinstance(result, dict) else []
        await self._note(session, actor, kind, base=session.base_branch, conflicts=conflicts)
        return result

    async def read_file(self, actor: Principal, session_id: str, path: str) -> Any:
        session, _ = await visible_session(self._store, session_id, actor)
        return await self._ask(session, "read_file", path=_relative(path))

    async def write_file(self, actor: Principal, session_id: str, path: str, content: str) -> Any:
        session = await self._writable(actor, session_id, "writing a file")
        return await self._ask(session, "write_file", path=_relative(path), content=content)

    async def _writable(self, actor: Principal, session_id: str, doing: str) -> SessionRow:
        session, role = await visible_session(self._store, session_id, actor)
        require_writer(role, doing)
        return session

    async def _ask(self, session: SessionRow, op: str, **args: Any) -> Any:
        if session.runtime_id is None:
            raise Conflict(f"runtime unavailable: no runtime hosts session {session.id}")
        return await self._broker.request(session.runtime_id, op, session.id, args)

    async def _note(self, session: SessionRow, actor: Principal, kind: str, **payload: Any) -> None:
        async with self._documents.document(session_doc(session.id)) as doc:
            change = event(actor.user_id, kind, **payload)
            typed.append(doc, SESSION, "timeline", change, origin=SERVICES)


def _relative(path: str) -> str:
    """A worktree-relative path, refused if it could only mean somewhere else."""
    if not path or len(path) > MAX_PATH or "\x00" in path:
        raise InvalidInput(f"a file path is 1-{MAX_PATH} characters without NUL")
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or "\\" in path:
        raise InvalidInput(f"{path!r} is not a path inside the worktree")
    return str(pure)
