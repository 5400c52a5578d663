"""The ``docker`` host: a cloud session's bridge in a container of its own.

``TRACE_CLOUD_HOST=docker``. Each cloud session gets one container of the
bridge image (deploy/bridge/Dockerfile), made by ``docker run`` — its command
line is built by :func:`docker_run_argv`, a pure function tests compare
exactly. The container:

- runs ``trace bridge`` as a non-root user, with the server URL and the
  runtime token (scoped to this one session) in its environment; the token's
  value is handed to the docker client in *its* environment (``--env
  TRACE_TOKEN`` names it only), never on a command line;
- writes only its bridge data dir, a directory of the server's machine bound
  at the same path (session_dir.py: credentials, clone, worktree), and a
  private /tmp; its image is read-only, it has no capabilities and no new
  privileges; the session's repo is bound read-only;
- has memory, CPU and process-count limits; is labelled with its session and
  runtime; is removed when it stops (``--rm``); outlives a server restart
  (its bridge reconnects).

Binding directories of this machine needs the docker engine on this machine.
No engine runs where Trace is developed: ``docker run`` itself was never
tried here; tests check the command line and drive a fake docker CLI.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from adapters.hosts.options import Options
from adapters.hosts.session_dir import SessionDir, bring_back_others, prepare
from trace_sync import __version__
from trace_sync.errors import Conflict, InvalidInput
from trace_sync.runtime.hosts import HostConfig, Launch
from trace_sync.runtime.protocol import RuntimeKind

#: The image's own user (deploy/bridge/Dockerfile): containers of a root server run as it.
IMAGE_USER = (10001, 10001)
#: What a container calls the machine it runs on (``--add-host ...:host-gateway``).
HOST_ALIAS = "host.docker.internal"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
_NAME = re.compile(r"[^a-zA-Z0-9_.-]")
#: What docker says when the container to stop is not there (any more).
GONE = ("No such container", "is already in progress")


@dataclass(frozen=True)
class DockerSettings:
    """``TRACE_DOCKER_*``; each default is in README's host table, with its reason."""

    #: Where the sessions' directories are (bound into their containers).
    root: Path
    docker: str = "docker"
    image: str = f"trace-bridge:{__version__}"
    network: str = "bridge"
    server_url: str = ""
    memory: str = "4g"
    cpus: str = "2"
    pids: int = 1024
    tmp_size: str = "1g"
    passed_env: tuple[str, ...] = ()
    run_options: tuple[str, ...] = ()
    stop_timeout_s: int = 15

    @classmethod
    def read(cls, config: HostConfig) -> DockerSettings:
        opts = Options("docker", config.options)
        return cls(
            docker=opts.text("binary", "docker"),
            image=opts.text("image", cls.image),
            network=opts.text("network", "bridge"),
            server_url=opts.text("server_url"),
            root=Path(opts.text("dir") or config.data_dir / "containers").resolve(),
            memory=opts.text("memory", cls.memory),
            cpus=opts.text("cpus", cls.cpus),
            pids=opts.count("pids", cls.pids, low=16),
            tmp_size=opts.text("tmp_size", cls.tmp_size),
            passed_env=opts.names("pass_env"),
            run_options=opts.words("run_options"),
            stop_timeout_s=int(opts.seconds("stop_timeout_s", cls.stop_timeout_s)),
        )


@dataclass(frozen=True)
class Container:
    """One session's container as ``docker run`` makes it."""

    name: str
    session_id: str
    runtime_id: str
    server_url: str
    data: Path
    repo: Path | None
    user: tuple[int, int]
    #: Variables whose values the docker client passes in from its own environment.
    passed: tuple[str, ...] = ()


def docker_run_argv(settings: DockerSettings, box: Container) -> list[str]:
    """``docker run`` for one session's bridge (no secret in it)."""
    argv = [settings.docker, "run", "--detach", "--rm", "--name", box.name, "--init"]
    argv += ["--label", f"trace.session={box.session_id}"]
    argv += ["--label", f"trace.runtime={box.runtime_id}"]
    argv += ["--user", f"{box.user[0]}:{box.user[1]}"]
    argv += ["--env", f"TRACE_URL={box.server_url}", "--env", f"TRACE_BRIDGE_DATA_DIR={box.data}"]
    argv += ["--env", f"HOME={box.data / 'home'}"]
    for name in ("TRACE_TOKEN", *box.passed):
        argv += ["--env", name]  # the value comes from the docker client's environment
    argv += ["--mount", f"type=bind,src={box.data},dst={box.data}"]
    if box.repo is not None:
        argv += ["--mount", f"type=bind,src={box.repo},dst={box.repo},readonly"]
    argv += ["--network", settings.network]
    if urlsplit(box.server_url).hostname == HOST_ALIAS:
        argv += ["--add-host", f"{HOST_ALIAS}:host-gateway"]
    argv += ["--read-only", "--tmpfs", f"/tmp:rw,nosuid,nodev,size={settings.tmp_size}"]
    argv += ["--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
    argv += ["--memory", settings.memory, "--memory-swap", settings.memory]
    argv += ["--cpus", settings.cpus, "--pids-limit", str(settings.pids)]
    argv += [*settings.run_options, settings.image, "--name", f"docker-{box.session_id}"]
    return argv


def container_url(server_url: str, configured: str = "") -> str:
    """The server as a container reaches it: ``TRACE_DOCKER_SERVER_URL``, else the
    server's URL with a loopback host swapped for the docker host's alias."""
    if configured:
        return configured
    parts = urlsplit(server_url)
    if parts.hostname not in LOOPBACK:
        return server_url
    netloc = HOST_ALIAS + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class DockerHost:
    """Starts and stops the container bridges of cloud sessions."""

    kind: RuntimeKind = "docker"

    def __init__(self, config: HostConfig) -> None:
        self.settings = DockerSettings.read(config)
        self._launches: dict[str, Launch] = {}

    @property
    def bridges(self) -> dict[str, str]:
        """The containers started here, by session (their names)."""
        return {sid: container_name(sid) for sid in self._launches}

    async def start(self, launch: Launch) -> None:
        sid = launch.session_id
        await self._stop(sid, launch)  # one container per session: a new token replaces the old
        root = self.settings.root
        await asyncio.to_thread(bring_back_others, root, self._launches.values(), launch)
        folder = SessionDir(root, sid)
        user = IMAGE_USER if os.geteuid() == 0 else (os.getuid(), os.getgid())
        await prepare(folder, launch, user)
        box = self.container(launch, folder, user)
        env = {**os.environ, "TRACE_TOKEN": launch.token}
        await self._docker(docker_run_argv(self.settings, box), env)
        self._launches[sid] = launch

    async def stop(self, session_id: str) -> None:
        await self._stop(session_id, self._launches.pop(session_id, None))

    async def _stop(self, session_id: str, launch: Launch | None) -> None:
        await self._remove(session_id)
        folder = SessionDir(self.settings.root, session_id)
        if launch is not None and folder.base.is_dir():
            await asyncio.to_thread(folder.bring_back, launch.repo, launch.branch)
            await asyncio.to_thread(folder.forget_credentials)

    async def close(self) -> None:
        """Containers outlive the server: their bridges reconnect when it is back."""

    def container(self, launch: Launch, folder: SessionDir, user: tuple[int, int]) -> Container:
        repo = Path(launch.repo.path).resolve() if launch.repo is not None else None
        if repo is not None and not repo.is_dir():
            raise InvalidInput(f"the repo {repo} is not a directory on this machine")
        passed = [n for n in os.environ if n.startswith("TRACE_TOOL_")]
        return Container(
            name=container_name(launch.session_id),
            session_id=launch.session_id,
            runtime_id=launch.runtime_id,
            server_url=container_url(launch.server_url, self.settings.server_url),
            data=folder.data,
            repo=repo,
            user=user,
            passed=tuple(sorted({*passed, *self.settings.passed_env})),
        )

    async def _remove(self, session_id: str) -> None:
        """Stop (SIGTERM, then SIGKILL after the timeout) and remove the container."""
        docker, name, env = self.settings.docker, container_name(session_id), dict(os.environ)
        timeout = str(self.settings.stop_timeout_s)
        await self._docker([docker, "stop", "--time", timeout, name], env, missing_ok=True)
        await self._docker([docker, "rm", "--force", name], env, missing_ok=True)  # --rm's work

    async def _docker(
        self, argv: Sequence[str], env: dict[str, str], *, missing_ok: bool = False
    ) -> str:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                env=env,
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


def container_name(session_id: str) -> str:
    return "trace-" + _NAME.sub("-", session_id)
