"""Server settings, read once from the environment (``TRACE_*``).

Every setting documents its default and why.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from trace_sync.bridge.hosts import HOSTS
from trace_sync.contract import local_files
from trace_sync.contract.errors import InvalidInput

#: Who may create workspaces: instance admins only, or every signed-in user.
WorkspaceCreation = Literal["admins", "everyone"]
WORKSPACE_CREATION: tuple[WorkspaceCreation, ...] = ("admins", "everyone")
#: What a process serves: ``web`` the browser tabs' app sessions, ``sync`` the API,
#: ``/sync`` and ``/bridge``; ``all`` both (one process, the default).
ServerRole = Literal["all", "web", "sync"]
SERVER_ROLES: tuple[ServerRole, ...] = ("all", "web", "sync")
DEFAULT_REDIS_PREFIX = "trace:"
_REDIS_PREFIX = re.compile(r"[A-Za-z0-9:_.-]{1,64}")


class SettingsError(InvalidInput, ValueError):
    """An environment variable holds a value Trace cannot use (the CLI prints it
    as one line, as every ``TraceError``)."""


@dataclass(frozen=True)
class Limits:
    """Per-connection limits of the sync endpoint; violations close the socket."""

    #: Largest websocket frame accepted (close 4413 above it). 8 MiB fits a
    #: large paste or file diff while keeping one message from exhausting memory.
    max_frame_bytes: int = 8 * 1024 * 1024
    #: Documents one token may hold open at once (close 4429 above it). y-websocket
    #: opens one socket per document, so this bounds what one credential can pin.
    max_documents_per_token: int = 256
    #: New sync connections per token per minute (close 4429 above it).
    connections_per_minute: int = 600
    #: Frames queued for one slow client before its backlog is folded into a
    #: single state-vector diff: bounds memory per client whatever the load.
    max_queued_frames: int = 256
    #: Largest presence (awareness) state of one client, in bytes of JSON
    #: (close 4413 above it): a name, a colour and a cursor take a few hundred.
    max_presence_bytes: int = 16 * 1024
    #: Presence client ids one connection may claim (close 4413 above it): a
    #: Yjs client uses one; a few allow an app with several editors per socket.
    max_presence_clients: int = 4
    #: All presence states of one document together (close 4413 above it):
    #: every newcomer receives them in one frame.
    max_room_presence_bytes: int = 1024 * 1024
    #: Largest ``session/<sid>/notes`` document, in bytes of its encoded state
    #: (close 4413 for an update that would pass it): members' drafts and
    #: comments, opened on phones too.
    max_notes_bytes: int = 8 * 1024 * 1024


@dataclass(frozen=True)
class BridgeTimings:
    """How the server keeps track of bridges on ``/bridge``."""

    #: Bridges send a heartbeat this often.
    heartbeat_s: float = 5.0
    #: A bridge not heard from for this long is lost: its live sessions fail
    #: (interrupted, offered for resume). Four heartbeats, so one or two late
    #: ones on a busy machine do not lose it.
    lease_s: float = 20.0
    #: How long a service waits for a bridge's reply (checkpoint, merge, files).
    request_s: float = 30.0


@dataclass(frozen=True)
class Settings:
    """Everything ``create_app`` needs; build with :meth:`from_env` or by hand in tests."""

    data_dir: Path
    database_url: str
    host: str = local_files.DEFAULT_HOST
    port: int = local_files.DEFAULT_PORT
    #: Group commit: how long a batch stays open after its first update (0: it commits
    #: at once when no commit runs; what arrives during one shares the next).
    commit_delay_s: float = 0.0
    #: Compact a document once this many updates follow its snapshot.
    compact_after_updates: int = 2000
    #: An unused room stays loaded this long, so a reconnecting client finds it warm.
    room_grace_s: float = 30.0
    limits: Limits = field(default_factory=Limits)
    #: Public base URL used in sign-in links (defaults to http://host:port).
    public_url: str | None = None
    #: PostgreSQL schema to keep Trace's tables in (created if missing).
    database_schema: str | None = None
    bridge: BridgeTimings = field(default_factory=BridgeTimings)
    #: The host adapter that starts bridges for cloud sessions (none: they wait).
    cloud_host: str | None = None
    #: That host's own settings, from ``TRACE_<HOST>_<NAME>`` (``{"name": value}``).
    cloud_host_options: Mapping[str, str] = field(default_factory=dict)
    #: Who may create workspaces (``TRACE_WORKSPACE_CREATION``). ``admins`` by
    #: default: whoever creates a workspace owns it, and a stranger's workspace
    #: is a foothold; ``everyone`` suits a team that trusts all its accounts.
    workspace_creation: WorkspaceCreation = "admins"
    #: The server's own secret (``TRACE_SECRET_KEY``): seals notification
    #: destinations and signs action links. Cluster members must share it (checked
    #: in from_env); a lone server without it makes one in ``<data dir>/server-key``.
    secret_key: str | None = None
    #: Redis (``TRACE_REDIS_URL``) carries updates between server processes;
    #: set with PostgreSQL, several processes may serve the same data (cluster mode).
    redis_url: str | None = None
    #: Starts every Redis key and pub/sub channel of this deployment
    #: (``TRACE_REDIS_PREFIX``): clusters sharing one Redis need different ones
    #: (a database number in the URL separates keys, but not pub/sub channels).
    redis_prefix: str = DEFAULT_REDIS_PREFIX
    #: What this process serves (``TRACE_ROLE``, ``trace serve --role``): ``all`` by
    #: default; ``web`` and ``sync`` let UI work scale apart from sync behind a
    #: balancer that sends the API's paths to ``sync`` processes, the rest to ``web``.
    role: ServerRole = "all"
    #: Where a ``web`` process's tabs reach the API and ``/sync`` (``TRACE_API_URL``;
    #: required for ``web``, e.g. the balancer's address). Unset: this process itself.
    api_url: str | None = None

    @property
    def serves_web(self) -> bool:
        return self.role != "sync"

    @property
    def serves_api(self) -> bool:
        return self.role != "web"

    @property
    def cluster(self) -> bool:
        """Several processes share the data: Redis set and PostgreSQL (checked in from_env)."""
        return self.redis_url is not None and self.database_url.startswith("postgresql")

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = local_files.data_dir(env)
        database_url = env.get("TRACE_DATABASE_URL") or sqlite_url(data_dir / "trace.db")
        cloud_host = env.get("TRACE_CLOUD_HOST") or None
        redis_url = env.get("TRACE_REDIS_URL") or None
        if redis_url and not database_url.startswith("postgresql"):
            raise SettingsError(
                "TRACE_REDIS_URL (cluster mode) needs PostgreSQL in TRACE_DATABASE_URL: "
                "SQLite serves one process"
            )
        if redis_url and not env.get("TRACE_SECRET_KEY"):
            # Each process would make its own key: what one sealed, another could not open.
            raise SettingsError(
                "TRACE_REDIS_URL (cluster mode) needs TRACE_SECRET_KEY, the same on every "
                "process: it seals workspace secrets and signs action links"
            )
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            host=env.get("TRACE_HOST", local_files.DEFAULT_HOST),
            port=_int(env, "TRACE_PORT", local_files.DEFAULT_PORT),
            public_url=env.get("TRACE_PUBLIC_URL") or None,
            database_schema=env.get("TRACE_DATABASE_SCHEMA") or None,
            bridge=_bridge_timings(env),
            cloud_host=cloud_host,
            cloud_host_options=_host_options(env, cloud_host),
            workspace_creation=_workspace_creation(env),
            secret_key=env.get("TRACE_SECRET_KEY") or None,
            redis_url=redis_url,
            redis_prefix=_redis_prefix(env),
            role=_role(env),
            api_url=_api_url(env),
        )


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _host_options(env: dict[str, str], cloud_host: str | None) -> dict[str, str]:
    """``TRACE_SANDBOX_DIR=/x`` -> ``{"dir": "/x"}`` for host ``sandbox``."""
    if cloud_host is None:
        return {}
    if cloud_host not in HOSTS:
        known = ", ".join(sorted(HOSTS))
        raise SettingsError(f"TRACE_CLOUD_HOST must be one of {known}, got {cloud_host!r}")
    prefix = f"TRACE_{cloud_host.upper()}_"
    return {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}


def _workspace_creation(env: dict[str, str]) -> WorkspaceCreation:
    raw = env.get("TRACE_WORKSPACE_CREATION") or "admins"
    if raw not in WORKSPACE_CREATION:
        raise SettingsError(f"TRACE_WORKSPACE_CREATION must be admins or everyone, got {raw!r}")
    return raw


def _role(env: dict[str, str]) -> ServerRole:
    raw = env.get("TRACE_ROLE") or "all"
    if raw not in SERVER_ROLES:
        raise SettingsError(f"TRACE_ROLE must be one of {', '.join(SERVER_ROLES)}, got {raw!r}")
    if raw == "web" and not env.get("TRACE_API_URL"):
        # Its tabs need an API to talk to, and it serves none itself.
        raise SettingsError(
            "role web serves only the web app: set TRACE_API_URL (--api-url) to where "
            "the sync processes answer, e.g. the load balancer's http://host:port"
        )
    return raw


def _redis_prefix(env: dict[str, str]) -> str:
    raw = env.get("TRACE_REDIS_PREFIX") or DEFAULT_REDIS_PREFIX
    if not _REDIS_PREFIX.fullmatch(raw):
        raise SettingsError(
            "TRACE_REDIS_PREFIX must be 1 to 64 of the characters A-Z a-z 0-9 : _ - . "
            f"(e.g. trace-staging:), got {raw!r}"
        )
    return raw


def _api_url(env: dict[str, str]) -> str | None:
    raw = env.get("TRACE_API_URL") or None
    if raw is not None and not raw.startswith(("http://", "https://")):
        raise SettingsError(f"TRACE_API_URL must be an http:// or https:// URL, got {raw!r}")
    return raw.rstrip("/") if raw else None


def _bridge_timings(env: dict[str, str]) -> BridgeTimings:
    default = BridgeTimings()
    heartbeat = _seconds(env, "TRACE_BRIDGE_HEARTBEAT_S", default.heartbeat_s)
    lease = _seconds(env, "TRACE_BRIDGE_LEASE_S", default.lease_s)
    if lease <= heartbeat:
        raise SettingsError("TRACE_BRIDGE_LEASE_S must be longer than TRACE_BRIDGE_HEARTBEAT_S")
    return BridgeTimings(heartbeat_s=heartbeat, lease_s=lease, request_s=default.request_s)


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from exc
    if not 0 < value <= 3600:
        raise SettingsError(f"{name} must be between 0 and 3600 seconds, got {value}")
    return value


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from exc
    if not 0 <= value <= 65535:
        raise SettingsError(f"{name} must be between 0 and 65535, got {value}")
    return value
