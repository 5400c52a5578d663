"""Group commit: one writer task commits many submitted updates per transaction.

A commit costs about the same for one row as for thousands (the fsync, the
round trips). The writer commits at once when it is idle, and whatever
arrives while a commit runs goes into the next one, up to ``max_batch``: a
lone update waits only for its own commit, and under load batches grow with
the rate (PostgreSQL's own default, ``commit_delay = 0``). A ``delay_s`` above
zero also holds each batch open that long after its first update, for fewer,
larger commits at the price of that much latency. Every submitter gets a
future that resolves once its update is committed, or raises
:class:`StoreError` if the commit failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType

from trace_sync.contract.errors import InvalidInput, StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pending:
    """One submitted update waiting for its commit."""

    name: str
    data: bytes
    done: asyncio.Future[None]


@dataclass
class _Flush:
    target: int
    done: asyncio.Future[None]
    error: BaseException | None = None


Commit = Callable[[list[Pending]], Awaitable[None]]


class GroupCommit:
    """``async with GroupCommit(commit) as writer:`` runs the writer task;
    leaving commits what is pending (raising if that fails) and stops it."""

    def __init__(self, commit: Commit, *, delay_s: float, max_batch: int = 4096) -> None:
        if not 0 <= delay_s <= 0.02:
            raise InvalidInput(f"the commit delay must be 0-20 ms, got {delay_s * 1000:g} ms")
        self._commit = commit
        self._delay = delay_s
        self._max = max_batch
        self._queue: list[Pending] = []
        self._first_at = 0.0  # when the oldest queued update arrived
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self._submitted = 0
        self._settled = 0
        self._unsettled: dict[str, int] = {}  # per document, queued or committing
        self._flushes: list[_Flush] = []
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        #: Transactions committed so far (successful ones).
        self.commits = 0

    async def __aenter__(self) -> GroupCommit:
        self._task = asyncio.create_task(self._run(), name="store-group-commit")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        try:
            await self.flush()
        finally:
            await self._stop()

    def submit(self, name: str, data: bytes) -> asyncio.Future[None]:
        """Queue an update; the future resolves once it is committed."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        if self._closing or self._task is None or self._task.done():
            done.set_exception(StoreError("the store is closed"))
            return done
        if not self._queue:
            self._first_at = loop.time()
            self._arrived.set()
        self._queue.append(Pending(name, data, done))
        self._submitted += 1
        self._unsettled[name] = self._unsettled.get(name, 0) + 1
        if len(self._queue) >= self._max:
            self._full.set()
        return done

    async def flush(self) -> None:
        """Wait until every update submitted so far is committed; raise
        ``StoreError`` if any of those not yet committed when called failed."""
        if self._settled == self._submitted:
            return
        waiter = _Flush(self._submitted, asyncio.get_running_loop().create_future())
        self._flushes.append(waiter)
        await waiter.done

    async def settled(self, name: str) -> None:
        """Wait until every update submitted so far for ``name`` has committed or
        failed, so a read that follows sees this process's own writes (it waits
        for the whole flush only when ``name`` has updates in it)."""
        if name in self._unsettled:
            with contextlib.suppress(StoreError):  # a failure reached its submitter
                await self.flush()

    async def _run(self) -> None:
        while True:
            await self._arrived.wait()
            await self._window()
            batch, self._queue = self._queue[: self._max], self._queue[self._max :]
            if len(self._queue) < self._max:
                self._full.clear()
            if not self._queue:
                self._arrived.clear()
            await self._commit_batch(batch)

    async def _window(self) -> None:
        if self._delay <= 0 or len(self._queue) >= self._max:
            return
        try:
            async with asyncio.timeout_at(self._first_at + self._delay):
                await self._full.wait()
        except TimeoutError:
            pass  # the window closed: commit what arrived

    async def _commit_batch(self, batch: list[Pending]) -> None:
        try:
            await self._commit(batch)
        except asyncio.CancelledError:
            self._settle(batch, StoreError("the store closed before this update committed"))
            raise
        except Exception as exc:  # every failure goes to each submitter, none is dropped
            error = exc if isinstance(exc, StoreError) else _wrap(exc)
            documents = sorted({p.name for p in batch})[:10]
            extra = {"updates": len(batch), "documents": documents, "error": str(exc)}
            log.error("store commit failed", extra=extra, exc_info=exc)
            self._settle(batch, error)
        else:
            self.commits += 1
            self._settle(batch, None)

    def _settle(self, batch: list[Pending], error: BaseException | None) -> None:
        for item in batch:
            left = self._unsettled.pop(item.name) - 1
            if left:
                self._unsettled[item.name] = left
            if item.done.done():
                continue  # the submitter gave up waiting (cancelled)
            if error is None:
                item.done.set_result(None)
            else:
                item.done.set_exception(error)
        self._settled += len(batch)
        self._wake_flushes(error)

    def _wake_flushes(self, error: BaseException | None) -> None:
        waiting = []
        for waiter in self._flushes:
            # Every batch settled while a flush waits holds some of its updates.
            waiter.error = waiter.error or error
            if self._settled < waiter.target:
                waiting.append(waiter)
            elif waiter.done.done():
                continue
            elif waiter.error is None:
                waiter.done.set_result(None)
            else:
                waiter.done.set_exception(_wrap(waiter.error, "an update did not commit"))
        self._flushes = waiting

    async def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        # Only reachable if a flush was interrupted: nobody may wait forever.
        leftover, self._queue = self._queue, []
        self._settle(leftover, StoreError("the store closed before this update committed"))


def _wrap(exc: BaseException, what: str = "commit failed") -> StoreError:
    error = StoreError(f"{what}: {exc}")
    error.__cause__ = exc
    return error
