"""The server's ends of its confined containers' routes (docker_routes.py).

For each confined container the docker host listens, in the server's process,
on one unix socket per route in ``<session>/sockets/`` (bound read-only into
the container; beside the bridge's data dir, not in it, so code in the container
cannot swap the directory for a link) and relays each connection to the route's
upstream: the server's own address or a model provider's. The routes are noted
in ``<session>/routes.json``, so a server restarted on the same data listens
again for the containers it adopts. Each relay takes at most ``LIMIT``
connections at once and never logs what it carries.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict
from pathlib import Path

from adapters.hosts.docker_routes import Route
from trace_sync.bridge.registration import write_private
from trace_sync.bridge.socket_relay import Endpoint, Relay

log = logging.getLogger(__name__)

SOCKETS = "sockets"
ROUTES = "routes.json"


def sockets_of(base: Path) -> Path:
    return base / SOCKETS


def note_routes(base: Path, routes: tuple[Route, ...]) -> None:
    write_private(base / ROUTES, json.dumps([asdict(route) for route in routes]) + "\n")


def noted_routes(base: Path) -> tuple[Route, ...]:
    try:
        return tuple(Route(**each) for each in json.loads((base / ROUTES).read_text()))
    except FileNotFoundError:
        return ()
    except (OSError, ValueError, TypeError):
        log.warning("a container's routes are unreadable", extra={"session": base.name})
        return ()


class HostRelays:
    """The relays of each confined container, by session."""

    def __init__(self) -> None:
        self._relays: dict[str, list[Relay]] = {}

    async def open(
        self, session_id: str, base: Path, routes: tuple[Route, ...], user: tuple[int, int]
    ) -> None:
        """Listen for ``routes`` in ``base``'s sockets directory, for the container's ``user``."""
        await self.close(session_id)
        folder = sockets_of(base)
        folder.mkdir(mode=0o755, exist_ok=True)
        relays = self._relays[session_id] = []
        for route in routes:
            path = folder / route.name
            relays.append(await Relay(Endpoint(path=path), Endpoint.parse(route.upstream)).start())
            if os.geteuid() == 0:
                os.chown(path, *user)
            path.chmod(0o600)  # the container's user only (base is the server's, 0700)

    async def close(self, session_id: str) -> None:
        for relay in self._relays.pop(session_id, []):
            await relay.close()

    async def close_all(self) -> None:
        for session_id in list(self._relays):
            await self.close(session_id)

    async def remove(self, session_id: str, base: Path) -> None:
        """The container is gone: its relays and their notes too."""
        await self.close(session_id)
        (base / ROUTES).unlink(missing_ok=True)
        shutil.rmtree(sockets_of(base), ignore_errors=True)
