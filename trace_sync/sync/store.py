"""What the sync endpoint needs from persistence (the store's UpdateLog provides it)."""

from __future__ import annotations

import asyncio
from typing import Protocol


class DocumentStore(Protocol):
    async def load(self, name: str) -> list[bytes]:
        """The document's stored updates (snapshot first); ``[]`` if never written."""
        ...

    def submit(self, name: str, update: bytes) -> asyncio.Future[None]:
        """Queue ``update`` for a group commit; the future resolves once committed."""
        ...


class Replication(Protocol):
    """Carries committed updates to the other server processes (cluster mode:
    ``trace_sync.cluster.documents``); a single process has none."""

    async def mark(self, name: str) -> str:
        """Where to follow ``name``'s updates from; taken before the room loads."""
        ...

    def follow(self, room: Replica, since: str) -> None:
        """Apply other processes' updates to ``room`` from ``since`` on."""
        ...

    def unfollow(self, name: str) -> None: ...

    def committed(self, name: str, update: bytes) -> None:
        """``update`` of ``name`` is in the update log: tell the other processes."""
        ...


class Replica(Protocol):
    """What replication needs of a loaded room (``sync.room.Room``)."""

    name: str

    def apply_remote(self, update: bytes) -> None:
        """Apply an update another process stored: broadcast, never store again."""
        ...

    async def reload(self) -> None:
        """Apply what the store holds now (after updates may have been missed)."""
        ...
