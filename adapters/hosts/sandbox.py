"""The ``sandbox`` host: a cloud session's bridge under bubblewrap on this machine.

``TRACE_CLOUD_HOST=sandbox``. Each cloud session gets ``trace bridge`` in a
sandbox of its own (see sandbox_argv.py for the command line):

- the system read-only; every home directory (``/root``, ``/home``, the
  server's ``$HOME``), the server's data dir and ``/run`` (its sockets)
  hidden under empty tmpfs; ``/tmp`` private; the session's repo shown
  read-only and nothing else of a hidden place, but for what the bridge
  program itself needs (Python, the trace package) when it lives there;
- writable: only the bridge's own data dir (session_dir.py), which holds the
  clone of the repo the session works in, and its home;
- its own PID, IPC, UTS and cgroup namespaces, no capabilities, the network
  shared (the bridge reaches the server at its URL);
- rlimits: open files, file size, no core dumps, optionally address space;
- as the server's user, or as ``nobody`` when the server runs as root (root
  could read root's files anywhere on the read-only system).

The runtime token goes in a 0600 file of the bridge's data dir and in its
environment, never on a command line. Stopping the bridge brings the session
branch and checkpoints back into the repo (session_dir.py).

A sandbox outlives the server: it is detached (trace_sync/bridge/detach.py)
and the host's :meth:`SandboxHost.close` leaves it running; its bridge
reconnects to the restarted server with backoff. The host notes each sandbox
it starts in its session's directory (``sandbox.json``: bwrap's pid and start
time), and a host made on the same data adopts the ones still running, which
a session stop, a delete or :meth:`SandboxHost.stop_all` then stop. A sandbox
that died while the server was away is started again when its session needs
a runtime (a resume).
"""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trace_sync
from adapters.hosts.bridge_command import bridge_command
from adapters.hosts.child import BridgeChild
from adapters.hosts.options import Options
from adapters.hosts.sandbox_argv import Mount, SandboxLimits, SandboxPlan, sandbox_argv, sandbox_env
from adapters.hosts.session_dir import SessionDir, bring_back_others, prepare
from trace_sync.bridge.hosts import HostConfig, Launch
from trace_sync.contract.bridge_protocol import Forget, RuntimeKind
from trace_sync.contract.errors import Conflict, InvalidInput
from trace_sync.settings import SettingsError

log = logging.getLogger(__name__)

#: Hidden in every sandbox, beside the server's home, its data dir and the sandboxes.
ALWAYS_HIDDEN = (Path("/root"), Path("/home"), Path("/run"))
PRIVATE_TMP = Path("/tmp")


@dataclass(frozen=True)
class SandboxSettings:
    """``TRACE_SANDBOX_*``; each default is in README's host table, with its reason."""

    root: Path
    hidden: tuple[Path, ...]
    shown: tuple[Path, ...]
    passed_env: tuple[str, ...]
    tmp_bytes: int | None
    limits: SandboxLimits
    user: tuple[int, int] | None
    stop_timeout_s: float
    tools: dict[str, str]

    @classmethod
    def read(cls, config: HostConfig) -> SandboxSettings:
        opts = Options("sandbox", config.options)
        data_dir = config.data_dir.resolve()
        root = Path(opts.text("dir") or data_dir / "sandboxes").expanduser().resolve()
        limits = SandboxLimits(
            open_files=opts.count("open_files", 4096, low=64),
            file_bytes=opts.size("file_size", SandboxLimits.file_bytes),
            memory_bytes=opts.size("memory", None),
        )
        user = _user(opts.text("user"))
        return cls(
            root=root,
            hidden=(*ALWAYS_HIDDEN, Path.home(), data_dir, root, *opts.paths("hide")),
            shown=(*_program_paths(), _resolver(), *opts.paths("read")),
            passed_env=opts.names("pass_env"),
            tmp_bytes=opts.size("tmp_size", 1 << 30),
            limits=limits,
            user=user,
            stop_timeout_s=opts.seconds("stop_timeout_s", 15.0),
            tools=_tools(opts.text("bwrap", "bwrap"), need_setpriv=user is not None),
        )


class SandboxHost:
    """Starts, stops and reports the sandboxed bridges of cloud sessions."""

    kind: RuntimeKind = "sandbox"

    def __init__(self, config: HostConfig) -> None:
        self.settings = SandboxSettings.read(config)
        self._children: dict[str, BridgeChild] = {}
        self._launches: dict[str, Launch] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._adopt()

    @property
    def bridges(self) -> dict[str, BridgeChild]:
        """The bridges started or adopted here, by session (a stopped one is left out)."""
        return dict(self._children)

    def running(self, session_id: str) -> bool:
        child = self._children.get(session_id)
        return child is not None and child.alive()

    def boxes(self) -> list[str]:
        return sorted(self._children)

    async def start(self, launch: Launch) -> None:
        sid = launch.session_id
        async with self._lock(sid):
            await self._stop(sid, launch)  # replaces a bridge it still runs, and brings work back
            root, running = self.settings.root, [self._launches[s] for s in self._children]
            await asyncio.to_thread(bring_back_others, root, running, launch)
            folder = SessionDir(root, sid)
            await prepare(folder, launch, self.settings.user)
            plan = self.plan(
                folder, bridge_command(sys.executable, launch, folder.data, self.kind), launch
            )
            env = sandbox_env(os.environ, folder.home, launch.token, self.settings.passed_env)
            pid = await _spawn(sandbox_argv(plan), env, folder.log)
            child = BridgeChild.of(sid, launch.runtime_id, pid, folder.log)
            await asyncio.to_thread(folder.remember, pid, child.started, launch)
            self._watch(child)
            self._children[sid], self._launches[sid] = child, launch

    async def stop(self, session_id: str) -> None:
        async with self._lock(session_id):
            await self._stop(session_id, self._launches.get(session_id))

    async def forget(self, owed: Forget) -> dict[str, Any]:
        await self.stop(owed.session_id)  # its work comes back first, then goes with it
        folder = SessionDir(self.settings.root, owed.session_id)
        self._launches.pop(owed.session_id, None)
        return await asyncio.to_thread(folder.forget, owed)

    async def land(self, session_id: str, base: str, commit: str) -> None:
        launch = self._launches.get(session_id)
        if launch is None or launch.repo is None:
            raise Conflict(f"session {session_id} has no bridge here to land a merge from")
        folder = SessionDir(self.settings.root, session_id)
        await asyncio.to_thread(folder.land, launch.repo, launch.branch, base, commit)

    async def close(self) -> None:
        """The server is stopping: its sandboxes run on (a restarted server adopts them)."""
        for child in self._children.values():
            child.unwatch()

    async def stop_all(self) -> list[str]:
        """Stop every sandbox this host runs, started or adopted; their sessions."""
        running = sorted(sid for sid in self._children if self.running(sid))
        await asyncio.gather(*(self.stop(sid) for sid in list(self._children)))
        return running

    def plan(self, folder: SessionDir, command: Sequence[str], launch: Launch) -> SandboxPlan:
        """The sandbox of ``folder``'s session running ``command`` (a pure step: no I/O
        but checking which of the hidden and shown paths exist)."""
        hidden = _existing(self.settings.hidden)
        covered = [*hidden, PRIVATE_TMP]  # a fresh tmpfs too: what is shown there is bound
        repo = [Path(launch.repo.path)] if launch.repo is not None else []
        shown = _existing((*self.settings.shown, *repo))
        for path in shown:
            _refuse_if_it_shows_hidden(path, covered)
        mounts = [Mount(p, "hide" if p.is_dir() else "mask") for p in hidden]
        mounts += [Mount(p, "read") for p in shown if _inside(p, covered)]
        mounts.append(Mount(folder.data, "write"))
        settings = self.settings
        tools = settings.tools
        return SandboxPlan(
            command=tuple(command),
            workdir=folder.data,
            mounts=tuple(mounts),
            tmp_bytes=settings.tmp_bytes,
            limits=settings.limits,
            user=settings.user,
            bwrap=tools["bwrap"],
            prlimit=tools["prlimit"],
            setpriv=tools.get("setpriv", "setpriv"),
        )

    async def _stop(self, session_id: str, launch: Launch | None) -> None:
        child = self._children.pop(session_id, None)
        if child is not None:
            await child.stop(self.settings.stop_timeout_s)
        folder = SessionDir(self.settings.root, session_id)
        folder.record.unlink(missing_ok=True)
        if launch is not None and folder.base.is_dir():
            await asyncio.to_thread(folder.bring_back, launch.repo, launch.branch)
            await asyncio.to_thread(folder.forget_credentials)

    def _lock(self, session_id: str) -> asyncio.Lock:
        return self._locks.setdefault(session_id, asyncio.Lock())

    def _adopt(self) -> None:
        """Track again the sandboxes a former server started on the same data: each
        noted one still running around its session's data dir (a pid reused by
        another process is not adopted). A dead one's launch is kept, so its work
        comes back before its session's next sandbox starts."""
        if not self.settings.root.is_dir():
            return
        for base in sorted(self.settings.root.iterdir()):
            folder = SessionDir(self.settings.root, base.name)
            noted = folder.recall()
            if noted is None:
                continue
            pid, started, launch = noted
            self._launches[folder.session_id] = launch
            child = BridgeChild(folder.session_id, launch.runtime_id, pid, started, folder.log)
            if child.is_sandbox_of(folder.data):
                self._children[folder.session_id] = child
                self._watch(child)
                log.info("adopted a running sandbox", extra={"session": base.name, "pid": pid})
            else:
                folder.record.unlink(missing_ok=True)

    def _watch(self, child: BridgeChild) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # made outside a server (a command line tool): nothing to log to
        child.watch()


async def _spawn(argv: Sequence[str], env: dict[str, str], log_path: Path) -> int:
    """Start the sandbox detached (in a session of its own, not the server's child,
    its output appended to ``log_path``); its pid."""
    detach = [sys.executable, "-m", "trace_sync.bridge.detach", str(log_path), "--", *argv]
    try:
        started = await asyncio.create_subprocess_exec(
            *detach,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await started.communicate()
    except OSError as exc:
        raise Conflict(f"the sandbox did not start ({argv[0]}): {exc}") from exc
    if started.returncode != 0 or not out.strip().isdigit():
        why = err.decode(errors="replace").strip().splitlines()[-1:] or ["no reason given"]
        raise Conflict(f"the sandbox did not start ({argv[0]}): {why[0]}")
    return int(out)


def _existing(paths: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        real = path.resolve()
        if real.exists() and real not in found:
            found.append(real)
    return found


def _inside(path: Path, hidden: Sequence[Path]) -> bool:
    return any(place == path or place in path.parents for place in hidden)


def _refuse_if_it_shows_hidden(path: Path, hidden: Sequence[Path]) -> None:
    for place in hidden:
        if path == place or path in place.parents:
            raise InvalidInput(f"a sandbox cannot show {path}: it holds {place}, kept hidden")


def _program_paths() -> list[Path]:
    """Where the bridge program comes from: Python and the trace package."""
    package = Path(trace_sync.__file__).resolve().parent.parent
    prefixes = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    return [package, *(Path(p) for p in sorted(prefixes))]


def _resolver() -> Path:
    """/etc/resolv.conf's real file (often under /run, which is hidden)."""
    return Path("/etc/resolv.conf").resolve()


def _user(chosen: str) -> tuple[int, int] | None:
    """Whom the sandbox runs as: the server's user; when that is root, ``nobody``
    unless ``TRACE_SANDBOX_USER`` names another (``root`` keeps root)."""
    if os.geteuid() != 0:
        if chosen:
            raise SettingsError("TRACE_SANDBOX_USER needs a server running as root")
        return None
    name = chosen or "nobody"
    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except (KeyError, ValueError) as exc:
        raise SettingsError(f"TRACE_SANDBOX_USER: no user {name!r} here") from exc
    return None if entry.pw_uid == 0 else (entry.pw_uid, entry.pw_gid)


def _tools(bwrap: str, *, need_setpriv: bool) -> dict[str, str]:
    wanted = {"bwrap": (bwrap, "bubblewrap"), "prlimit": ("prlimit", "util-linux")}
    if need_setpriv:
        wanted["setpriv"] = ("setpriv", "util-linux")
    found = {}
    for key, (program, package) in wanted.items():
        path = shutil.which(program)
        if path is None:
            raise SettingsError(f"the sandbox host needs {program}: apt install {package}")
        found[key] = path
    return found
