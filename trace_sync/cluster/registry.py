"""Which server process holds each bridge's connection: runtime → process, with an epoch.

``<prefix>bridge:<runtime>`` holds ``"<process> <epoch>"``. A process claims the
runtime when its bridge says hello there; the newest claim wins (its epoch is
larger than any before it: the time of Redis in ms, made unique), and the
process it replaced is told to close its link. The holder renews the entry
every :data:`TICK_S`; it expires :data:`TTL_S` after the last renewal, so a
process that dies stops being anyone's holder within seconds. Renewing also
heals what Redis lost (a flush or restart): a missing entry is written again,
and a process that finds a newer claim in its place learns that it lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

#: How often a process renews the entries it holds.
TICK_S = 1.0
#: How long an entry outlives its last renewal: a dead process's entries go then.
TTL_S = 5.0

# A claim's epoch is never below one seen before, even after Redis lost the counter.
_CLAIM = """
local now = redis.call('TIME')
local epoch = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local current = redis.call('GET', KEYS[1])
if current then last = math.max(last, tonumber(string.match(current, '%d+$'))) end
if epoch <= last then epoch = last + 1 end
local text = string.format('%d', epoch)
redis.call('SET', KEYS[2], text)
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. text, 'PX', ARGV[2])
if current then return {text, current} end
return {text}
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# 0: renewed (or written again); else the epoch of the newer claim that replaced it.
_RENEW = """
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then
  local theirs = string.match(current, '%d+$')
  if tonumber(theirs) > tonumber(ARGV[2]) then return theirs end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 0
"""


@dataclass(frozen=True)
class Holder:
    process: str
    epoch: int

    @classmethod
    def parse(cls, value: bytes | str) -> Holder:
        text = value.decode() if isinstance(value, bytes) else value
        process, _, epoch = text.rpartition(" ")
        return cls(process, int(epoch))

    def __str__(self) -> str:
        return f"{self.process} {self.epoch}"


class Registry:
    """The entries, as one process (``process``) reads and writes them."""

    def __init__(self, redis: aioredis.Redis, process: str, prefix: str) -> None:
        self._redis = redis
        self.process = process
        self._entries = prefix + "bridge:"
        #: The last epoch handed out (epochs stay unique when two claims share a millisecond).
        self._last_epoch = prefix + "bridge-epoch"
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._renew = redis.register_script(_RENEW)

    async def claim(self, runtime_id: str) -> tuple[Holder, Holder | None]:
        """This process holds the runtime now: the new entry, and the one it replaced."""
        keys = [self._key(runtime_id), self._last_epoch]
        answer: Any = await self._claim(keys=keys, args=[self.process, _ms(TTL_S)])
        mine = Holder(self.process, int(answer[0]))
        return mine, Holder.parse(answer[1]) if len(answer) > 1 else None

    async def release(self, runtime_id: str, epoch: int) -> None:
        """Remove the entry if it is still this process's claim ``epoch``."""
        await self._release(keys=[self._key(runtime_id)], args=[str(Holder(self.process, epoch))])

    async def holder(self, runtime_id: str) -> Holder | None:
        """The live process holding the runtime, if any."""
        value: Any = await self._redis.get(self._key(runtime_id))
        return None if value is None else Holder.parse(value)

    async def renew(self, held: dict[str, int]) -> dict[str, int]:
        """Renew the runtimes this process holds (runtime → epoch); return those
        a newer claim took, with its epoch."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for runtime_id, epoch in held.items():
                args: list[str | int] = [str(Holder(self.process, epoch)), epoch, _ms(TTL_S)]
                await self._renew(keys=[self._key(runtime_id)], args=args, client=pipe)
            answers: list[Any] = await pipe.execute()
        return {rid: int(a) for rid, a in zip(held, answers, strict=True) if int(a)}

    def _key(self, runtime_id: str) -> str:
        return self._entries + runtime_id


def _ms(seconds: float) -> int:
    return int(seconds * 1000)
