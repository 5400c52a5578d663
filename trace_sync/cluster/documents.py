"""Document updates between server processes: one Redis stream per document.

The process an update enters through commits it to the update log (group
commit) and only then appends it to ``<prefix>doc:<name>``; every other process
with that room open applies it without storing it again. A process opening a
room marks the stream's last id, loads from PostgreSQL, then reads from the
mark: nothing is missed, and what comes twice is harmless (CRDT updates are
idempotent).

Redis never holds the only copy. Whenever updates may have been missed — the
stream was trimmed past a reader, Redis was flushed or restarted (its epoch key
changed or went), or this process could not publish — every process reloads its
open rooms from PostgreSQL: a failed publish replaces the epoch, which tells them.
A process killed between a commit and its publish cannot tell anyone: the others
reload when its presence beats lapse (:meth:`DocumentStreams.catch_up`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from pycrdt import merge_updates
from redis.exceptions import RedisError

from trace_sync.cluster.cancelling import stop_if_cancelled
from trace_sync.cluster.redis_link import RedisLink
from trace_sync.contract.errors import StoreError
from trace_sync.sync.store import Replica

log = logging.getLogger(__name__)

#: Entries kept per stream (approximately): readers further behind reload instead.
MAX_LEN = 10_000
#: Longest a read waits for entries. A room opened meanwhile is read from its
#: mark after at most this long (nothing lost; its first remote updates wait).
BLOCK_MS = 100
#: How often the epoch is read: a flushed or restarted Redis is noticed this late.
EPOCH_CHECK_S = 0.5
#: Pause before trying Redis again after an error.
RETRY_S = 0.5
#: Most committed updates sent to Redis in one round trip (a pipeline): one
#: round trip each capped a busy process at a few hundred updates a second.
PUBLISH_BATCH = 500
#: Longest any one Redis call may take (a read blocks BLOCK_MS): a wedged
#: connection fails and is retried instead of stalling replication or a shutdown.
CALL_TIMEOUT_S = 10.0
#: Committed updates waiting to be published; beyond it they are dropped and
#: the epoch replaced (every process reloads), so a Redis outage cannot fill memory.
MAX_OUTBOX = 10_000
_START = "0-0"


class DocumentStreams:
    """``async with DocumentStreams(link) as streams``; give it to ``Rooms.replicate``."""

    def __init__(self, link: RedisLink) -> None:
        self._redis = link.open(call_timeout_s=CALL_TIMEOUT_S, connect_timeout_s=CALL_TIMEOUT_S)
        #: Each document's stream is this and its name.
        self._streams = link.name("doc:")
        #: Changes whenever Redis may have lost entries: a new value makes every process reload.
        self._epoch_key = link.name("epoch")
        self._origin = secrets.token_hex(8).encode()
        self._rooms: dict[str, Replica] = {}
        self._since: dict[str, str] = {}
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(MAX_OUTBOX)
        self._epoch: bytes | None = None
        #: Something may not have reached the others: replace the epoch when Redis answers.
        self._lost = False
        #: Another process may have died with updates committed, not published: reload.
        self._behind = False
        #: The batch being published (sent again at shutdown if cut off: harmless).
        self._sending: list[tuple[str, bytes]] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> DocumentStreams:
        try:
            await self._check_epoch()
        except RedisError as exc:  # where, never the password
            where = self._redis.connection_pool.connection_kwargs
            place = f"{where.get('host', 'localhost')}:{where.get('port', 6379)}"
            raise StoreError(f"cannot reach Redis (TRACE_REDIS_URL) at {place}: {exc}") from exc
        self._tasks = [
            asyncio.create_task(self._read(), name="cluster-read"),
            asyncio.create_task(self._publish(), name="cluster-publish"),
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._publish_rest()
        await self._redis.aclose()

    # -- Replication (called by sync.rooms) -----------------------------------

    async def mark(self, name: str) -> str:
        try:
            last: Any = await self._redis.xrevrange(self._key(name), count=1)
        except RedisError:
            log.warning("Redis unreachable: room opens unshared", extra={"doc": name})
            self._lost = True  # everything reloads once Redis answers
            return _START
        return _id(last[0][0]) if last else _START

    def follow(self, room: Replica, since: str) -> None:
        self._rooms[room.name] = room
        self._since[room.name] = since

    def unfollow(self, name: str) -> None:
        self._rooms.pop(name, None)
        self._since.pop(name, None)

    def catch_up(self) -> None:
        """Another process lapsed: what it committed and never published is only in
        PostgreSQL, so this process's rooms reload (soon, in the reading task)."""
        self._behind = True

    def committed(self, name: str, update: bytes) -> None:
        try:
            self._outbox.put_nowait((name, update))
        except asyncio.QueueFull:
            self._lost = True  # stored in PostgreSQL; the others reload it

    # -- publishing ------------------------------------------------------------

    async def _publish(self) -> None:
        while True:
            stop_if_cancelled()
            self._sending = [await self._outbox.get()]
            while len(self._sending) < PUBLISH_BATCH and not self._outbox.empty():
                self._sending.append(self._outbox.get_nowait())
            try:
                await self._xadd(self._sending)
            except RedisError:
                log.warning("Redis unreachable: update not published")
                self._lost = True
            self._sending = []

    async def _xadd(self, updates: list[tuple[str, bytes]]) -> None:
        """Append ``updates`` in one round trip (in order: each stream keeps its own)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for name, update in updates:
                fields: dict[str | bytes, bytes] = {"u": update, "p": self._origin}
                pipe.xadd(self._key(name), fields, maxlen=MAX_LEN, approximate=True)  # type: ignore[arg-type]
            await pipe.execute()

    async def _publish_rest(self) -> None:
        """Publish what committed during shutdown (the store's last group commit,
        when the store is left before this); if Redis refuses, everyone reloads."""
        rest = list(self._sending)
        while not self._outbox.empty():
            rest.append(self._outbox.get_nowait())
        try:
            if rest:
                await self._xadd(rest)
            if self._lost:
                await self._redis.set(self._epoch_key, secrets.token_hex(8))
        except RedisError:
            log.warning("Redis unreachable at shutdown: %d updates not published", len(rest))

    # -- reading ---------------------------------------------------------------

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        next_check = 0.0
        while True:
            stop_if_cancelled()
            try:
                if self._lost or loop.time() >= next_check:
                    next_check = loop.time() + EPOCH_CHECK_S
                    if await self._check_epoch():
                        self._behind = True
                if self._behind:
                    self._behind = False
                    await self._reload_all()
                await self._read_once()
            except RedisError as exc:
                log.warning("Redis unreachable: %s", exc)
                self._lost = True
                await asyncio.sleep(RETRY_S)
            except Exception:  # e.g. an undecodable entry: reload rather than stop sharing
                log.exception("reading document streams failed; reloading")
                self._lost = True
                await asyncio.sleep(RETRY_S)

    async def _check_epoch(self) -> bool:
        """True when Redis may have lost entries since the last check."""
        if self._lost:
            self._lost = False
            await self._redis.set(self._epoch_key, secrets.token_hex(8))
        current: Any = await self._redis.get(self._epoch_key)
        if current is None:  # flushed or restarted empty
            await self._redis.set(self._epoch_key, secrets.token_hex(8), nx=True)
            current = await self._redis.get(self._epoch_key)
        changed = self._epoch is not None and current != self._epoch
        self._epoch = current
        return changed

    async def _reload_all(self) -> None:
        log.info("updates may have been missed: reloading %d rooms", len(self._rooms))
        for name in list(self._rooms):
            await self._reload(name)

    async def _reload(self, name: str) -> None:
        since = await self.mark(name)
        room = self._rooms.get(name)
        if room is None:
            return
        await room.reload()
        if self._rooms.get(name) is room:
            self._since[name] = since

    async def _read_once(self) -> None:
        if not self._since:
            await asyncio.sleep(BLOCK_MS / 1000)
            return
        streams = {self._key(name): since for name, since in self._since.items()}
        answer: Any = await self._redis.xread(streams, block=BLOCK_MS)  # type: ignore[arg-type]
        for key, entries in answer or []:
            name = _id(key).removeprefix(self._streams)
            room, since = self._rooms.get(name), self._since.get(name)
            if room is None or since is None or since != streams[self._key(name)]:
                continue  # closed or reloaded meanwhile
            remote = [fields[b"u"] for _, fields in entries if fields.get(b"p") != self._origin]
            if remote:  # one transaction: one change for the room's hooks and its clients
                room.apply_remote(remote[0] if len(remote) == 1 else merge_updates(*remote))
            self._since[name] = _id(entries[-1][0])
            # A stream is trimmed only beyond MAX_LEN entries, so a reader that lost
            # some to a trim is handed at least MAX_LEN: fewer need no check.
            if len(entries) >= MAX_LEN and await self._trimmed_past(key, since):
                await self._reload(name)

    async def _trimmed_past(self, key: bytes, since: str) -> bool:
        """Entries after ``since`` may have been trimmed before this reader got
        them: the stream lost some entries and its first one is past ``since``."""
        info: Any = await self._redis.xinfo_stream(key)
        if info["entries-added"] <= info["length"]:
            return False  # never trimmed
        return _order(_id(info["recorded-first-entry-id"])) > _order(since)

    def _key(self, name: str) -> str:
        return self._streams + name


def _id(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
