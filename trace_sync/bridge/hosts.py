"""Runtime hosts: where a bridge for a cloud session is started.

A host adapter starts one bridge process for one session, with a runtime
token that may touch only that session (least privilege). The router
provisions the runtime and its token, then hands them to the adapter::

    hosts = HostRegistry()
    hosts.add("sandbox", load_host("sandbox", HostConfig(data_dir, options)))
    await hosts.get("sandbox").start(Launch(server_url, runtime_id, token, session_id))

Adapters live in ``adapters/hosts`` and are loaded by import path from
:data:`HOSTS` (the server never imports them by name): ``sandbox`` (the
bridge under bubblewrap on this machine) and ``docker`` (a container).
Local mode's own bridge is not a host adapter: ``trace serve`` starts it
(bridge/local.py).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from trace_sync.contract.bridge_protocol import Forget, RepoRef, RuntimeKind
from trace_sync.contract.errors import NotFound

#: name -> "module:factory"; the factory takes a :class:`HostConfig`.
HOSTS: dict[str, str] = {
    "sandbox": "adapters.hosts.sandbox:SandboxHost",
    "docker": "adapters.hosts.docker:DockerHost",
}


@dataclass(frozen=True)
class Launch:
    """What a started bridge needs: where to connect and as which runtime."""

    server_url: str
    runtime_id: str
    #: A runtime token of ``runtime_id``; a secret (never log it).
    token: str
    session_id: str
    #: The runtime's instance id, which its bridge keeps and says in its hello.
    instance_id: str = ""
    #: The session's repo: a host shows the bridge this one (read-only), no other.
    repo: RepoRef | None = None
    #: The session's branch, which a host brings back to the repo after a run.
    branch: str | None = None

    def __repr__(self) -> str:
        return f"Launch({self.server_url!r}, {self.runtime_id!r}, session={self.session_id!r})"


@dataclass(frozen=True)
class LimitReached:
    """A session went past a limit its host watches (``TRACE_DOCKER_DISK``, say):
    it is to pause, ``reason`` saying why to the people who follow it."""

    session_id: str
    reason: str


#: The hook a host calls with :class:`LimitReached` (the session service pauses it).
OnLimit = Callable[[LimitReached], Awaitable[None]]


@dataclass(frozen=True)
class HostConfig:
    """What a host adapter is made from: the server's data dir and its own settings."""

    data_dir: Path
    #: ``TRACE_<HOST>_<NAME>`` variables as ``{"name": value}`` (e.g. ``TRACE_SANDBOX_DIR``).
    options: Mapping[str, str] = field(default_factory=dict)
    #: Told when a session goes past a limit the host watches; none: nobody acts.
    on_limit: OnLimit | None = None


class HostAdapter(Protocol):
    @property
    def kind(self) -> RuntimeKind:
        """The runtime kind its bridges register as (sandbox, docker, desktop)."""
        ...

    async def start(self, launch: Launch) -> None:
        """Start a bridge for one session (replacing one it still runs);
        return once it is on its way."""
        ...

    async def stop(self, session_id: str) -> None:
        """Stop the session's bridge if it still runs; what it made is kept."""
        ...

    def running(self, session_id: str) -> bool:
        """Whether the session's bridge runs here, started by this server or by a
        former one on the same data (then it reconnects on its own: no new one)."""
        ...

    def boxes(self) -> list[str]:
        """The sessions whose bridges this host runs, started or adopted."""
        ...

    async def stop_all(self) -> list[str]:
        """Stop every bridge this host runs, started or adopted (``trace bridge stop
        --sandboxes``); the sessions whose bridge it stopped."""
        ...

    async def close(self) -> None:
        """The server is stopping: stop the bridges that cannot outlive it (a
        sandbox's outlives it, for the restarted server to adopt)."""
        ...

    async def forget(self, owed: Forget) -> dict[str, Any]:
        """The session was deleted (its bridge stopped): remove its directory here and
        its branch (unless pushed or merged) and checkpoints brought back to the repo."""
        ...

    async def land(self, session_id: str, base: str, commit: str) -> None:
        """The session is to be merged into ``base``: bring its branch, at ``commit``
        in the bridge's clone, back into the repo it belongs to (the server merges it
        there); :class:`Conflict` if the branch is no longer at ``commit``."""
        ...


class HostRegistry:
    """The host adapters this server may start bridges with, by name."""

    def __init__(self) -> None:
        self._hosts: dict[str, HostAdapter] = {}

    def add(self, name: str, host: HostAdapter) -> None:
        self._hosts[name] = host

    def get(self, name: str) -> HostAdapter:
        try:
            return self._hosts[name]
        except KeyError as exc:
            raise NotFound(f"no runtime host {name!r}; known: {sorted(self._hosts)}") from exc

    def names(self) -> list[str]:
        return sorted(self._hosts)

    async def remove(self, name: str) -> None:
        """Close the host ``name`` and forget it (its boxes run on, for a host made later)."""
        host = self._hosts.pop(name, None)
        if host is not None:
            await host.close()

    async def close(self) -> None:
        """Close every host (each stops the bridges that die with the server)."""
        await asyncio.gather(*(host.close() for host in self._hosts.values()))


def load_host(name: str, config: HostConfig) -> HostAdapter:
    """The host adapter ``name`` of :data:`HOSTS`, made from ``config``."""
    target = HOSTS.get(name)
    if target is None:
        raise NotFound(f"no runtime host named {name!r}; known: {', '.join(sorted(HOSTS))}")
    module_name, _, factory_name = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
    except (ImportError, AttributeError) as exc:
        raise NotFound(f"the {name} host cannot be loaded: {exc}") from exc
    made: HostAdapter = factory(config)
    return made
