"""Runtime hosts: where a bridge for a cloud session is started.

A host adapter starts one bridge process for one session, with a runtime
token that may touch only that session (least privilege). The router
provisions the runtime and its token, then hands them to the adapter::

    hosts = HostRegistry()
    hosts.add("sandbox", SandboxHost(...))
    await hosts.get("sandbox").start(Launch(server_url, runtime_id, token, session_id))

Adapters: ``local`` (``trace bridge`` as a subprocess here), ``sandbox``
(bubblewrap), ``docker`` (a container); each lives in its own module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from trace_sync.errors import NotFound
from trace_sync.runtime.protocol import RuntimeKind


@dataclass(frozen=True)
class Launch:
    """What a started bridge needs: where to connect and as which runtime."""

    server_url: str
    runtime_id: str
    #: A runtime token of ``runtime_id``; a secret (never log it).
    token: str
    session_id: str

    def __repr__(self) -> str:
        return f"Launch({self.server_url!r}, {self.runtime_id!r}, session={self.session_id!r})"


class HostAdapter(Protocol):
    @property
    def kind(self) -> RuntimeKind:
        """The runtime kind its bridges register as (sandbox, docker, desktop)."""
        ...

    async def start(self, launch: Launch) -> None:
        """Start a bridge for one session; return once it is on its way."""
        ...

    async def stop(self, runtime_id: str) -> None:
        """Stop the bridge of ``runtime_id`` if it still runs."""
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
