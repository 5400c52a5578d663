"""A cluster for the cluster benches: N ``server.py`` processes on a fresh
PostgreSQL schema (dropped afterwards) and a private ``redis-server``, with
sessions to sync and user tokens for the clients. The same helpers the
cluster tests use; the shared Redis on 6379 is never touched.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.cluster.conftest import server_on
from tests.conftest import POSTGRES_URL, StoreTarget, _drop_schema
from tests.support.redis_server import RedisServer, private_redis
from tests.support.server_process import ServerProcess
from trace_sync.services.accounts import AccountService


@dataclass
class Cluster:
    servers: list[ServerProcess]
    redis: RedisServer
    target: StoreTarget
    #: ``session/<sid>/notes`` for each session made.
    documents: list[str]
    #: User tokens, for clients round-robin: limits count per token.
    tokens: list[str]

    def url(self, process: int, document: int, client: int) -> str:
        """The sync URL of ``document`` on ``process``, with the ``client``-th token."""
        token = self.tokens[client % len(self.tokens)]
        return f"{self.servers[process].ws_url}/sync/{self.documents[document]}?token={token}"

    def pids(self) -> list[int]:
        return [s.process.pid for s in self.servers if s.process is not None]

    def metric(self, name: str) -> float:
        """A counter from every process's ``/metrics``, summed (e.g.
        ``trace_store_committed_updates_total``: rows appended to the update log)."""
        total = 0.0
        for server in self.servers:
            text = httpx.get(f"{server.url}/metrics", timeout=30).text
            for line in text.splitlines():
                if line.startswith(f"{name} "):
                    total += float(line.split()[1])
        return total

    def redis_calls(self) -> dict[str, int]:
        """Commands Redis has served so far, by name (``INFO commandstats``)."""
        stats = self.redis.client().info("commandstats")
        return {key.removeprefix("cmdstat_"): int(v["calls"]) for key, v in stats.items()}

    def redis_memory(self) -> int:
        """Redis's ``used_memory`` (bytes)."""
        return int(self.redis.client().info("memory")["used_memory"])


@asynccontextmanager
async def cluster(
    workdir: Path, processes: int = 3, documents: int = 1, tokens: int = 20
) -> AsyncIterator[Cluster]:
    schema = f"bench_{secrets.token_hex(6)}"
    target = StoreTarget(POSTGRES_URL, schema)
    with private_redis() as redis:
        servers = [server_on(target, workdir / f"p{i}", redis.url) for i in range(processes)]
        try:
            for server in servers:  # one by one: the first makes the owner and workspace
                await asyncio.to_thread(server.start)
            async with target.store() as store:
                [owner] = await store.accounts.list_users()
                [workspace] = await store.directory.list_workspaces()
                sessions = [
                    await store.sessions.create(workspace.id, owner.id) for _ in range(documents)
                ]
                issued = [
                    (await AccountService(store).issue_token(owner.id, "bench")).token
                    for _ in range(tokens)
                ]
            names = [f"session/{s.id}/notes" for s in sessions]
            yield Cluster(servers, redis, target, names, issued)
        finally:
            for server in servers:
                server.close()
            await _drop_schema(schema)
