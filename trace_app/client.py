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

import asyncio
import hashlib
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from pycrdt import Array

from trace_app import cache, commands, notes, viewed, workspace_state
from trace_app.commands import ApiCommand
from trace_app.inbox import InboxEntry, InboxFeed, shared_feed
from trace_app.local_replica import Change, LocalReplica
from trace_app.outbox import Outbox, QueuedCommand
from trace_app.replicas import Replicas
from trace_app.session_state import SessionState, read_session
from trace_app.shared import SHARED
from trace_app.terminal_screens import SCREENS, LiveScreen, TerminalScreens
from trace_sync.client.api import ApiClient, Unreachable
from trace_sync.client.reconnect import Backoff, LinkState
from trace_sync.contract.errors import CLOSE_CODE, Forbidden, TraceError, Unauthorized
from trace_sync.settings import sqlite_url
from trace_sync.store import Store

log = logging.getLogger(__name__)

LOCAL = "local/app"  # never synced: the outbox and cached API answers
#: What the app says, in place, while its server does not answer (desktop and web alike).
UNREACHABLE = "Cannot reach the server, retrying…"


#: What the app says when the server refused the workspace, by close code: the
#: server answers, so "retrying" would be untrue (and nothing is retried).
REFUSED = {
    CLOSE_CODE[Unauthorized]: (
        "This sign-in is no longer valid (its token was revoked). Sign in again."
    ),
    CLOSE_CODE[Forbidden]: (
        "You no longer have access to this workspace. An owner can add you again."
    ),
}
#: Said for any other refusal of the workspace.
REFUSED_OTHERWISE = "The server refused this workspace. Sign in again, or ask one of its owners."


@dataclass(frozen=True)
class ServerConnection:
    """How the app stands with its server: ``refused`` once the server closed the
    workspace for good (a removed member, a revoked token), with its close code."""

    state: Literal["online", "connecting", "offline", "refused"]
    pending: int
    failed: int
    refusal: int | None = None

    @property
    def label(self) -> str:
        text = {"refused": "no access", "connecting": "connecting…"}.get(self.state, self.state)
        if self.pending:
            text += f" · {self.pending} pending"
        return text

    @property
    def notice(self) -> str | None:
        """What the frame says above the view, if anything: the server is away, or
        it no longer lets this person in."""
        if self.state == "refused":
            return REFUSED.get(self.refusal or 0, REFUSED_OTHERWISE)
        if self.state != "offline":
            return None
        if self.pending:
            return f"{UNREACHABLE} {self.pending} change(s) will be sent when it answers."
        return UNREACHABLE


class TraceClient:
    """``async with TraceClient(server_url, token, data_dir=...)`` then :meth:`start`.

    ``data_dir`` keeps replicas and the outbox on disk (desktop, phone); with
    ``None`` they live in memory (the web app, which runs beside the server).
    Terminal output goes to ``screens`` (by default the process's, shared by all
    its clients), not to the listeners: the pane showing a screen watches it.
    With ``screens=None`` output is not heard at all (the web page draws terminals).
    ``inbox_every_s`` reads the inbox that often whether or not the person's signal
    is followed (by default every 5 s while it is not, and once a minute while it is).
    """

    def __init__(
        self,
        server_url: str,
        token: str,
        *,
        data_dir: Path | None = None,
        backoff: Backoff | None = None,
        screens: TerminalScreens | None = SCREENS,
        on_inbox_news: Callable[[list[InboxEntry]], None] | None = None,
        inbox_every_s: float | None = None,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.screens = screens
        self._on_inbox_news = on_inbox_news
        self._inbox_every_s = inbox_every_s
        self._token = token
        self._data_dir = data_dir
        self._backoff = backoff or Backoff()
        self._listeners: list[Callable[[], None]] = []
        self._stack = AsyncExitStack()
        self.me: dict[str, Any] = {}
        self.workspace_id = ""
        self.followed: set[str] = set()
        #: Per session, what the last command's answer said of itself (a restore:
        #: whether the tool's conversation went back too), until dismissed.
        self.said: dict[str, str] = {}
        #: The role, read once per change of the workspace's members (views ask often).
        self._role: str | None = None
        self._listed: list[dict[str, Any]] = []

    async def __aenter__(self) -> TraceClient:
        await self._stack.__aenter__()
        updates = None
        if self._data_dir is not None:
            path = replica_path(self._data_dir, self.server_url, self._token)
            path.parent.mkdir(parents=True, exist_ok=True)
            updates = (await self._stack.enter_async_context(Store(sqlite_url(path)))).updates
        self.api = await self._stack.enter_async_context(
            ApiClient(self.server_url, self._token, timeout=15.0)
        )
        self.replicas = await self._stack.enter_async_context(
            Replicas(
                self.server_url,
                self._token,
                updates,
                on_change=self._heard,
                backoff=self._backoff,
                unheard=frozenset({"output"}) if self.screens is None else frozenset(),
                shared=SHARED,  # a person's tabs share what they read
            )
        )
        self._local = await self.replicas.open(LOCAL, online=False)
        self.outbox = await self._stack.enter_async_context(
            Outbox(self.api, self._local.doc, on_done=self._done, backoff=self._backoff)
        )
        options: dict[str, Any] = {"backoff": self._backoff}
        if self._inbox_every_s is not None:  # tests: one period, followed or not
            options["every_s"] = options["safety_every_s"] = self._inbox_every_s
        #: What needs this person (the badge, the inbox view, the tab's title): the
        #: web app's tabs of one person share one feed; a client that notifies of news
        #: (the desktop) keeps its own.
        self.inbox = await self._stack.enter_async_context(
            shared_feed(self.server_url, self._token, self._changed, **options)
            if self._data_dir is None and self._on_inbox_news is None
            else InboxFeed(self.api, self._changed, on_new=self._on_inbox_news, **options)
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
        self._role = None
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
        """This person's role as the workspace document has it (a change made by an
        admin shows at once, no reload); what /api/me said until the document has synced."""
        if self._role is None:
            self._role = self._read_role()
        return self._role

    def _read_role(self) -> str:
        replica = self.replicas.get(f"workspace/{self.workspace_id}")
        if replica is not None:
            me = workspace_state.members(replica.doc).get(self.user_id)
            if me is not None:
                return me.role
        for w in self.me.get("workspaces") or []:
            if w["id"] == self.workspace_id:
                return str(w.get("role", "viewer"))
        return "viewer"

    @property
    def workspace(self) -> LocalReplica:
        replica = self.replicas.get(f"workspace/{self.workspace_id}")
        if replica is None:
            raise TraceError("no workspace is open: call start() first")
        return replica

    def connection(self) -> ServerConnection:
        box = self.outbox.commands()
        failed = sum(c.status == "failed" for c in box)
        workspace = self.replicas.get(f"workspace/{self.workspace_id}")
        if workspace is not None and workspace.state is LinkState.REFUSED:
            return ServerConnection("refused", len(box) - failed, failed, workspace.close_code)
        states = {r.state for n, r in self.replicas.replicas.items() if n != LOCAL}
        state: Literal["online", "connecting", "offline"]
        if LinkState.SYNCED in states and self.outbox.reachable is not False:
            state = "online"
        elif LinkState.CONNECTING in states and self.outbox.reachable is None:
            state = "connecting"
        else:
            state = "offline"
        return ServerConnection(state, len(box) - failed, failed)

    def sessions(self) -> list[workspace_state.SessionListRow]:
        return workspace_state.session_rows(self.workspace.doc, self._listed)

    def attention(self) -> list[workspace_state.SessionListRow]:
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
        return read_session(sid, session, io, note, self.workspace.doc)

    def commands_for(self, scope: str | None) -> list[QueuedCommand]:
        return [c for c in self.outbox.commands() if scope is None or c.scope == scope]

    # -- listening -----------------------------------------------------------------

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after every change; returns the function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _heard(self, change: Change) -> None:
        if change.root in ("output", "terminals") and change.document.endswith("/io"):
            sid = change.document.split("/")[1]
            io = self.replicas.get(change.document)
            if io is not None and self.screens is not None:
                self.screens.heard(self.server_url, sid, io.roots, change.root, list(change.events))
            if change.root == "output" or _only_seals(change.events):  # only screens show these
                return
        if change.root == "members" and change.document == f"workspace/{self.workspace_id}":
            self._role = None  # read again when next asked
            # after the observer: the document cannot be read inside its transaction
            asyncio.get_running_loop().call_soon(self._notes_follow_role)
        self._changed()

    def _notes_follow_role(self) -> None:
        """The open sessions' notes (draft, notes, review comments) are written to from
        now on, or no longer, as this person's role now says (the server decides the
        same for the open connection at once)."""
        reader = self.role == "viewer"
        for name, replica in self.replicas.replicas.items():
            if name.endswith("/notes") and replica.client is not None:
                replica.client.read_only = reader

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def _done(self, command: QueuedCommand, result: Any) -> None:
        why = result.get("why") if isinstance(result, dict) else None
        if isinstance(why, str) and command.scope is not None:
            self.said[command.scope] = f"{command.label}: {why}"
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

    def absent(self) -> None:
        """Withdraw this page's presence from every open session (its tab closed)."""
        for replica in self._notes():
            replica.set_presence(None)

    def present(self) -> None:
        """Tell every open session again that this page is looking (its tab came back)."""
        for replica in self._notes():
            notes.look_at(replica, self.user_id, self.user_name, cursor=None)

    def _notes(self) -> list[LocalReplica]:
        return [r for name, r in self.replicas.replicas.items() if name.endswith("/notes")]

    async def close_session(self, sid: str) -> None:
        for name in _session_docs(sid):
            await self.replicas.close(name)

    def viewed(self, sid: str, path: str, diff: str | None) -> bool:
        """Whether this person marked ``path`` viewed as its diff is now."""
        return viewed.is_viewed(self._local.doc, sid, path, diff)

    def mark_viewed(self, sid: str, path: str, diff: str | None, on: bool) -> None:
        viewed.mark(self._local.doc, sid, path, diff, on)
        self._changed()

    def notes_of(self, sid: str) -> LocalReplica:
        replica = self.replicas.get(f"session/{sid}/notes")
        if replica is None:
            raise TraceError(f"session {sid} is not open")
        return replica

    def screen(self, sid: str, tid: str) -> LiveScreen | None:
        """The live screen of terminal ``tid`` (shared with this process's other
        clients of this server); keep it while it is shown. ``None`` where the
        session is not open, or where the page draws terminals."""
        io = self.replicas.get(f"session/{sid}/io")
        if io is None or self.screens is None:
            return None
        return self.screens.open((self.server_url, sid, tid), io.roots)

    async def older_output(self, sid: str, segment: str) -> str:
        """A sealed terminal segment's text (fetched once, then kept locally)."""
        replica = await self.replicas.open(f"session/{sid}/log/{segment}")
        try:
            await replica.wait_synced(timeout=10)
        except (TimeoutError, TraceError) as exc:
            log.info("older output from the saved copy", extra={"reason": str(exc)})
        return "".join(str(v) for v in replica.doc.get("entries", type=Array))

    # -- commands ------------------------------------------------------------------

    def send(self, request: ApiCommand) -> QueuedCommand:
        """Queue a command: shown as pending at once, sent now or after reconnecting."""
        return self.outbox.submit(
            request.method, request.path, request.body, label=request.label, scope=request.scope
        )

    def act(self, sid: str, verb: str) -> QueuedCommand:
        return self.send(commands.lifecycle(sid, verb))

    def send_review(self, sid: str) -> QueuedCommand | None:
        """Compose the open review comments into one prompt, send it, mark them sent."""
        replica = self.notes_of(sid)
        text = notes.review_prompt(replica.doc)
        if text is None:
            return None
        command = self.send(commands.prompt(sid, text))
        notes.resolve_all(replica.doc)
        return command


def _only_seals(events: list[Any] | tuple[Any, ...]) -> bool:
    """Whether a change of the terminals moved only where their windows start (a seal):
    the screens and the page's terminals follow that themselves, and a view redrawn for
    it would draw the same (every tab redrew once per seal, twice a minute of output)."""
    changes = [change for event in events for change in getattr(event, "keys", {}).values()]
    return bool(changes) and all(
        change.get("action") == "update"
        and isinstance(old := change.get("oldValue"), dict)
        and isinstance(new := change.get("newValue"), dict)
        and old | {"sealed_chars": None} == new | {"sealed_chars": None}
        for change in changes
    )


def replica_path(data_dir: Path, server_url: str, token: str) -> Path:
    """One replica database per server and credential (never the token itself in a name)."""
    digest = hashlib.sha256(f"{server_url}\0{token}".encode()).hexdigest()[:16]
    return data_dir / "replicas" / f"{digest}.db"


def _session_docs(sid: str) -> tuple[str, str, str]:
    return (f"session/{sid}", f"session/{sid}/io", f"session/{sid}/notes")
