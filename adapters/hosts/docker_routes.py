"""The ways out of a confined container (``TRACE_DOCKER_NETWORK=none``), planned.

A container with ``--network none`` has only its own loopback. It reaches the
server, and the model providers configured for its tools (``TRACE_TOOL_<TOOL>_BASE_URL``),
through routes: each is a unix socket in the session's ``sockets/`` directory,
bound read-only into the container, where the server's host relays to the real
address (docker_relays.py); inside, the container's relay (trace_sync.bridge.socket_relay)
listens on a loopback address and relays to that socket. Nothing else leaves it.

- An ``http`` URL (the server on loopback, a model server on 127.0.0.1) is
  rewritten to the listener inside: ``http://127.0.0.1:8620/...``.
- An ``https`` URL keeps its name, so TLS stays end to end (the relays only
  carry bytes): ``--add-host NAME:127.0.0.N`` and a listener on ``127.0.0.N:PORT``,
  one loopback address per name (two providers may both use port 443). A port
  below 1024 needs ``net.ipv4.ip_unprivileged_port_start=0`` (a sysctl of the
  container's own network namespace) for the image's non-root user to listen.
  An https URL naming a non-loopback IP address cannot be carried this way: it
  is left unreachable, with a warning.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

#: The first port on a confined container's 127.0.0.1 for the plain-http routes.
FIRST_PORT = 8620
#: The socket of the route to the server.
SERVER = "server.sock"
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Route:
    """One way out: the container's ``listen`` (``IP:PORT``) to the socket ``name``,
    which its host relays to ``upstream`` (``HOST:PORT``)."""

    name: str
    upstream: str
    listen: str
    #: A name the container resolves to the listener's address (https routes).
    alias: str = ""

    @property
    def low_port(self) -> bool:
        return int(self.listen.rpartition(":")[2]) < 1024


@dataclass(frozen=True)
class Confinement:
    routes: tuple[Route, ...]
    #: The server's URL for the bridge inside.
    server_url: str
    #: Tool settings whose URL changed for the inside (``TRACE_TOOL_*_BASE_URL``).
    env: Mapping[str, str]


def confine(server_url: str, providers: Mapping[str, str]) -> Confinement:
    """The routes for the server at ``server_url`` and the ``providers``
    (variable -> base URL); one route per distinct upstream."""
    planner = _Planner()
    inside = planner.url(server_url, SERVER)
    if inside is None:
        raise ValueError(f"a confined container cannot reach the server at {server_url}")
    env = {}
    for variable, url in sorted(providers.items()):
        rewritten = planner.url(url, "")
        if rewritten is not None and rewritten != url:
            env[variable] = rewritten
    return Confinement(tuple(planner.routes.values()), inside, env)


def provider_urls(environ: Mapping[str, str]) -> dict[str, str]:
    """The tools' configured providers: ``TRACE_TOOL_<TOOL>_BASE_URL`` with a value."""
    return {
        name: value
        for name, value in environ.items()
        if name.startswith("TRACE_TOOL_") and name.endswith("_BASE_URL") and value
    }


class _Planner:
    def __init__(self) -> None:
        #: By (scheme, upstream): one route serves every URL of the same place.
        self.routes: dict[tuple[str, str], Route] = {}

    def url(self, url: str, name: str) -> str | None:
        """``url`` as the container dials it, or None when no route can carry it."""
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            log.warning("no route for a URL that is not http(s): %s", parts.scheme)
            return None
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        host = parts.hostname
        upstream = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        key = (parts.scheme, upstream)
        route = self.routes.get(key) or self._route(parts.scheme, host, port, upstream, name)
        if route is None:
            return None
        self.routes[key] = route
        if parts.scheme == "https":
            return url
        return urlunsplit(parts._replace(netloc=route.listen))

    def _route(self, scheme: str, host: str, port: int, upstream: str, name: str) -> Route | None:
        name = name or f"provider-{len(self.routes)}.sock"
        if scheme == "http":
            return Route(name, upstream, f"127.0.0.1:{FIRST_PORT + len(self.routes)}")
        if host == "localhost" or (_ip(host) and ":" not in host):
            return Route(name, upstream, f"127.0.0.1:{port}")  # the container's loopback too
        if _ip(host) is None:  # a name: the container resolves it to a loopback of its own
            address = f"127.0.0.{2 + len(self.routes)}"
            return Route(name, upstream, f"{address}:{port}", alias=host)
        log.warning("an https URL naming an IP address cannot reach a confined container")
        return None


def _ip(host: str) -> bool | None:
    """Whether ``host`` is a loopback IP address; None when it is a name."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return None
