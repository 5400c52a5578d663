"""What the clients of one process share by key: started by the first holder,
closed when the last one lets go.

The web app's tabs run in the server's process, each with a client of its own.
A person's tabs (one token) share their inbox feed, keyed by server and token;
everyone's tabs share the documents they read, keyed by server and document,
each person reading through their own access (:mod:`trace_app.shared_replica`).

>>> async with SHARED.held(("inbox", url, token), start) as feed: ...
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

V = TypeVar("V")

#: Starts a shared thing; what it enters on the stack closes with it.
Start = Callable[[AsyncExitStack], Awaitable[V]]


class Shared:
    def __init__(self) -> None:
        self._held: dict[Hashable, _Held] = {}

    @asynccontextmanager
    async def held(self, key: Hashable, start: Start[V]) -> AsyncIterator[V]:
        """The thing shared under ``key``, started with ``start`` if nobody holds it."""
        held = self._held.get(key)
        if held is None:
            held = self._held[key] = _Held(asyncio.ensure_future(_started(start)))
        held.holders += 1
        try:
            value, _ = await asyncio.shield(held.started)
            yield value
        finally:
            held.holders -= 1
            if not held.holders:
                del self._held[key]
                await held.stop()


@dataclass
class _Held:
    started: asyncio.Future[tuple[Any, AsyncExitStack]]
    holders: int = 0

    async def stop(self) -> None:
        try:
            _, stack = await self.started
        except Exception:
            return  # it never started: its holders were told why
        await stack.aclose()


async def _started(start: Start[V]) -> tuple[V, AsyncExitStack]:
    async with AsyncExitStack() as stack:
        value = await start(stack)
        return value, stack.pop_all()


#: The process's shared things (the web app's tabs).
SHARED = Shared()
