"""A Redis stream per server process: ``<prefix>inbox:<process>``.

Any process posts to another's inbox (a JSON object per entry); the owner
reads its own in order. An inbox nobody posts to for :data:`KEEP_S` goes,
so a dead process's goes too. Nothing here waits for an answer: whoever
needs one posts it back to the asker's inbox (:mod:`trace_sync.cluster.relay`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis.asyncio as aioredis

log = logging.getLogger(__name__)

#: Entries kept (approximately); far more than a process has in flight.
MAX_LEN = 1_000
#: How long an inbox outlives the last entry posted to it.
KEEP_S = 60
#: Longest one read waits for entries.
BLOCK_MS = 1_000


class ProcessInbox:
    def __init__(self, redis: aioredis.Redis, process: str, prefix: str) -> None:
        self._redis = redis
        self._inboxes = prefix + "inbox:"
        self._own = self._key(process)
        # A process's name is new each start: everything in its inbox is for it.
        self._since = "0-0"

    async def post(self, process: str, message: dict[str, Any]) -> None:
        key = self._key(process)
        fields: dict[str | bytes, str] = {"m": json.dumps(message)}
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, fields, maxlen=MAX_LEN, approximate=True)  # type: ignore[arg-type]
            pipe.expire(key, KEEP_S)
            await pipe.execute()

    async def receive(self) -> list[dict[str, Any]]:
        """What arrived since the last call (waits up to :data:`BLOCK_MS` for some)."""
        answer: Any = await self._redis.xread({self._own: self._since}, block=BLOCK_MS)
        messages = []
        for _, entries in answer or []:
            for entry_id, fields in entries:
                self._since = entry_id.decode()
                try:
                    messages.append(json.loads(fields[b"m"]))
                except (KeyError, ValueError):
                    log.warning("undecodable inbox entry", extra={"entry": self._since})
        return messages

    def _key(self, process: str) -> str:
        return self._inboxes + process
