"""Git and file operations on a session's worktree, done by the bridge that hosts it.

The server never touches a worktree: it checks the person's role, asks the
hosting bridge over its control socket (:meth:`Broker.request`) and returns
the bridge's answer. The bridge confines paths to the worktree; the checks
here only refuse what can never be right, before it travels.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import PurePosixPath
from typing import Any, Protocol

from trace_sync.auth.principal import Principal
from trace_sync.contract.errors import Conflict, InvalidInput
from trace_sync.docs import typed
from trace_sync.docs.layouts import SESSION
from trace_sync.services.access import require_writer, visible_session
from trace_sync.services.bridges.broker import Broker
from trace_sync.services.documents import SERVICES, Documents, event, session_doc
from trace_sync.store import Store
from trace_sync.store.records import SessionRow

#: Brings a cloud session's branch (at a commit) back from its clone and merges it
#: in its repo by a strategy (the router's ``land``); None: not a cloud session.
Landing = Callable[[SessionRow, str, str], Awaitable[dict[str, Any] | None]]


class Prompts(Protocol):
    """How a prompt is queued for a session's tool (the session service provides it)."""

    async def send(self, actor: Principal, session_id: str, text: str) -> object: ...


STRATEGIES = ("merge", "squash", "rebase")
UPDATE_MODES = ("merge", "rebase")
MAX_PATH = 4096
MAX_LABEL = 200


class WorktreeService:
    def __init__(
        self,
        store: Store,
        documents: Documents,
        broker: Broker,
        land: Landing | None = None,
        send: Prompts | None = None,
    ) -> None:
        self._store = store
        self._documents = documents
        self._broker = broker
        self._land = land
        self._send = send

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
        said = result if isinstance(result, dict) else {}
        conversation = str(said.get("conversation", "unknown"))  # older bridges do not say
        await self._note(session, actor, "checkpoint.restored", n=n, conversation=conversation)
        return result

    async def merge(self, actor: Principal, session_id: str, strategy: str = "merge") -> Any:
        """Bring the session branch into its base by ``strategy`` (merge, squash or
        rebase): ``{merged, commit?, conflicts, strategy}``."""
        if strategy not in STRATEGIES:
            raise InvalidInput(f"a merge strategy is one of {', '.join(STRATEGIES)}")
        session = await self._writable(actor, session_id, "merging a session")
        result = None
        if session.location == "cloud" and self._land is not None:
            made = await self._ask(session, "commit")  # the sandbox's clone cannot reach the repo
            if not isinstance(made, dict) or not isinstance(made.get("commit"), str):
                raise Conflict(f"the bridge of session {session.id} did not commit its work")
            result = await self._land(session, made["commit"], strategy)
        if result is None:
            result = await self._ask(session, "merge", strategy=strategy)
        merged = isinstance(result, dict) and bool(result.get("merged"))
        kind = "session.merged" if merged else "session.merge_failed"
        conflicts = result.get("conflicts", []) if isinstance(result, dict) else []
        await self._note(
            session, actor, kind, base=session.base_branch, conflicts=conflicts, strategy=strategy
        )
        return result

    async def push(self, actor: Principal, session_id: str) -> Any:
        """Push the session branch to its repo's remote: ``{remote, branch, commit}``."""
        session = await self._writable(actor, session_id, "pushing a session")
        result = await self._ask(session, "push")
        await self._note(session, actor, "session.pushed", branch=session.branch)
        return result

    async def fetch(self, actor: Principal, session_id: str) -> Any:
        """Fetch the session branch and its base from the repo's remote; the answer is
        io ``branch`` as it now stands. A writer's action like push: it runs git on
        the host's network, and the remote's contents are not a viewer's to pull in."""
        session = await self._writable(actor, session_id, "fetching a session's remote")
        return await self._ask(session, "fetch")

    async def update(
        self, actor: Principal, session_id: str, mode: str | None = None, hand_off: bool = False
    ) -> Any:
        """Bring the base branch into the session branch, by ``mode`` or the repo's
        choice. With ``hand_off``, conflicts stay in the worktree and the tool is
        asked to resolve them: ``{updated, mode, commit?, conflicts, left_in_worktree}``."""
        session = await self._writable(actor, session_id, "updating a session")
        mode = mode or await self._update_mode(session)
        if mode not in UPDATE_MODES:
            raise InvalidInput(f"an update is one of {', '.join(UPDATE_MODES)}")
        if hand_off and self._send is None:
            raise Conflict("this server cannot hand conflicts to the tool")
        result = await self._ask(session, "update", mode=mode, leave_conflicts=hand_off)
        conflicts = result.get("conflicts", []) if isinstance(result, dict) else []
        kind = "session.updated" if conflicts == [] else "session.update_failed"
        await self._note(session, actor, kind, mode=mode, conflicts=conflicts)
        if conflicts and hand_off and self._send is not None:
            base = session.base_branch or "the base branch"
            await self._send.send(actor, session.id, conflict_prompt(base, mode, conflicts))
        return result

    async def _update_mode(self, session: SessionRow) -> str:
        if session.repo_id is None:
            return "merge"
        repo = await self._store.repos.get(session.workspace_id, session.repo_id)
        return repo.setup.update_mode

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


def conflict_prompt(base: str, mode: str, paths: list[str]) -> str:
    """What the tool is asked when an update left conflicts in its worktree."""
    listed = "\n".join(f"- {path}" for path in paths[:100])
    finish = "git commit --no-edit" if mode == "merge" else "git rebase --continue"
    return (
        f"Bringing {base} into this branch ({mode}) stopped on conflicts in:\n{listed}\n\n"
        "Resolve the conflict markers in these files, keeping what both sides meant, "
        f"then `git add` them and run `{finish}`."
    )
