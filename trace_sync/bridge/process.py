"""The bridge process: one runtime of a person, hosting the sessions placed on it.

It registers once with the person's token (keeping its runtime token in its
data dir), keeps the ``/bridge`` control link up, and hosts exactly the
sessions the server's welcome and ``assign``/``unassign`` messages say — each
in a :class:`HostedSession` of its own, opened in a task (making a worktree and
running its setup can take a while; the link keeps serving meanwhile).
Heartbeats carry each session's health. Its hello lists the sessions whose
tool runs here now, so after a restart the server marks the runs that died
with the old process interrupted. A revoked runtime token (4401) registers
again; another refusal (4403, 4409) ends the bridge with that error.

One bridge per data dir (a lock file says which process holds it). Leaving
the block stops every tool (their resume ids stay in io), flushes the
documents, then closes the link. A bridge that dies instead takes its tools
with it: its guard process ends them (guard.py).

>>> async with Bridge(BridgeConfig(url, user_token, data_dir)) as bridge:
...     await bridge.wait_welcomed()
...     await bridge.finished()   # until refused; cancel to stop
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trace_sync import __version__
from trace_sync.bridge.guard import Guard
from trace_sync.bridge.link import BridgeLink
from trace_sync.bridge.previews import Previews
from trace_sync.bridge.registration import (
    RuntimeCredentials,
    ensure_registered,
    instance_id,
    register,
    save_credentials,
)
from trace_sync.bridge.sessions.hosted import HostedSession, HostedSessionEnv
from trace_sync.bridge.sessions.worktree import forget
from trace_sync.bridge.tools import registry
from trace_sync.bridge.tools.settings import BridgeTools
from trace_sync.client.api import Unreachable
from trace_sync.client.reconnect import Backoff, LinkState
from trace_sync.contract.bridge_protocol import (
    Assignment,
    Forget,
    Hello,
    Request,
    RuntimeKind,
    ServerMessage,
    SessionHealth,
    TerminalClose,
    TerminalInput,
    TerminalOpen,
    TerminalResize,
    ToolInfo,
    Unassign,
    Welcome,
)
from trace_sync.contract.errors import CLOSE_CODE, Conflict, NotFound, TraceError, Unauthorized

log = logging.getLogger(__name__)

#: Variables that would point every git command of the bridge at another repository.
GIT_VARIABLES = ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE")
LOCK_FILE = "bridge.lock"
#: How long a request or keystroke waits for a session host that is still opening.
OPENING_WAIT_S = 25.0


@dataclass(frozen=True)
class BridgeConfig:
    server_url: str
    #: The person's token, used to register (a secret: never logged).
    user_token: str = field(repr=False)
    data_dir: Path
    name: str = field(default_factory=socket.gethostname)
    kind: RuntimeKind = "desktop"
    backoff: Backoff = Backoff()


@dataclass
class _Hosted:
    assignment: Assignment
    ready: asyncio.Future[HostedSession]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    host: HostedSession | None = None


class Bridge:
    """``async with Bridge(config) as bridge``: registered, connected, hosting."""

    def __init__(self, config: BridgeConfig) -> None:
        self.config = config
        self.data_dir = config.data_dir.expanduser().resolve()
        self.link: BridgeLink | None = None
        self.runtime_id: str | None = None
        self.heartbeat_s = 5.0
        self._hosts: dict[str, _Hosted] = {}
        self._welcomed = asyncio.Event()
        self._creds: RuntimeCredentials | None = None
        self._tools: BridgeTools | None = None
        self._tool_infos: list[ToolInfo] = []
        self._lock: int | None = None
        self._guard = Guard()
        self._supervisor: asyncio.Task[None] | None = None
        self._forgetting: set[asyncio.Task[None]] = set()
        self._previews = Previews(self._notify)

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Bridge:
        for name in GIT_VARIABLES:
            os.environ.pop(name, None)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = _lock(self.data_dir / LOCK_FILE)
        try:
            self._guard.__enter__()
            self._tools = BridgeTools(self.data_dir)
            self._tool_infos = await asyncio.to_thread(_tool_infos, self._tools)
            config = self.config
            self._creds = await ensure_registered(
                self.data_dir, config.server_url, config.user_token, config.name, config.kind
            )
        except BaseException:
            self._release()
            raise
        self._supervisor = asyncio.create_task(self._supervise(), name="bridge")
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await asyncio.gather(*(self._drop(sid) for sid in list(self._hosts)))
            if self._supervisor is not None:
                self._supervisor.cancel()
                await asyncio.gather(self._supervisor, return_exceptions=True)
        finally:
            self._release()

    async def wait_welcomed(self, timeout: float = 30.0) -> None:
        """Until the server has welcomed this bridge (raises if it refused it)."""
        waiter = asyncio.ensure_future(self._welcomed.wait())
        assert self._supervisor is not None  # set on entering
        await asyncio.wait(
            {waiter, self._supervisor}, timeout=timeout, return_when="FIRST_COMPLETED"
        )
        waiter.cancel()
        if self._supervisor.done():
            self._supervisor.result()
        if not self._welcomed.is_set():
            raise TimeoutError(f"no welcome from {self.config.server_url} within {timeout} s")

    async def finished(self) -> None:
        """Until the server refuses this bridge for good (its error raised)."""
        assert self._supervisor is not None
        await asyncio.shield(self._supervisor)

    def reload_settings(self) -> None:
        """Read ``tools.toml`` again now (on SIGHUP); the next tool run uses it."""
        if self._tools is not None:
            self._tools.reload()

    @property
    def sessions(self) -> dict[str, HostedSession]:
        """The session hosts that are open."""
        return {sid: h.host for sid, h in self._hosts.items() if h.host is not None}

    async def _supervise(self) -> None:
        """Keep a link up; after a 4401 register again, after other refusals give up."""
        while True:
            refused = asyncio.Event()
            creds = self._credentials()
            link = BridgeLink(
                creds.server_url,
                creds.token,
                self._hello,
                self,
                health=self._health,
                backoff=self.config.backoff,
                on_state=_when_refused(refused),
            )
            async with link:
                self.link = link
                await refused.wait()
            self.link = None
            self._welcomed.clear()
            if link.close_code != CLOSE_CODE[Unauthorized]:
                raise link.refusal()
            log.warning("the runtime token was refused; registering again")
            await self._register_again()

    async def _register_again(self) -> None:
        await asyncio.gather(*(self._drop(sid) for sid in list(self._hosts)))  # their token is void
        config = self.config
        instance = instance_id(self.data_dir)
        for attempt in itertools.count():
            try:
                creds = await register(
                    config.server_url, config.user_token, instance, config.name, config.kind
                )
                break
            except Unauthorized as exc:
                raise Unauthorized(f"the runtime token was revoked and {exc}") from exc
            except Unreachable:  # a server restarting meanwhile: its sessions wait for us
                log.info("waiting for the server to register again", extra={"try": attempt})
                await asyncio.sleep(config.backoff.delay(attempt))
        save_credentials(self.data_dir, creds)
        self._creds = creds

    # -- BridgeHandler -------------------------------------------------------------------

    async def welcome(self, welcome: Welcome) -> None:
        self.runtime_id = welcome.runtime_id
        self.heartbeat_s = welcome.heartbeat_s
        wanted = {a.session_id: a for a in welcome.assignments}
        await asyncio.gather(*(self._drop(sid) for sid in list(self._hosts) if sid not in wanted))
        for assignment in wanted.values():
            self._host(assignment)
        for owed in welcome.forget:  # sessions deleted while this bridge was away
            self._spawn_forget(owed)
        self._welcomed.set()
        log.info("welcomed", extra={"runtime": welcome.runtime_id, "sessions": len(wanted)})

    async def message(self, message: ServerMessage) -> None:
        if isinstance(message, Assignment):
            self._host(message)
        elif isinstance(message, Unassign):
            await self._drop(message.session_id)
        elif isinstance(message, TerminalOpen):
            await self._open_terminal(message)
        elif isinstance(message, TerminalInput):
            host = await self._ready(message.session_id)
            await host.type(message.terminal_id, message.data)
        elif isinstance(message, TerminalResize):
            host = await self._ready(message.session_id)
            host.resize(message.terminal_id, message.cols, message.rows)
        elif isinstance(message, TerminalClose):
            host = await self._ready(message.session_id)
            await host.close_terminal(message.terminal_id)

    async def request(self, request: Request) -> Any:
        if request.op == "forget":
            owed = Forget.model_validate(request.args | {"session_id": request.session_id})
            return await self._forget(owed)
        host = await self._ready(request.session_id)
        if request.op.startswith("preview_"):  # only for sessions hosted here (awaited above)
            return await self._previews.request(request.session_id, request.op, request.args)
        return await host.request(request.op, request.args)

    # -- hosts ---------------------------------------------------------------------------

    def _host(self, assignment: Assignment) -> None:
        sid = assignment.session_id
        known = self._hosts.get(sid)
        if known is not None:  # placed here again: what may change takes effect at next start
            known.assignment = assignment
            if known.host is not None:
                known.host.assignment = assignment
            return
        ready: asyncio.Future[HostedSession] = asyncio.get_running_loop().create_future()
        hosted = self._hosts[sid] = _Hosted(assignment, ready)
        hosted.task = asyncio.create_task(self._run_host(hosted), name=f"host {sid}")

    async def _run_host(self, hosted: _Hosted) -> None:
        sid = hosted.assignment.session_id
        try:
            async with HostedSession(hosted.assignment, self._env()) as host:
                hosted.host = host
                hosted.ready.set_result(host)
                await hosted.stop.wait()
        except (TraceError, OSError) as exc:
            log.error("a session could not be hosted", extra={"session": sid}, exc_info=exc)
            if not hosted.ready.done():
                hosted.ready.set_exception(Conflict(f"session {sid} is not hosted here: {exc}"))
        finally:
            hosted.host = None
            if self._hosts.get(sid) is hosted:
                del self._hosts[sid]

    async def _drop(self, sid: str) -> None:
        hosted = self._hosts.get(sid)
        if hosted is not None and hosted.task is not None:
            hosted.stop.set()
            await asyncio.gather(hosted.task, return_exceptions=True)
        await self._previews.end(sid)

    async def _forget(self, owed: Forget) -> dict[str, Any]:
        """Stop hosting a deleted session and remove what it made here."""
        await self._drop(owed.session_id)
        removed = await forget(owed, self.data_dir)
        log.info("removed a deleted session", extra={"session": owed.session_id})
        return {"state": "done", **removed.as_dict()}

    def _spawn_forget(self, owed: Forget) -> None:
        async def run() -> None:
            try:
                await self._forget(owed)
            except TraceError as exc:
                log.error(
                    "a deleted session was not removed",
                    extra={"session": owed.session_id},
                    exc_info=exc,
                )

        task = asyncio.create_task(run(), name=f"forget {owed.session_id}")
        self._forgetting.add(task)
        task.add_done_callback(self._forgetting.discard)

    async def _ready(self, sid: str) -> HostedSession:
        hosted = self._hosts.get(sid)
        if hosted is None:
            raise NotFound(f"session {sid} is not hosted by this bridge")
        try:
            return await asyncio.wait_for(asyncio.shield(hosted.ready), OPENING_WAIT_S)
        except TimeoutError as exc:
            raise Conflict(f"session {sid} is still being set up; try again") from exc

    async def _open_terminal(self, message: TerminalOpen) -> None:
        sid, tid = message.session_id, message.terminal_id
        try:
            host = await self._ready(sid)
            await host.open_terminal(tid, message.opened_by, message.cols, message.rows)
        except TraceError as exc:
            log.warning("a terminal did not open", extra={"session": sid, "error": str(exc)})
            await self._notify(sid, "terminal.closed", terminal_id=tid, error=str(exc))

    # -- what the link asks ----------------------------------------------------------------

    def _hello(self) -> Hello:
        hosts = self.sessions.values()
        return Hello(
            instance_id=self._credentials().instance_id,
            version=__version__,
            name=self.config.name,
            kind=self.config.kind,
            tools=self._tool_infos,
            hosting=[host.sid for host in hosts if host.hosting],
            terminals=[t for host in hosts for t in host.hosted_terminals()],
        )

    def _health(self) -> dict[str, SessionHealth]:
        return {sid: host.health for sid, host in self.sessions.items()}

    async def _notify(self, session_id: str, kind: str, **payload: Any) -> None:
        link = self.link
        if link is None:
            raise Conflict("the bridge is offline")
        await link.send_event(session_id, kind, **payload)

    def _env(self) -> HostedSessionEnv:
        creds = self._credentials()
        assert self._tools is not None  # set on entering
        return HostedSessionEnv(
            server_url=creds.server_url,
            token=creds.token,
            data_dir=self.data_dir,
            tools=self._tools,
            runtime_id=self.runtime_id,
            notify=self._notify,
            heartbeat_s=self.heartbeat_s,
            backoff=self.config.backoff,
            marks={self._guard.variable: self._guard.mark},
        )

    def _credentials(self) -> RuntimeCredentials:
        if self._creds is None:
            raise Conflict("the bridge is not registered (use it inside `async with`)")
        return self._creds

    def _release(self) -> None:
        """End what tools are left (the guard does) and free the data dir."""
        self._guard.__exit__()
        self._unlock()

    def _unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


def _when_refused(refused: asyncio.Event) -> Callable[[LinkState], None]:
    def on_state(state: LinkState) -> None:
        if state is LinkState.REFUSED:
            refused.set()

    return on_state


def _tool_infos(tools: BridgeTools) -> list[ToolInfo]:
    infos = []
    for name, found in registry.report(tools.options()).items():
        abilities = vars(found.capabilities) if found.capabilities else {}
        infos.append(
            ToolInfo(
                name=name,
                available=found.available,
                capabilities=[k for k, v in abilities.items() if v],
            )
        )
    return infos


def _lock(path: Path) -> int:
    """Hold ``path`` locked for this process (released when it exits, even by kill -9)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise Conflict(f"another bridge (pid {holder}) uses {path.parent}") from exc
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    with contextlib.suppress(OSError):
        os.fsync(fd)
    return fd
