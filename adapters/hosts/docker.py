"""The ``docker`` host: a cloud session's bridge in a container of its own.

``TRACE_CLOUD_HOST=docker``. Each cloud session gets one container of the
bridge image (``make image``: deploy/bridge/build.py), made by ``docker run``
— its command line is built by :func:`docker_run_argv`, a pure function tests
compare exactly. One container per session, not per workspace: a session's
limits, its lifetime (stop, delete) and its runtime token (which may touch
that session only) are then the container's, and one session's code cannot
see another's clone. The container:

- runs the bridge (bridge_command.py, the sandbox's command) as a non-root
  user; its runtime token is in its data dir's credentials file (0600), never
  on a command line nor in its environment (``docker inspect`` shows neither);
- writes only its bridge data dir, a directory of the server's machine bound
  at the same path (session_dir.py: credentials, clone, worktree), and a
  private /tmp; its image is read-only, it has no capabilities and no new
  privileges; the session's repo is bound read-only, the bridge works in a
  clone, and its branch and checkpoints come back when the container stops;
- has memory, CPU and process-count limits; /tmp is a bounded tmpfs, and with
  ``TRACE_DOCKER_DISK`` its directory on the server's disk is watched and a
  session past the limit paused (docker_disk.py: no storage driver limits a
  bind mount);
- has no network by default (``TRACE_DOCKER_NETWORK=none``): only its own
  loopback, where relays listen for the server and the model providers
  configured for its tools, carried through unix sockets to this process
  (docker_routes.py, docker_relays.py); code in it reaches nothing else.
  ``host`` shares the machine's network instead (code in the container then
  reaches whatever listens on its loopback, as a sandbox's does); a named
  network of your own is a third choice (then the server's loopback URL
  becomes ``host.docker.internal``);
- is labelled with its session and runtime; outlives a server restart: the
  host notes each container it starts in its session's directory, and a host
  made on the same data adopts the ones still running (their bridges
  reconnect); a session's delete removes its container and directory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from adapters.hosts import docker_disk
from adapters.hosts.bridge_command import bridge_command, relayed
from adapters.hosts.docker_relays import HostRelays, note_routes, noted_routes, sockets_of
from adapters.hosts.docker_routes import Confinement, confine, provider_urls
from adapters.hosts.options import Options
from adapters.hosts.session_dir import SessionDir, bring_back_others, prepare
from trace_sync import __version__
from trace_sync.bridge.hosts import HostConfig, Launch
from trace_sync.contract.bridge_protocol import Forget, RuntimeKind
from trace_sync.contract.errors import Conflict, InvalidInput
from trace_sync.settings import SettingsError

log = logging.getLogger(__name__)

#: The image's own user (deploy/bridge/Dockerfile): containers of a root server run as it.
IMAGE_USER = (10001, 10001)
#: The image's Python, with Trace installed (deploy/bridge/Dockerfile).
IMAGE_PYTHON = "/opt/trace/bin/python"
#: What a container calls the machine it runs on (``--add-host ...:host-gateway``).
HOST_ALIAS = "host.docker.internal"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
_NAME = re.compile(r"[^a-zA-Z0-9_.-]")
#: What docker says when the container to stop is not there (any more).
GONE = ("No such container", "is already in progress")
#: How long a container being removed is waited for before going on anyway.
REMOVAL_S = 30.0
#: A disk limit below this is a slip (``TRACE_DOCKER_DISK=10`` is 10 bytes).
LEAST_DISK = 1 << 20


@dataclass(frozen=True)
class DockerSettings:
    """``TRACE_DOCKER_*``; each default is in README's host table, with its reason."""

    #: Where the sessions' directories are (bound into their containers).
    root: Path
    docker: str = "docker"
    image: str = f"trace-bridge:{__version__}"
    network: str = "none"
    server_url: str = ""
    memory: str = "4g"
    cpus: str = "2"
    pids: int = 1024
    tmp_size: str = "1g"
    #: Bytes a session's directory may take (None: no limit), looked at every ``disk_check_s``.
    disk: int | None = None
    disk_check_s: float = 10.0
    passed_env: tuple[str, ...] = ()
    run_options: tuple[str, ...] = ()
    stop_timeout_s: int = 15

    @classmethod
    def read(cls, config: HostConfig) -> DockerSettings:
        opts = Options("docker", config.options)
        return cls(
            docker=opts.text("binary", "docker"),
            image=opts.text("image", cls.image),
            network=opts.text("network", cls.network),
            server_url=opts.text("server_url"),
            root=Path(opts.text("dir") or config.data_dir / "containers").resolve(),
            memory=opts.text("memory", cls.memory),
            cpus=opts.text("cpus", cls.cpus),
            pids=opts.count("pids", cls.pids, low=16),
            tmp_size=opts.text("tmp_size", cls.tmp_size),
            disk=_disk(opts),
            disk_check_s=opts.seconds("disk_check_s", cls.disk_check_s),
            passed_env=opts.names("pass_env"),
            run_options=opts.words("run_options"),
            stop_timeout_s=int(opts.seconds("stop_timeout_s", cls.stop_timeout_s)),
        )


def _disk(opts: Options) -> int | None:
    limit = opts.size("disk", None)
    if limit is not None and limit < LEAST_DISK:
        raise SettingsError(
            f"{opts.variable('disk')} must be at least 1M (a plain number is bytes; "
            f"0 or off for no limit): {opts.text('disk')!r}"
        )
    return limit


@dataclass(frozen=True)
class Container:
    """One session's container as ``docker run`` makes it."""

    name: str
    session_id: str
    runtime_id: str
    #: The bridge's command (bridge_command.py).
    command: tuple[str, ...]
    data: Path
    repo: Path | None
    user: tuple[int, int]
    #: Variables passed in with this process's values, in the bridge's environment
    #: file (session_dir.py), never in the container's configuration.
    passed: tuple[str, ...] = ()
    #: Whether the bridge reaches the server through ``HOST_ALIAS``.
    via_alias: bool = False
    #: Variables given a value here (tool URLs rewritten for a confined container).
    values: tuple[tuple[str, str], ...] = ()
    #: The server's URL for the bridge inside.
    server_url: str = ""
    #: A confined container's routes' sockets (bound read-only), and its routes.
    sockets: Path | None = None
    confinement: Confinement | None = None
    #: ``--storage-opt size=``: a cap on the container's own layer (engines with quotas).
    layer_size: int | None = None


def docker_run_argv(settings: DockerSettings, box: Container) -> list[str]:
    """``docker run`` for one session's bridge (no secret in it)."""
    argv = [settings.docker, "run", "--detach", "--rm", "--name", box.name, "--init"]
    argv += ["--label", f"trace.session={box.session_id}"]
    argv += ["--label", f"trace.runtime={box.runtime_id}"]
    argv += ["--user", f"{box.user[0]}:{box.user[1]}", "--workdir", str(box.data)]
    argv += ["--env", f"HOME={box.data / 'home'}"]
    # The variables passed (box.passed) are in the bridge's environment file: a value
    # given here, even by name only, is in the container's configuration for all to see.
    for name, value in box.values:
        argv += ["--env", f"{name}={value}"]
    argv += ["--mount", f"type=bind,src={box.data},dst={box.data}"]
    if box.repo is not None:
        argv += ["--mount", f"type=bind,src={box.repo},dst={box.repo},readonly"]
    if box.sockets is not None:
        argv += ["--mount", f"type=bind,src={box.sockets},dst={box.sockets},readonly"]
    argv += ["--network", settings.network]
    if box.via_alias:
        argv += ["--add-host", f"{HOST_ALIAS}:host-gateway"]
    routes = box.confinement.routes if box.confinement is not None else ()
    for route in routes:
        if route.alias:  # TLS end to end: the name resolves to the relay inside
            argv += ["--add-host", f"{route.alias}:{route.listen.rpartition(':')[0]}"]
    if any(route.low_port for route in routes):  # the container's own network namespace
        argv += ["--sysctl", "net.ipv4.ip_unprivileged_port_start=0"]
    argv += ["--read-only", "--tmpfs", f"/tmp:rw,nosuid,nodev,size={settings.tmp_size}"]
    argv += ["--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
    argv += ["--memory", settings.memory, "--memory-swap", settings.memory]
    argv += ["--cpus", settings.cpus, "--pids-limit", str(settings.pids)]
    if box.layer_size is not None:
        argv += ["--storage-opt", f"size={box.layer_size}"]
    return [*argv, *settings.run_options, settings.image, *box.command]


def container_url(server_url: str, configured: str = "", network: str = "host") -> str:
    """The server as a container reaches it: ``TRACE_DOCKER_SERVER_URL``; else its own
    URL on the host's network; else that URL with a loopback host swapped for the
    docker host's alias (a container's loopback is its own)."""
    if configured:
        return configured
    parts = urlsplit(server_url)
    if network in ("host", "none") or parts.hostname not in LOOPBACK:
        return server_url
    netloc = HOST_ALIAS + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class DockerHost:
    """Starts, stops and adopts the container bridges of cloud sessions."""

    kind: RuntimeKind = "docker"

    def __init__(self, config: HostConfig) -> None:
        self.settings = DockerSettings.read(config)
        self._launches: dict[str, Launch] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._relays = HostRelays()
        #: Whether the engine caps a container's layer (``docker info``; None: not asked yet).
        self._quota: bool | None = None
        self._adopt()
        self._reopening = self._reopen_relays()
        self._disk_watch = self._watch_disk(config)

    @property
    def bridges(self) -> dict[str, str]:
        """The containers started or adopted here, by session (their names)."""
        return {sid: container_name(sid) for sid in self._launches}

    async def start(self, launch: Launch) -> None:
        sid = launch.session_id
        async with self._lock(sid):
            await self._stop(sid, launch)  # one container per session: a new token replaces the old
            root = self.settings.root
            await asyncio.to_thread(bring_back_others, root, self._launches.values(), launch)
            folder = SessionDir(root, sid)
            user = container_user()
            box = self.container(launch, folder, user)
            # Its credentials name the server as the bridge inside dials it.
            passed = {n: os.environ[n] for n in box.passed if n in os.environ}
            await prepare(folder, replace(launch, server_url=box.server_url), user, passed)
            if box.confinement is not None:
                await asyncio.to_thread(note_routes, folder.base, box.confinement.routes)
                await self._relays.open(sid, folder.base, box.confinement.routes, user)
            try:
                await self._run(box)
            except Conflict:
                await self._relays.remove(sid, folder.base)
                raise
            # Its launch but the token, for a server restarted on the same data (no pid: a name).
            await asyncio.to_thread(folder.remember, 0, 0.0, launch)
            self._launches[sid] = launch

    def running(self, session_id: str) -> bool:
        # Asked when a session needs a runtime (a resume), rarely: one quick blocking call.
        if session_id not in self._launches:
            return False
        return _running(self.settings.docker, container_name(session_id))

    def boxes(self) -> list[str]:
        return sorted(self._launches)

    async def stop(self, session_id: str) -> None:
        async with self._lock(session_id):
            await self._stop(session_id, self._launches.pop(session_id, None))

    async def _stop(self, session_id: str, launch: Launch | None) -> None:
        await self._remove(session_id)
        folder = SessionDir(self.settings.root, session_id)
        await self._relays.remove(session_id, folder.base)
        folder.record.unlink(missing_ok=True)
        if launch is not None and folder.base.is_dir():
            await asyncio.to_thread(folder.bring_back, launch.repo, launch.branch)
            await asyncio.to_thread(folder.forget_credentials)

    async def forget(self, owed: Forget) -> dict[str, Any]:
        await self.stop(owed.session_id)  # its work comes back first, then goes with it
        folder = SessionDir(self.settings.root, owed.session_id)
        return await asyncio.to_thread(folder.forget, owed)

    async def land(self, session_id: str, base: str, commit: str) -> None:
        launch = self._launches.get(session_id)
        if launch is None or launch.repo is None:
            raise Conflict(f"session {session_id} has no bridge here to land a merge from")
        folder = SessionDir(self.settings.root, session_id)
        await asyncio.to_thread(folder.land, launch.repo, launch.branch, base, commit)

    async def stop_all(self) -> list[str]:
        """Stop the containers this host runs, started or adopted; their sessions."""
        running = sorted(sid for sid in self._launches if self.running(sid))
        await asyncio.gather(*(self.stop(sid) for sid in list(self._launches)))
        return running

    async def close(self) -> None:
        """Containers outlive the server: a restarted one adopts them, and listens
        for their routes again (noted in their directories)."""
        for task in (self._reopening, self._disk_watch):
            if task is not None:
                task.cancel()
        await self._relays.close_all()

    def container(self, launch: Launch, folder: SessionDir, user: tuple[int, int]) -> Container:
        repo = Path(launch.repo.path).resolve() if launch.repo is not None else None
        if repo is not None and not repo.is_dir():
            raise InvalidInput(f"the repo {repo} is not a directory on this machine")
        settings = self.settings
        passed = [n for n in os.environ if n.startswith("TRACE_TOOL_")]
        url = container_url(launch.server_url, settings.server_url, settings.network)
        confinement = None
        if settings.network == "none":
            confinement = confine(url, provider_urls(os.environ))
            url = confinement.server_url
            passed = [n for n in passed if n not in confinement.env]
        reached = Launch(url, launch.runtime_id, "", launch.session_id)
        command = bridge_command(IMAGE_PYTHON, reached, folder.data, self.kind)
        sockets = sockets_of(folder.base)
        if confinement is not None:
            forwards = [(r.listen, str(sockets / r.name)) for r in confinement.routes]
            command = relayed(IMAGE_PYTHON, forwards, command)
        return Container(
            name=container_name(launch.session_id),
            session_id=launch.session_id,
            runtime_id=launch.runtime_id,
            command=tuple(command),
            data=folder.data,
            repo=repo,
            user=user,
            passed=tuple(sorted({*passed, *settings.passed_env})),
            via_alias=urlsplit(url).hostname == HOST_ALIAS,
            server_url=url,
            values=tuple(sorted(confinement.env.items())) if confinement else (),
            sockets=sockets if confinement is not None else None,
            confinement=confinement,
        )

    def _adopt(self) -> None:
        """Track again the containers a former server started on the same data. A
        gone one's launch is kept too, so its work comes back before its next start."""
        if not self.settings.root.is_dir():
            return
        for base in sorted(self.settings.root.iterdir()):
            noted = SessionDir(self.settings.root, base.name).recall()
            if noted is not None:
                self._launches[base.name] = noted[2]
                log.info("noted a former server's container", extra={"session": base.name})

    def _reopen_relays(self) -> asyncio.Task[None] | None:
        """Listen again for the routes of the adopted containers (this process's
        loop; none when the host is made only to stop them, outside one)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        return loop.create_task(self._reopen(), name="docker-relays")

    async def _reopen(self) -> None:
        for sid in list(self._launches):
            base = SessionDir(self.settings.root, sid).base
            async with self._lock(sid):  # after a stop begun meanwhile, no routes are noted
                routes = await asyncio.to_thread(noted_routes, base)
                if not routes:  # not confined, or gone
                    continue
                try:
                    await self._relays.open(sid, base, routes, container_user())
                except OSError as exc:
                    log.warning("cannot listen for an adopted container: %s", exc,
                                extra={"session": sid})  # fmt: skip

    def _watch_disk(self, config: HostConfig) -> asyncio.Task[None] | None:
        """Watch the sessions' directories against ``TRACE_DOCKER_DISK`` (docker_disk.py)
        in this process's loop; none without a limit, or a hook to tell, or a loop."""
        limit, every = self.settings.disk, self.settings.disk_check_s
        if limit is None or config.on_limit is None:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        root, sessions = self.settings.root, lambda: list(self._launches)
        work = docker_disk.watch(root, sessions, limit, every, config.on_limit)
        return loop.create_task(work, name="docker-disk")

    async def _run(self, box: Container) -> None:
        """``docker run``, its layer capped at the disk limit where the engine can; an
        engine that refuses the cap runs it without (a start never fails on it)."""
        size = self.settings.disk
        if size is not None and await self._layer_quota():
            try:
                await self._docker(docker_run_argv(self.settings, replace(box, layer_size=size)))
                return
            except Conflict as exc:
                if not docker_disk.refused(str(exc)):
                    raise
                log.warning("the engine refused a layer size, not asked again: %s", exc)
                self._quota = False
                await self._remove(box.session_id)
        await self._docker(docker_run_argv(self.settings, box))

    async def _layer_quota(self) -> bool:
        if self._quota is None:
            argv = [self.settings.docker, "info", "--format", "{{json .}}"]
            try:
                self._quota = docker_disk.layer_quota(json.loads(await self._docker(argv)))
            except (Conflict, ValueError) as exc:  # no engine: ``docker run`` says so next
                log.warning("docker info did not say the storage driver: %s", exc)
                return False
        return self._quota

    def _lock(self, session_id: str) -> asyncio.Lock:
        return self._locks.setdefault(session_id, asyncio.Lock())

    async def _remove(self, session_id: str) -> None:
        """Stop (SIGTERM, then SIGKILL after the timeout) and remove the container."""
        docker, name = self.settings.docker, container_name(session_id)
        timeout = str(self.settings.stop_timeout_s)
        await self._docker([docker, "stop", "--time", timeout, name], missing_ok=True)
        await self._docker([docker, "rm", "--force", "--volumes", name], missing_ok=True)
        await self._gone(name)

    async def _gone(self, name: str) -> None:
        """Wait while the engine still removes the container (``--rm`` took it first: our
        ``rm`` was told "already in progress"), so its name is free for a new start."""
        deadline = asyncio.get_running_loop().time() + REMOVAL_S
        inspect = [self.settings.docker, "container", "inspect", "--format", "{{.Id}}", name]
        while asyncio.get_running_loop().time() < deadline:
            try:
                await self._docker(inspect)
            except Conflict:  # no such container: gone
                return
            await asyncio.sleep(0.1)
        log.warning("a container is still being removed", extra={"container": name})

    async def _docker(self, argv: Sequence[str], *, missing_ok: bool = False) -> str:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError as exc:
            raise Conflict(f"the docker host needs the docker CLI ({argv[0]}): {exc}") from exc
        out, err = await process.communicate()
        message = err.decode(errors="replace").strip()
        gone = missing_ok and any(word in message for word in GONE)
        if process.returncode != 0 and not gone:
            raise Conflict(f"docker {argv[1]} failed ({process.returncode}): {message[-500:]}")
        return out.decode(errors="replace").strip()


def _running(docker: str, name: str) -> bool:
    try:
        found = subprocess.run(
            [docker, "container", "inspect", "--format", "{{.State.Running}}", name],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return found.returncode == 0 and found.stdout.strip() == "true"


def container_user() -> tuple[int, int]:
    """Containers of a root server run as the image's user, others as the server's."""
    return IMAGE_USER if os.geteuid() == 0 else (os.getuid(), os.getgid())


def container_name(session_id: str) -> str:
    return "trace-" + _NAME.sub("-", session_id)
