"""A private ``redis-server`` on a free port, for tests that flush, stop or
restart Redis (never the shared one on 6379)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis

from tests.support.parts import missing
from tests.support.server_process import free_port
from trace_sync.cluster.redis_link import RedisLink
from trace_sync.settings import DEFAULT_REDIS_PREFIX


@dataclass
class RedisServer:
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start empty, without persistence: a restart loses everything, as a flush does."""
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # polling a condition under a deadline

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def link(self, prefix: str = DEFAULT_REDIS_PREFIX) -> RedisLink:
        """What a cluster on this server with keys and channels under ``prefix`` uses."""
        return RedisLink(self.url, prefix)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)


@contextmanager
def private_redis() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        missing("redis-server not installed: apt-get install redis-server")
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
