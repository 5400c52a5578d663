"""Commands given to the server, kept until it answers (also across restarts).

Every command (pause, approve, send a prompt, ...) goes through the outbox:
it is written to a local document first — so it shows as *pending* at once
and survives a restart — then sent in order, each with its own idempotency
key, so a command retried after a lost reply runs once. When the server
cannot be reached the outbox waits (backoff, or a :meth:`Outbox.wake` when a
link comes back) and sends again; when the server refuses a command it is
kept as *failed* with the server's message until the person dismisses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal

from pycrdt import Doc, Map

from trace_sync.client.api import ApiClient, Unreachable, new_key
from trace_sync.client.reconnect import Backoff
from trace_sync.contract.errors import RateLimited, StoreError, TraceError

log = logging.getLogger(__name__)

ORIGIN = "trace-app-outbox"
#: Refusals that say "not now" rather than "no": the command is sent again later.
TRANSIENT = (Unreachable, RateLimited, StoreError)

Status = Literal["pending", "failed"]


@dataclass(frozen=True)
class QueuedCommand:
    id: str
    seq: int
    method: str
    path: str
    label: str
    key: str
    at: str
    body: dict[str, Any] | None = None
    #: What the command is about (a session id), so a view can show its own.
    scope: str | None = None
    status: Status = "pending"
    error: str | None = None

    @classmethod
    def of(cls, value: dict[str, Any]) -> QueuedCommand:
        fields = {k: v for k, v in value.items() if k in cls.__dataclass_fields__}
        return cls(**fields | {"seq": int(value["seq"])})


Done = Callable[[QueuedCommand, Any], None]


class Outbox:
    """``async with Outbox(api, doc)``: ``doc`` is the local document that keeps the commands."""

    def __init__(
        self,
        api: ApiClient,
        doc: Doc[Any],
        *,
        on_done: Done | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self._api = api
        self._doc = doc
        self._on_done = on_done
        self._backoff = backoff or Backoff(first=0.5, longest=15.0)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: False after the server could not be reached, True once it answered.
        self.reachable: bool | None = None

    async def __aenter__(self) -> Outbox:
        self._task = asyncio.create_task(self._run(), name="outbox")
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def _box(self) -> Map[Any]:
        box: Map[Any] = self._doc.get("outbox", type=Map)
        return box

    def commands(self) -> list[QueuedCommand]:
        """Every command not yet done, oldest first."""
        return sorted((QueuedCommand.of(dict(v)) for v in self._box.values()), key=lambda c: c.seq)

    def submit(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        label: str,
        scope: str | None = None,
    ) -> QueuedCommand:
        """Queue a command (shown as pending at once) and send it as soon as possible."""
        seq = max((c.seq for c in self.commands()), default=0) + 1
        at = datetime.now(UTC).isoformat()
        key = new_key()
        command = QueuedCommand(key, seq, method, path, label, key, at, body, scope)
        self._write(command)
        self.wake()
        return command

    def dismiss(self, command_id: str) -> None:
        """Forget a failed command."""
        with self._doc.transaction(origin=ORIGIN):
            if command_id in self._box:
                del self._box[command_id]

    def wake(self) -> None:
        """Try sending now (a link came back, or a command was queued)."""
        self._wake.set()

    async def drained(self, timeout: float = 10.0) -> None:
        """Wait until no command is pending (failed ones stay)."""
        async with asyncio.timeout(timeout):
            while any(c.status == "pending" for c in self.commands()):
                self._wake.set()
                await asyncio.sleep(0.02)

    # -- sending -------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            if await self._send_pending():
                attempt = 0
                continue
            # Unreachable: wait for a wake-up or the next backoff step, whichever comes first.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._backoff.delay(attempt))
            attempt += 1
            self._wake.set()

    async def _send_pending(self) -> bool:
        """Send pending commands in order; False if the server could not be reached."""
        while pending := [c for c in self.commands() if c.status == "pending"]:
            command = pending[0]
            try:
                result = await self._api.call(
                    command.method, command.path, command.body, key=command.key
                )
            except TRANSIENT as exc:
                self.reachable = False
                log.info("command waits for the server", extra={"command": command.label})
                if not isinstance(exc, Unreachable):
                    self.reachable = True
                return False
            except TraceError as exc:
                self.reachable = True
                self._write(_replace(command, status="failed", error=str(exc)))
                continue
            self.reachable = True
            self.dismiss(command.id)
            if self._on_done is not None:
                self._on_done(command, result)
        return True

    def _write(self, command: QueuedCommand) -> None:
        with self._doc.transaction(origin=ORIGIN):
            self._box[command.id] = {k: v for k, v in vars(command).items() if v is not None}


def _replace(command: QueuedCommand, **changes: Any) -> QueuedCommand:
    return QueuedCommand.of(vars(command) | changes)
