"""A server process claims its data: a second one is refused unless both are
cluster members (PostgreSQL and Redis)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.cluster.conftest import server_on
from tests.conftest import StoreTarget
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess, free_port

REFUSED = "another Trace server serves the database"
HINT = "set TRACE_REDIS_URL on every process"


def refused(server: ServerProcess) -> str:
    """What the server said on leaving: one line, no traceback."""
    with pytest.raises(RuntimeError, match="server exited early") as failed:
        server.start()
    said = str(failed.value).removeprefix("server exited early:").strip()
    assert len(said.splitlines()) == 1 and "Traceback" not in said, said
    return said


def test_a_second_server_on_sqlite_is_refused_until_the_first_dies(
    tmp_path: Path, servers: list[ServerProcess]
) -> None:
    db = StoreTarget(f"sqlite+aiosqlite:///{tmp_path / 'trace.db'}")
    first, second = server_on(db, tmp_path / "a"), server_on(db, tmp_path / "b")
    servers += [first, second]
    first.start()
    output = refused(second)
    assert REFUSED in output and HINT in output
    first.stop(signal.SIGKILL)  # a crash leaves no claim behind
    second.start()


async def test_a_second_server_on_postgresql_without_redis_is_refused(
    postgres: StoreTarget, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    first, second = server_on(postgres, tmp_path / "a"), server_on(postgres, tmp_path / "b")
    servers += [first, second]
    first.start()
    output = refused(second)
    assert REFUSED in output and "(PostgreSQL)" in output and HINT in output
    first.stop(signal.SIGKILL)
    second.start()


async def test_cluster_members_share_the_data_but_refuse_a_lone_server(
    postgres: StoreTarget,
    redis_server: RedisServer,
    tmp_path: Path,
    servers: list[ServerProcess],
) -> None:
    members = [server_on(postgres, tmp_path / n, redis_server.url) for n in ("a", "b")]
    lone = server_on(postgres, tmp_path / "c")
    servers += [*members, lone]
    for member in members:
        member.start()
    assert "a single (non-cluster) Trace server" not in refused(lone)  # it is the lone one
    assert REFUSED in refused(lone)


def test_redis_with_sqlite_is_refused_at_start(
    tmp_path: Path, redis_server: RedisServer, servers: list[ServerProcess]
) -> None:
    db = StoreTarget(f"sqlite+aiosqlite:///{tmp_path / 'trace.db'}")
    server = server_on(db, tmp_path / "a", redis_server.url)
    servers.append(server)
    assert "TRACE_REDIS_URL (cluster mode) needs PostgreSQL" in refused(server)


def test_a_cluster_member_without_the_shared_secret_is_refused_at_start(
    postgres: StoreTarget, tmp_path: Path, redis_server: RedisServer, servers: list[ServerProcess]
) -> None:
    # Its own key would not open what the others sealed (workspace secrets, action links).
    server = server_on(postgres, tmp_path / "a", redis_server.url)
    server.extra_env["TRACE_SECRET_KEY"] = ""
    servers.append(server)
    assert "cluster mode) needs TRACE_SECRET_KEY, the same on every process" in refused(server)


async def test_a_cluster_member_without_redis_says_so(
    postgres: StoreTarget, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    nothing_there = f"redis://:secret@127.0.0.1:{free_port()}/0"
    server = server_on(postgres, tmp_path / "a", nothing_there)
    servers.append(server)
    said = refused(server)
    assert "cannot reach Redis (TRACE_REDIS_URL) at 127.0.0.1:" in said and "secret" not in said
