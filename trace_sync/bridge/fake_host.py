"""A fake cloud host: a :class:`~trace_sync.bridge.hosts.HostAdapter` that starts nothing.

It serves the tests of the layers above the hosts (the router, services, API):
they need to see which bridges the server would launch, with which scoped
token, and which it stops, not a container or sandbox API. It records them::

    host = FakeCloudHost()
    ctx.bridges.hosts.add("fake", host)  # with settings naming cloud_host="fake"
    ...
    [launch] = host.launches

The host adapters' own tests (``tests/hosts``) and end-to-end journeys use the
real sandbox and docker hosts.
"""

from __future__ import annotations

from typing import Any

from trace_sync.bridge.hosts import HostAdapter, Launch
from trace_sync.contract.bridge_protocol import Forget, RuntimeKind


class FakeCloudHost:
    """Records launches (the live ones in :attr:`launches`), stops, forgets and
    landings; runs no bridge, so nothing it launched ever connects by itself."""

    kind: RuntimeKind = "sandbox"

    def __init__(self) -> None:
        self.launches: list[Launch] = []
        self.stopped: list[str] = []
        self.forgotten: list[Forget] = []
        #: ``(session_id, base, commit)`` of each merge brought back to the repo.
        self.landed: list[tuple[str, str, str]] = []

    async def start(self, launch: Launch) -> None:
        self.launches.append(launch)

    async def stop(self, session_id: str) -> None:
        self.stopped.append(session_id)
        self.launches = [x for x in self.launches if x.session_id != session_id]

    def running(self, session_id: str) -> bool:
        return False  # what it launched never connects: a new one each time

    def boxes(self) -> list[str]:
        return [x.session_id for x in self.launches]

    async def stop_all(self) -> list[str]:
        stopped = [x.session_id for x in self.launches]
        for session_id in stopped:
            await self.stop(session_id)
        return stopped

    async def close(self) -> None:
        self.launches = []

    async def forget(self, owed: Forget) -> dict[str, Any]:
        self.forgotten.append(owed)
        return {"state": "done"}  # its bridge was stopped when the session was

    async def land(self, session_id: str, base: str, commit: str) -> None:
        self.landed.append((session_id, base, commit))


def _is_a_host(host: FakeCloudHost) -> HostAdapter:
    return host  # mypy checks the fake keeps up with the interface
