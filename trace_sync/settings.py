"""Server settings, read once from the environment (``TRACE_*``).

Every setting documents its default and why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs


class SettingsError(ValueError):
    """An environment variable holds a value Trace cannot use."""


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
    host: str = "127.0.0.1"
    port: int = 4000
    #: Group commit: the longest an accepted update waits before its batch commits.
    commit_delay_s: float = 0.01
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

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("TRACE_DATA_DIR") or platformdirs.user_data_dir("trace"))
        database_url = env.get("TRACE_DATABASE_URL") or sqlite_url(data_dir / "trace.db")
        return cls(
            data_dir=data_dir.expanduser().resolve(),
            database_url=database_url,
            host=env.get("TRACE_HOST", "127.0.0.1"),
            port=_int(env, "TRACE_PORT", 4000),
            public_url=env.get("TRACE_PUBLIC_URL") or None,
            database_schema=env.get("TRACE_DATABASE_SCHEMA") or None,
            bridge=_bridge_timings(env),
            cloud_host=env.get("TRACE_CLOUD_HOST") or None,
        )


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


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
