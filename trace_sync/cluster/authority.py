"""Authority changes between server processes: Redis pub/sub.

:meth:`RedisAuthority.publish` hands the change to this process's listeners
first (it returns once they have acted, as :class:`LocalAuthority` does), then
publishes it on ``<prefix>authority``; every other process's subscriber loop
hands what it receives to its own listeners, in the order they subscribed
(caches forget before sockets are checked again).

Pub/sub delivers at most once: what is published while a subscription is
down never reaches it. So, rather than ever serve stale authority:

- while this process's subscription is down (Redis stopped, restarted or out
  of reach), :attr:`listening` is False and caches of authority answer from
  the store only (:class:`~trace_sync.auth.facts.CachedFacts` reads it);
- once it is back, the listeners get a change of everything
  (:attr:`Reason.MISSED`): every cache forgets all it holds and every open
  socket is decided again from the store, which catches whatever changed
  meanwhile on any process;
- a change Redis refused to take is followed, once Redis answers, by a change
  of everything from this process, so the others decide again too.

Not covered: Redis out of reach for the publisher only while the others still
listen; their caches then keep a revoked fact until Redis answers the
publisher again or :data:`~trace_sync.auth.facts.MAX_AGE_S` passes, whichever
comes first. A stopped or restarted Redis closes the subscription's
connection, which is noticed at once; one that hangs without closing is
given up after :data:`SILENT_S` without an answer to a ping.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from trace_sync.cluster.cancelling import stop_if_cancelled
from trace_sync.cluster.redis_link import RedisLink
from trace_sync.contract.errors import StoreError
from trace_sync.services.authority import AuthorityChanged, Listener, LocalAuthority, Reason

log = logging.getLogger(__name__)

#: Pause before subscribing or publishing again after Redis failed.
RETRY_S = 0.5
#: A subscription idle for a second pings Redis; this long unanswered, it is
#: given up as lost (a connection that hangs without closing).
SILENT_S = 5.0
START_WITHIN_S = 10.0
SEND_WITHIN_S = 2.0
EVERYTHING = AuthorityChanged(Reason.MISSED)


class RedisAuthority:
    """``async with RedisAuthority(link) as authority``: an ``Authority`` for a cluster."""

    def __init__(self, link: RedisLink) -> None:
        self._redis = link.open()
        self._channel = link.name("authority")
        self._local = LocalAuthority()
        self._origin = secrets.token_hex(8)
        self.listening = False
        #: A change did not reach Redis: publish a change of everything once it answers.
        self._unsent = asyncio.Event()
        self._subscribed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> RedisAuthority:
        self._tasks = [
            asyncio.create_task(self._listen(), name="authority-listen"),
            asyncio.create_task(self._resend(), name="authority-resend"),
        ]
        # Serving before the subscription holds would let a change go unheard.
        try:
            await asyncio.wait_for(self._subscribed.wait(), START_WITHIN_S)
        except TimeoutError:
            await self.__aexit__()
            raise StoreError("cannot subscribe to authority changes in Redis") from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._redis.aclose()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._local.subscribe(listener)

    async def publish(self, change: AuthorityChanged) -> None:
        await self._local.publish(change)
        try:  # bounded: a hung Redis must not hold up the call that changed something
            await asyncio.wait_for(self._send(change), SEND_WITHIN_S)
        except (RedisError, TimeoutError) as exc:
            log.warning("Redis unreachable: authority change not shared yet: %s", exc)
            self._unsent.set()

    async def _send(self, change: AuthorityChanged) -> None:
        message = json.dumps({"from": self._origin, "change": change.to_json()})
        await self._redis.publish(self._channel, message)

    async def _resend(self) -> None:
        while True:
            stop_if_cancelled()
            await self._unsent.wait()
            self._unsent.clear()
            try:
                await self._send(EVERYTHING)
            except RedisError:
                self._unsent.set()
                await asyncio.sleep(RETRY_S)

    async def _listen(self) -> None:
        heard_before = False
        while True:
            stop_if_cancelled()
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    await _confirmed(pubsub)
                    self.listening = True
                    self._subscribed.set()
                    if heard_before:  # what was published meanwhile never came
                        await self._local.publish(EVERYTHING)
                    heard_before = True
                    await self._receive(pubsub)
            except Exception as exc:  # Redis's or a listener's: subscribe again, check all
                if self.listening:
                    log.warning(
                        "authority changes unheard: caches off until Redis is back: %r", exc
                    )
                self.listening = False
                await asyncio.sleep(RETRY_S)

    async def _receive(self, pubsub: Any) -> None:
        """Hand on what arrives; raise once Redis stops answering pings, so a
        connection that hangs without closing is given up (and caches go off)."""
        loop = asyncio.get_running_loop()
        unanswered_since: float | None = None
        while True:
            stop_if_cancelled()
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None:
                unanswered_since = None  # whatever arrives shows the connection lives
                if message["type"] == "message":
                    await self._heard(message["data"])
                continue
            now = loop.time()
            if unanswered_since is None:
                await pubsub.ping()
                unanswered_since = now
            elif now - unanswered_since > SILENT_S:
                raise ConnectionError(f"Redis has not answered for {SILENT_S:g} s")

    async def _heard(self, data: bytes) -> None:
        try:
            fields = json.loads(data)
            if fields["from"] == self._origin:
                return  # acted on when published
            change = AuthorityChanged.from_json(fields["change"])
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable authority change ignored; checking everything again")
            change = EVERYTHING
        await self._local.publish(change)


async def _confirmed(pubsub: Any) -> None:
    """Wait until Redis has confirmed the subscription."""
    deadline = asyncio.get_running_loop().time() + SILENT_S
    while asyncio.get_running_loop().time() < deadline:
        message = await pubsub.get_message(timeout=1.0)
        if message is not None and message["type"] == "subscribe":
            return
    raise ConnectionError(f"Redis has not confirmed the subscription in {SILENT_S:g} s")
