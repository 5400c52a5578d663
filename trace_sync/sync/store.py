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
