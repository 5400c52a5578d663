"""Which forge a repo's remote lives on, and its project there.

Well-known hosts are recognised by name; a self-hosted forge is declared in
the repo's setup (``forge``: github, gitlab or gitea; ``forge_url`` its API
root when not the host's usual one).

>>> place_of("git@github.com:acme/shop.git")
Place(kind='github', api_url='https://api.github.com', project='acme/shop')
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from trace_sync.contract.errors import Conflict, InvalidInput
from trace_sync.services.forges.forge import FORGES, ForgeKind, Place

KNOWN: dict[str, tuple[ForgeKind, str]] = {
    "github.com": ("github", "https://api.github.com"),
    "gitlab.com": ("gitlab", "https://gitlab.com/api/v4"),
    "codeberg.org": ("gitea", "https://codeberg.org/api/v1"),
}
#: Where each forge's API is on a self-hosted server.
API_PATH: dict[str, str] = {"github": "/api/v3", "gitlab": "/api/v4", "gitea": "/api/v1"}
_SCP = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")


def host_and_project(url: str) -> tuple[str, str]:
    """``(host, owner/name)`` of a remote URL (https, ssh, or ``user@host:path``)."""
    scp = _SCP.match(url) if "://" not in url else None
    if scp:
        host, path = scp["host"], scp["path"]
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http", "ssh", "git") or not parts.hostname:
            raise Conflict(f"the repo's remote {_shown(url)} is on no forge")
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        path = parts.path
    project = path.strip("/").removesuffix(".git")
    if project.count("/") < 1 or ".." in project.split("/"):
        raise Conflict(f"the repo's remote {_shown(url)} names no owner/project")
    return host, project


def place_of(url: str, kind: str | None = None, api_url: str | None = None) -> Place:
    """The forge of remote ``url``: known by its host, or as declared."""
    host, project = host_and_project(url)
    if kind is None:
        if host not in KNOWN:
            raise Conflict(f"{host} is no forge Trace knows: declare it in the repo's setup")
        kind, known_api = KNOWN[host]
        return Place(kind, api_url or known_api, project)
    if kind not in FORGES:
        raise InvalidInput(f"a forge is one of {', '.join(sorted(FORGES))}")
    default = KNOWN[host][1] if host in KNOWN else f"https://{host}{API_PATH[kind]}"
    return Place(kind, api_url or default, project)  # type: ignore[arg-type]


def _shown(url: str) -> str:
    """A URL without its credentials, fit for a message."""
    parts = urlsplit(url)
    if parts.password or parts.username:
        return parts._replace(netloc=parts.hostname or "").geturl()
    return url
