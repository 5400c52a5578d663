"""One open document of the app: its :class:`pycrdt.Doc`, always readable, and its
link to the server; and what its listeners hear when it changes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pycrdt import Doc

from trace_sync.client.reconnect import LinkState
from trace_sync.client.sync_client import SyncClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """What changed: ``root`` of ``document`` with pycrdt's ``events`` (deltas, keys);
    ``root`` is ``None`` when the change is not one root's (the link, presence, or a
    document without a layout)."""

    document: str
    root: str | None = None
    events: tuple[Any, ...] = ()


Listener = Callable[[Change], None]


@dataclass
class LocalReplica:
    """One open document: ``doc`` (always readable) and its link to the server."""

    name: str
    doc: Doc[Any]
    client: SyncClient | None = None
    listeners: list[Listener] = field(default_factory=list)
    #: The layout's root types, got once: ``doc.get`` cannot run inside an observer.
    roots: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> LinkState:
        return self.client.state if self.client is not None else LinkState.OFFLINE

    @property
    def peers(self) -> dict[int, Any]:
        return self.client.peers if self.client is not None else {}

    @property
    def close_code(self) -> int | None:
        """How the server closed the last connection (``None`` while connected)."""
        return self.client.close_code if self.client is not None else None

    async def wait_synced(self, timeout: float = 10.0) -> None:
        """Wait until the replica holds what the server has (at once if kept local)."""
        if self.client is not None:
            await self.client.wait_synced(timeout)

    def set_presence(self, state: dict[str, Any] | None) -> None:
        if self.client is not None:
            self.client.set_presence(state)

    def tell(self, change: Change) -> None:
        for listener in list(self.listeners):
            try:
                listener(change)
            except Exception:  # one tab's failure must not stop the others' (or the sync)
                log.exception("a replica's listener failed", extra={"doc": self.name})
