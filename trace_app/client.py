"""The app's state and actions, without any UI: what the views draw and call.

One :class:`TraceClient` per signed-in person and server. It keeps local
replicas of the documents the person has open (:mod:`trace_app.replicas`),
sends commands through the outbox (:mod:`trace_app.outbox`), and tells its
listeners whenever anything they might draw changed.

>>> async with TraceClient(url, token, data_dir=app_data) as trace:
...     await trace.start()
...     rows = trace.sessions()
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from pycrdt import Array

from trace_app import cache, commands, notes, workspace_state
from trace_app.api import ApiClient, Unreachable
from trace_app.commands import Request
from trace_app.outbox import Command, Outbox
from trace_app.replicas import Replica, Replicas
from trace_app.session_state import SessionState, read_session
from trace_sync.client import Backoff, LinkState
from trace_sync.errors import TraceError
from trace_sync.settings import sqlite_url
from trace_sync.store import Store

log = logging.getLogger(__name__)

LOCAL = "local/app"  # never synced: the outbox and cached API answers


@dataclass(frozen=True)
class Connection:
    state: Literal["online", "connecting", "offline"]
    pending: int
    failed: int

    @property
    def label(self) -> str:
        text = {"online": "online", "connecting": "connecting…", "offline": "offline"}[self.state]
        if self.pending:
            text += f" · {self.pending} pending"
        return text


class TraceClient:
    """``async with TraceClient(server_url, token, data_dir=...)`` then :meth:`start`.

    ``data_dir`` keeps replicas and the outbox on disk (desktop, phone); with
    ``None`` they live in memory (the web app, which runs beside the server).
    """

    def __init__(
        self,
        server_url: str,
        token: str,
        *,
        data_dir: Path | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self._token = token
        self._data_dir = data_dir
        self._backoff = backoff or Backoff()
        self._listeners: list[Callable[[], None]] = []
        self._stack = AsyncExitStack()
        self.me: dict[str, Any] = {}
        self.workspace_id = ""
        self.followed: set[str] = set()
        self._listed: list[dict[str, Any]] = []

    async def __aenter__(self) -> TraceClient:
        await self._stack.__aenter__()
        updates = None
        if self._data_dir is not None:
            path = replica_path(self._data_dir, self.server_url, self._token)
            path.parent.mkdir(parents=True, exist_ok=True)
            updates = (await self._stack.enter_async_context(Store(sqlite_url(path)))).updates
        self.api = await self._stack.enter_async_context(ApiClient(self.server_url, self._token))
        self.replicas = await self._stack.enter_async_context(
            Replicas(
                self.server_url,
                self._token,
                updates,
                on_change=self._changed,
                backoff=self._backoff,
            )
        )
        self._local = await self.replicas.open(LOCAL, online=False)
        self.outbox = await self._stack.enter_async_context(
            Outbox(self.api, self._local.doc, on_done=self._done, backoff=self._backoff)
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.__aexit__(kind, exc, tb)

    # -- starting ------------------------------------------------------------------

    async def start(self, workspace_id: str | None = None) -> None:
        """Who am I (from the server, or the saved answer when it is down), then
        open the workspace. ``Unauthorized`` means the token is no good."""
        try:
            self.me = await self.api.me()
            cache.cache_put(self._local.doc, "me", self.me)
        except Unreachable:
            self.me = cache.cache_get(self._local.doc, "me") or {}
            if not self.me:
                raise
        workspaces = self.me.get("workspaces") or []
        if not workspaces:
            raise TraceError("you are not a member of any workspace yet")
        known = {w["id"] for w in workspaces}
        chosen = workspace_id if workspace_id in known else workspaces[0]["id"]
        self.workspace_id = str(chosen)
        await self.replicas.open(f"workspace/{self.workspace_id}")
        self._listed = cache.cache_get(self._local.doc, f"sessions:{self.workspace_id}") or []
        await self.refresh()

    async def refresh(self) -> None:
        """Ask the API for what the workspace document leaves out (private sessions)."""
        try:
            self._listed = await self.api.sessions(self.workspace_id)
        except TraceError as exc:  # offline, or an older server: the document still has the rest
            log.info("session list from the document only", extra={"reason": str(exc)})
            return
        cache.cache_put(self._local.doc, f"sessions:{self.workspace_id}", self._listed)
        self._changed()

    # -- what the views read -------------------------------------------------------

    @property
    def user_id(self) -> str:
        return str((self.me.get("user") or {}).get("id", ""))

    @property
    def user_name(self) -> str:
        return str((self.me.get("user") or {}).get("name", ""))

    @property
    def role(self) -> str:
        for w in self.me.get("workspaces") or []:
            if w["id"] == self.workspace_id:
                return str(w.get("role", "viewer"))
        return "viewer"

    @property
    def workspace(self) -> Replica:
        replica = self.replicas.get(f"workspace/{self.workspace_id}")
        if replica is None:
            raise TraceError("no workspace is open: call start() first")
        return replica

    def connection(self) -> Connection:
        states = {r.state for n, r in self.replicas.replicas.items() if n != LOCAL}
        if LinkState.SYNCED in states and self.outbox.reachable is not False:
            state: Literal["online", "connecting", "offline"] = "online"
        elif LinkState.CONNECTING in states and self.outbox.reachable is None:
            state = "connecting"
        else:
            state = "offline"
        box = self.outbox.commands()
        failed = sum(c.status == "failed" for c in box)
        return Connection(state, len(box) - failed, failed)

    def sessions(self) -> list[workspace_state.SessionRow]:
        return workspace_state.session_rows(self.workspace.doc, self._listed)

    def attention(self) -> list[workspace_state.SessionRow]:
        """Followed sessions (yours, or opened here) waiting for approval or input."""
        return [
            row
            for row in self.sessions()
            if row.needs_attention and (row.id in self.followed or row.owner_id == self.user_id)
        ]

    def session(self, sid: str) -> SessionState:
        docs = [self.replicas.get(name) for name in _session_docs(sid)]
        if any(d is None for d in docs):
            raise TraceError(f"session {sid} is not open")
        session, io, note = (d.doc for d in docs if d is not None)
        return read_session(sid, session, io, note)

    def commands_for(self, scope: str | None) -> list[Command]:
        return [c for c in self.outbox.commands() if scope is None or c.scope == scope]

    # -- listening -----------------------------------------------------------------

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after every change; returns the function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def _done(self, command: Command, result: Any) -> None:
        self._changed()

    # -- sessions ------------------------------------------------------------------

    async def open_session(self, sid: str) -> SessionState:
        """Open (and follow) a session's documents: from the replicas at once, then live."""
        for name in _session_docs(sid):
            writable = name.endswith("/notes") and self.role != "viewer"
            await self.replicas.open(name, writable=writable)
        self.followed.add(sid)
        notes.look_at(self.notes_of(sid), self.user_id, self.user_name, cursor=None)
        return self.session(sid)

    async def close_session(self, sid: str) -> None:
        for name in _session_docs(sid):
            await self.replicas.close(name)

    def notes_of(self, sid: str) -> Replica:
        replica = self.replicas.get(f"session/{sid}/notes")
        if replica is None:
            raise TraceError(f"session {sid} is not open")
        return replica

    async def older_output(self, sid: str, segment: str) -> str:
        """A sealed terminal segment's text (fetched once, then kept locally)."""
        replica = await self.replicas.open(f"session/{sid}/log/{segment}")
        if replica.client is not None:
            try:
                await replica.client.wait_synced(timeout=10)
            except (TimeoutError, TraceError) as exc:
                log.info("older output from the saved copy", extra={"reason": str(exc)})
        return "".join(str(v) for v in replica.doc.get("entries", type=Array))

    # -- commands ------------------------------------------------------------------

    def send(self, request: Request) -> Command:
        """Queue a command: shown as pending at once, sent now or after reconnecting."""
        return self.outbox.submit(
            request.method, request.path, request.body, label=request.label, scope=request.scope
        )

    def act(self, sid: str, verb: str) -> Command:
        return self.send(commands.lifecycle(sid, verb))

    def send_review(self, sid: str) -> Command | None:
        """Compose the open review comments into one prompt, send it, mark them sent."""
        replica = self.notes_of(sid)
        text = notes.review_prompt(replica.doc)
        if text is None:
            return None
        command = self.send(commands.prompt(sid, text))
        notes.resolve_all(replica.doc)
        return command


def replica_path(data_dir: Path, server_url: str, token: str) -> Path:
    """One replica database per server and credential (never the token itself in a name)."""
    digest = hashlib.sha256(f"{server_url}\0{token}".encode()).hexdigest()[:16]
    return data_dir / "replicas" / f"{digest}.db"


def _session_docs(sid: str) -> tuple[str, str, str]:
    return (f"session/{sid}", f"session/{sid}/io", f"session/{sid}/notes")
